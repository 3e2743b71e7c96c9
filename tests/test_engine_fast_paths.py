"""The engine's shortcuts give the answers of the plain computations they stand in for.

`bench/engine.py` drove these optimisations (an RE2 set before the automaton, a link prefilter,
evidence built only for conditions that hold …). Each test checks one shortcut against the
obvious version, on the benchmark corpora and on generated text, so that speed never changes
a verdict.
"""

from __future__ import annotations

import unicodedata
from array import array
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import re2
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.facts import NO_CHAT_FACTS, MemberFacts
from rules import LIBRARY
from rules.compiler import Compiled, ConditionCompiler, _compare
from rules.context import Context, RegexSets, fingerprint
from rules.normalize import (
    _INVISIBLE,
    _SKELETON,
    is_disguised,
    normalize,
    skeleton,
    strip_invisible,
)
from rules.schema import Compare, ListFile, RuleFile
from rules.terms import TermIndex, _re2_word_class
from rules.textfeatures import (
    _BARE,
    _EXPLICIT,
    Link,
    _trim,
    find_links,
    is_word_char,
    parse_link,
)
from rules.tlds import AMBIGUOUS, KNOWN_TLDS
from rules.yamlsource import SourceText, parse_yaml
from tests.helpers import CORPORA, T0, earlier, member, message

SETTINGS = settings(max_examples=300, deadline=None)


def corpus_texts() -> list[str]:
    texts = []
    for line in (CORPORA / "SMSSpamCollection.tsv").read_text(encoding="utf-8").splitlines():
        texts.append(line.partition("\t")[2])
    for name in ("spam-samples.txt", "ham-samples.txt"):
        texts.extend((CORPORA / name).read_text(encoding="utf-8").splitlines())
    return [t for t in texts if t.strip()]


CORPUS = corpus_texts()


def every_code_point() -> str:
    """Every character but the surrogates, which UTF-8 (and so RE2) cannot carry."""
    codes = array("I", [*range(0xD800), *range(0xE000, 0x110000)])
    return codes.tobytes().decode("utf-32-le")


# -- keyword sets: RE2 answers which sets, the automaton where ----------------------------------

KEYWORDS = {
    "plain": (["free", "dm me", "$", "日赚", "заработок", "a_b", "ß"], False),
    "words": (["u", "ur", "earn money", "сука", "傻逼", "x1", "ǅ", "½"], True),
    "edges": (["$5", "+1", "-ok-", "t.me"], True),
}
PIECES = [
    *(k for terms, _ in KEYWORDS.values() for k in terms),
    "you",
    "free",
    "frее",  # Cyrillic е
    "3apa6oтoк",
    "money",
    "Привет",
]
GLUE = [" ", "", "_", "-", ".", "é", "ж", "1", "a", "日", "$", "'", "²", "٣", "\u0301", "ก", "〇"]


def keyword_index() -> TermIndex:
    index = TermIndex()
    for terms, whole in KEYWORDS.values():
        index.add_set(terms, whole_words=whole)
    index.build()
    return index


def scanned(text: str) -> str:
    """What `Context.scan_text` matches keywords against."""
    norm = normalize(text)
    return skeleton(norm) if norm and not norm.isascii() and is_disguised(norm) else norm


@SETTINGS
@given(st.lists(st.sampled_from(PIECES + GLUE), max_size=12))
def test_hit_sets_are_the_sets_the_automaton_finds(pieces: list[str]) -> None:
    index = keyword_index()
    text = scanned("".join(pieces))

    assert index.hit_sets(text) == frozenset(index.scan(text))


def test_hit_sets_agree_with_the_automaton_on_the_corpora() -> None:
    index = keyword_index()
    for text in CORPUS:
        scan = scanned(text)
        assert index.hit_sets(scan) == frozenset(index.scan(scan)), text


