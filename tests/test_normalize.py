"""Text normalisation: NFKC, case folding, invisible characters and lookalike letters.

Keywords and messages go through the same normalisation, so every disguise a spammer uses on
`free` still hits a `free` keyword, and Russian text keeps matching Russian keywords.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.normalize import is_disguised, normalize, skeleton, strip_invisible
from rules.terms import TermIndex
from tests.helpers import matched, message, one_rule

FREE = one_rule({"keywords": ["free"]})
SCAM_RU = one_rule({"keywords": ["заработок", "без вложений"]})


# -- normalize() ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＦＲＥＥ ｃｒｙｐｔｏ", "free crypto"),
        ("fr\u200bee", "free"),
        ("f\u00adr\u2060e\ufeffe", "free"),
        ("𝐟𝐫𝐞𝐞", "free"),
        ("𝐅𝐑𝐄𝐄", "free"),
        ("FrEe", "free"),
        ("  free \t\n crypto  ", "free crypto"),
        ("ﬁnance", "finance"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("ЗАРАБОТОК", "заработок"),
        ("frее", "frее"),  # lookalikes survive normalize(); skeleton() maps them
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_skeleton_maps_lookalikes_to_latin() -> None:
    assert skeleton("frее") == "free"  # Cyrillic е
    assert skeleton("frεε") == "free"  # Greek ε
    assert skeleton("сlаss") == "class"  # Cyrillic с and а


def test_is_disguised_only_when_latin_sits_beside_lookalikes() -> None:
    assert is_disguised("frее") is True
    assert is_disguised("free") is False
    assert is_disguised("привет мир") is False
    assert is_disguised("") is False


def test_strip_invisible_keeps_everything_else() -> None:
    assert strip_invisible("A\u200bB\u200dC D") == "ABC D"


# -- through the engine: keywords ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ＦＲＥＥ ｃｒｙｐｔｏ",
        "fr\u200bee",
        "frее",  # Cyrillic е twice
        "frεε money",  # Greek ε
        "𝐟𝐫𝐞𝐞",
        "𝐅𝐑𝐄𝐄 𝐌𝐎𝐍𝐄𝐘",
        "FREE",
        "getFREEnow",
        "totally\u2063free",
    ],
)
def test_disguised_free_matches_free_keyword(text: str) -> None:
    assert matched(FREE, message(text)) is True


@pytest.mark.parametrize("text", ["fee", "fr ee", "frе", "tree", ""])
def test_other_text_does_not_match_free(text: str) -> None:
    assert matched(FREE, message(text)) is False


def test_keyword_written_with_lookalikes_matches_plain_text() -> None:
    ruleset = one_rule({"keywords": ["frее"]})  # the admin pasted a Cyrillic е

    assert matched(ruleset, message("free stuff")) is True


def test_multi_word_keyword_sees_through_fullwidth_and_spacing() -> None:
    ruleset = one_rule({"keywords": ["free crypto"]})

    assert matched(ruleset, message("ＦＲＥＥ ｃｒｙｐｔｏ")) is True
    assert matched(ruleset, message("free \n\t crypto")) is True
    assert matched(ruleset, message("free bitcoin")) is False


@pytest.mark.parametrize(
    "text",
    [
        "Лёгкий ЗАРАБОТОК для всех",
        "заработок без вложений",
        "работа БЕЗ ВЛОЖЕНИЙ",
        "Hello, заработок here",  # mixed with Latin text
    ],
)
def test_russian_text_matches_russian_keywords(text: str) -> None:
    assert matched(SCAM_RU, message(text)) is True


@pytest.mark.parametrize(
    "text",
    [
        "зaработок",  # Latin a
        "зарaбoтoк",  # Latin a and o
        "ЗАРАБОТOК",  # Latin O among capitals
        "без влoжений",  # Latin o inside a phrase
        "легкий зaрабoтoк!",
    ],
)
def test_russian_word_disguised_with_latin_letters_matches(text: str) -> None:
    assert matched(SCAM_RU, message(text)) is True


@pytest.mark.parametrize("text", ["работа на дому", "заработная плата", "hello world"])
def test_russian_text_without_keywords_does_not_match(text: str) -> None:
    assert matched(SCAM_RU, message(text)) is False


def test_russian_whole_words() -> None:
    ruleset = one_rule({"words": ["лох"]})

    assert matched(ruleset, message("Ты ЛОХ!")) is True
    assert matched(ruleset, message("ты лoх")) is True  # Latin o
    assert matched(ruleset, message("блоха")) is False


def test_greek_text_matches_greek_keywords() -> None:
    ruleset = one_rule({"keywords": ["δωρεάν"]})

    assert matched(ruleset, message("ΔΩΡΕΆΝ bitcoin")) is True


# -- properties --------------------------------------------------------------------------------

# Lookalikes that really look like the Latin letter.
CYRILLIC_TWIN = {
    "a": "а",
    "c": "с",
    "e": "е",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",
    "i": "і",
    "s": "ѕ",
    "j": "ј",
    "h": "һ",
    "d": "ԁ",
    "w": "ԝ",
    "q": "ԛ",
}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
KEYWORDS = ["free", "crypto", "casino", "airdrop", "dm me", "earn money", "whatsapp"]


def _fullwidth(char: str) -> str:
    return chr(ord(char) + 0xFEE0) if char != " " else "\u3000"


def _math_bold(char: str) -> str:
    if char.islower():
        return chr(0x1D41A + ord(char) - ord("a"))
    return char


@st.composite
def disguised(draw: st.DrawFn, word: str) -> str:
    """`word` with each letter disguised in one of several ways, keeping one plain Latin letter."""
    plain_at = draw(st.sampled_from([i for i, c in enumerate(word) if c.isalpha()]))
    out = []
    for i, char in enumerate(word):
        ways = ["plain", "upper", "fullwidth", "bold"] if char != " " else ["plain", "fullwidth"]
        if char in CYRILLIC_TWIN and i != plain_at:
            ways.append("cyrillic")
        way = draw(st.sampled_from(ways))
        if i == plain_at and way != "upper":
            way = "plain"
        shown = {
            "plain": char,
            "upper": char.upper(),
            "fullwidth": _fullwidth(char),
            "bold": _math_bold(char),
            "cyrillic": CYRILLIC_TWIN.get(char, char),
        }[way]
        out.append(shown)
        if i < len(word) - 1 and draw(st.booleans()):
            out.append(draw(st.sampled_from(INVISIBLE)))
    return "".join(out)


KEYWORD_RULES = one_rule({"keywords": KEYWORDS})


@given(
    data=st.data(),
    word=st.sampled_from(KEYWORDS),
    before=st.text(alphabet="abc xyz.,!?123", max_size=20),
    after=st.text(alphabet="abc xyz.,!?123", max_size=20),
)
def test_any_disguise_of_a_keyword_still_matches(
    data: st.DataObject, word: str, before: str, after: str
) -> None:
    text = before + " " + data.draw(disguised(word)) + " " + after

    assert matched(KEYWORD_RULES, message(text)) is True


RUSSIAN = ["заработок", "бесплатно", "криптовалюта", "пиши в лс"]
LATIN_TWIN = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x"}
RUSSIAN_RULES = one_rule({"keywords": RUSSIAN})


@given(
    data=st.data(),
    word=st.sampled_from(RUSSIAN),
    upper=st.booleans(),
    context=st.sampled_from(["", "привет", "hello", "Смотри:", "look!"]),
)
def test_russian_keyword_matches_in_any_case_and_with_latin_twins(
    data: st.DataObject, word: str, upper: bool, context: str
) -> None:
    positions = [i for i, c in enumerate(word) if c in LATIN_TWIN]
    swapped = data.draw(st.sets(st.sampled_from(positions), max_size=len(positions)))
    text = "".join(LATIN_TWIN[c] if i in swapped else c for i, c in enumerate(word))
    if upper:
        text = text.upper()

    assert matched(RUSSIAN_RULES, message(f"{context} {text}")) is True


@given(text=st.text(max_size=60))
def test_normalize_drops_invisible_characters_and_edge_spaces(text: str) -> None:
    result = normalize(text)

    assert result == result.strip()
    assert "  " not in result
    assert not any(c in result for c in INVISIBLE)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("3apa6oтoк", "заработок"),  # digits for з and б, Latin a/p/o
        ("зараб0ток", "заработок"),  # a zero for о in otherwise Cyrillic text
        ("Пᴏддᴇᴧьнᴀя ʙᴀᴧюᴛᴀ", "поддельная валюта"),  # small capitals
        ("Óбyчeниe", "обучение"),  # accented and Latin twins
        ("нaбuрaю", "набираю"),  # Latin u for и
    ],
)
def test_russian_disguises_match_the_russian_keyword(text: str, keyword: str) -> None:
    index = TermIndex()
    set_id = index.add_set([keyword], whole_words=False)
    index.build()
    plain = normalize(text)
    scanned = skeleton(plain) if is_disguised(plain) else plain

    assert set_id in index.scan(scanned)


def test_plain_russian_text_is_not_remapped() -> None:
    assert is_disguised(normalize("Привет, как дела?")) is False