def assert_first_hits_are_true_hits(index: TermIndex, text: str) -> None:
    """`first_hit` finds a hit exactly for the sets `scan` finds, and each is a real keyword
    standing where it says, with whole-word edges respected."""
    scan = index.scan(text)
    for set_id in range(index.sets):
        hit = index.first_hit(set_id, text)
        assert (hit is None) == (set_id not in scan), (text, set_id)
        if hit is None:
            continue
        found = text[hit.start : hit.end]
        assert set_id in index.scan(found), (text, found)
        assert hit.start <= scan[set_id].start, (text, found)


@SETTINGS
@given(st.lists(st.sampled_from(PIECES + GLUE), max_size=12))
def test_first_hit_is_a_hit_the_automaton_finds(pieces: list[str]) -> None:
    assert_first_hits_are_true_hits(keyword_index(), scanned("".join(pieces)))


def test_first_hit_agrees_with_the_automaton_on_the_corpora() -> None:
    index = keyword_index()
    for text in CORPUS:
        assert_first_hits_are_true_hits(index, scanned(text))


def test_whole_word_class_is_is_word_char() -> None:
    every = every_code_point()
    words = "".join(c if is_word_char(c) else " " for c in every).split()
    assert re2.findall(f"[{_re2_word_class()}]+", every) == words


# -- normalisation ----------------------------------------------------------------------------


@SETTINGS
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_normalize_ascii_shortcut(text: str) -> None:
    assert normalize(text) == " ".join(text.lower().split())


@SETTINGS
@given(st.text(alphabet=st.sampled_from([*_INVISIBLE, "a", " ", "ж", "日", "\U0001f600"])))
def test_strip_invisible_removes_exactly_the_invisible_characters(text: str) -> None:
    assert strip_invisible(text) == "".join(c for c in text if c not in _INVISIBLE)


def test_skeleton_table_maps_like_the_dict() -> None:
    every = every_code_point()
    assert skeleton(every) == every.translate(_SKELETON)


# -- links ------------------------------------------------------------------------------------


def reference_find_links(text: str) -> list[Link]:
    """`find_links` without its shortcuts: both patterns over the whole displayed text."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", strip_invisible(text))
    if "." not in text:
        return []
    found: list[Link] = []
    taken: list[tuple[int, int]] = []
    for match in _EXPLICIT.finditer(text):
        url = _trim(match.group(0))
        link = parse_link(url)
        if link is not None:
            found.append(link)
            taken.append((match.start(), match.start() + len(url)))
    for match in _BARE.finditer(text):
        if any(start <= match.start() < end for start, end in taken):
            continue
        tld = match["tld"].lower()
        rest = _trim(match["rest"] or "")
        if not tld.startswith("xn--") and tld not in KNOWN_TLDS:
            continue
        if tld in AMBIGUOUS and len(rest) < 2:
            continue
        link = parse_link(match["host"] + (match["port"] or "") + rest)
        if link is not None:
            found.append(link)
    return found


LINK_PIECES = [
    *["www", "WWW", "Ww", ".", "..", "com", "COM", "me", "t", "://", "http", "HTTPS", "ftp"],
    *["x", "1", "-", "/", "+", "XN--", "xn--p1ai", "ru", "рф", " ", "\n", "\t", "\u2003", "a"],
    *["b2", "?", "#", ":80", "co", "it", "io", "py", "\u200b", "．", "ｃｏｍ", "@", "_"],
    *["localhost", "(", ")", "'", '"', "<", ">", "»"],
]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(LINK_PIECES), max_size=12))
def test_find_links_shortcuts_change_nothing(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert find_links(text) == reference_find_links(text)


@pytest.mark.parametrize(
    "text",
    [
        "www.1x.y1",  # found only through the www. fallback of the prefilter
        "see WWW.-a.9 now.",
        "http://localhost and then.",
        "ftp://1.2.3.4/x.",
        "t.me/+abc",
        "ｔ.ｍｅ/+abc",
        "t.me\u200b/+abc",
        "end.It",
        "go.to/x",
        "a.XN--p1ai",
        "(see x.com/a).",
    ],
)
def test_find_links_shortcuts_change_nothing_on_edge_cases(text: str) -> None:
    assert find_links(text) == reference_find_links(text)


def test_find_links_shortcuts_change_nothing_on_the_corpora() -> None:
    for text in CORPUS:
        assert find_links(text) == reference_find_links(text), text


def link_hint_set() -> RegexSets:
    regexes = RegexSets()
    regexes.build()
    return regexes


def assert_link_hint_holds(regexes: RegexSets, text: str) -> None:
    """Wherever `find_links` finds a link, the hint of the regex pass on the normalised text
    says there may be one (it is what lets the rules skip looking)."""
    if find_links(text):
        assert regexes.scan_normalized(normalize(text))[1], text


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*LINK_PIECES, "İ", "ǅ", "ß", "Ⅻ", "́", "ͅ", "Ꮿ", "msg", "comx", "рфы", "МЕ", "Ⓜ", "²"]
        ),
        max_size=12,
    )
)
@example(["x", ".", "İ", "o"])
def test_link_hint_is_necessary_for_links(pieces: list[str]) -> None:
    assert_link_hint_holds(link_hint_set(), "".join(pieces))


def test_link_hint_is_necessary_for_links_on_the_corpora() -> None:
    regexes = link_hint_set()
    hinted = 0
    for text in CORPUS:
        assert_link_hint_holds(regexes, text)
        hinted += regexes.scan_normalized(normalize(text))[1]
    assert hinted < len(CORPUS) / 5  # and it is rare enough to be worth asking


TOGETHER_REGEXES = [
    r"\+?\d[\d ().-]{8,}\d",
    r"\b(?:win|won|claim)\b.{0,30}\b(?:prize|cash|reward)\b",
    r"заработ[а-яё]*.{0,30}(?:\d+\s*(?:руб|\$)|в день)",
    r"[!?]{5,}",
    r"^\s*$",
]


def together_sets() -> tuple[TermIndex, RegexSets]:
    index = keyword_index()
    regexes = RegexSets()
    for pattern in TOGETHER_REGEXES:
        regexes.add(pattern, raw=False)
    regexes.build(index)
    assert regexes.together
    return index, regexes


def assert_together_answers_like_apart(index: TermIndex, regexes: RegexSets, text: str) -> None:
    norm = normalize(text)
    together = regexes.scan_together(norm)
    assert together is not None
    assert together == (index.hit_sets(norm), *regexes.scan_normalized(norm)), text


@SETTINGS
@given(st.lists(st.sampled_from([*PIECES, *GLUE, "win a prize", "99999999999", "!!!!!"])))
def test_one_pass_answers_like_the_separate_passes(pieces: list[str]) -> None:
    assert_together_answers_like_apart(*together_sets(), "".join(pieces))


def test_one_pass_answers_like_the_separate_passes_on_the_corpora() -> None:
    index, regexes = together_sets()
    for text in CORPUS:
        assert_together_answers_like_apart(index, regexes, text)


def test_contexts_use_the_one_pass_only_for_text_without_lookalikes() -> None:
    # The engine may be compiled (setup.py), whose classes cannot be patched to count calls:
    # ask a fresh context whether it would take the one pass, then check what it answers.
    index, regexes = together_sets()
    for text, expected in (("free money now", True), ("frее money", False)):  # Cyrillic е
        ctx = Context(message(text), member(), NO_CHAT_FACTS, T0, index, regexes)
        assert (ctx._scan_together() is not None) is expected, text
        ctx = Context(message(text), member(), NO_CHAT_FACTS, T0, index, regexes)
        assert ctx.term_sets == index.hit_sets(scanned(text))
        assert ctx.regex_hits == regexes.match_normalized(normalize(text))


# -- compiled conditions ------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [0, 1, 2.5, 3])
@pytest.mark.parametrize("key", ["gt", "gte", "lt", "lte", "eq"])
def test_specialised_comparisons_compare_like_compare_test(key: str, bound: float) -> None:
    compare = Compare.model_validate({key: bound})
    fast = _compare(compare)
    for value in (-1, 0, 0.5, 1, 2, 2.5, 3, 10, float("inf"), float("nan")):
        assert fast(value) == compare.test(value)


def library_conditions() -> tuple[list[Compiled], TermIndex, RegexSets]:
    """Every `when` and `unless` of the stock library, compiled the way the loader does."""
    index, regexes = TermIndex(), RegexSets()
    models = []
    for path in sorted(LIBRARY.glob("*.yaml")):
        doc = parse_yaml(SourceText(str(path), path.read_text(encoding="utf-8")))
        models.append(RuleFile.model_validate(doc.data))
    lists: dict[str, list[str]] = {}
    for model in models:
        for name, value in model.lists.items():
            if isinstance(value, ListFile):
                lines = Path(LIBRARY, value.file).read_text(encoding="utf-8").splitlines()
                lists[name] = [x.strip() for x in lines if x.strip() and not x.startswith("#")]
            else:
                lists[name] = list(value)
    compiler = ConditionCompiler(lists, index, regexes)
    compiled = []
    for model in models:
        for rule in model.rules:
            for conditions in (rule.when, rule.unless):
                if conditions is not None:
                    compiled.append(compiler.compile(conditions, ()))
    assert not compiler.problems
    index.build()
    regexes.build()
    return compiled, index, regexes


def members(text: str) -> Iterator[MemberFacts]:
    yield member()
    yield member(level=3, joined_days_ago=0.5, messages=0)
    yield member(joined_days_ago=10, messages=3, admin=True)
    yield member(recent=[earlier(text, ago=timedelta(seconds=s)) for s in range(1, 9)])


def test_compiled_tests_answer_like_their_checks() -> None:
    compiled, index, regexes = library_conditions()
    for text in CORPUS[::7]:
        event = message(text, mentions=("a", "b") if "@" in text else ())
        for facts in members(text):
            ctx = Context(event, facts, NO_CHAT_FACTS, T0, index, regexes)
            for condition in compiled:
                assert condition.test(ctx) == (condition.check(ctx) is not None), text


# -- regex evidence ---------------------------------------------------------------------------

EXCERPT_PATTERNS = [r"\d{3,}", r"[а-я]+\s\d", r"(?i)free\s+\w+", r"é+", r"b\b", r"\x{1F600}"]


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("ab 12345éЖжfreeFREE\U0001f600")), max_size=30))
def test_regex_excerpts_are_what_the_wrapper_finds(text: str) -> None:
    regexes = RegexSets()
    ids = [regexes.add(p, raw=True) for p in EXCERPT_PATTERNS]
    regexes.build()
    for pattern, index in zip(EXCERPT_PATTERNS, ids, strict=True):
        match = re2.search(pattern, text)
        expected = str(match.group(0))[:80] if match else ""
        assert regexes.excerpt(index, text, raw=True) == expected


# -- repeated text --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40),
    st.lists(st.tuples(st.sampled_from(["", "a", "ab", "spam spam", "ba"]), st.integers(0, 900))),
)
def test_repeats_within_counts_like_comparing_every_fingerprint(
    text: str, history: list[tuple[str, int]]
) -> None:
    recent = tuple(earlier(t or text, ago=timedelta(seconds=s)) for t, s in history)
    ctx = Context(message(text), member(recent=recent), NO_CHAT_FACTS, T0, TermIndex(), RegexSets())
    mark = fingerprint(normalize(text))
    expected = 1 + sum(
        1 for r in recent if r.fingerprint == mark and T0 - timedelta(minutes=10) <= r.at <= T0
    )
    assert ctx.repeats_within(timedelta(minutes=10)) == expected
    assert 0 <= mark < 2**63
