"""Text normalisation shared by keyword lists and messages.

Spammers dodge filters with fullwidth letters (ＦＲＥＥ), mathematical alphabets (𝐟𝐫𝐞𝐞), zero-width
characters (fr\u200bee), and Cyrillic or Greek lookalikes (frее with Cyrillic е). Keywords and
message text go through the same `normalize`; lookalikes are handled by indexing each keyword
both as written and as its Latin "skeleton", and by scanning a message's skeleton only when it
mixes Latin letters with lookalikes. The mapping never needs to be "right", only consistent.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that render as nothing and are used to split words invisibly.
_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
_INVISIBLE += "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u206a\u206b\u206c"
_INVISIBLE += "\u206d\u206e\u206f\u3164\ufe00\ufe01\ufe02\ufe03\ufe0e\ufe0f\ufeff\uffa0"

# Lowercase lookalikes (after case folding) mapped to the ASCII character they imitate. Every
# mapping is one character to one, so positions in a skeleton match positions in the text.
_CONFUSABLE_PAIRS = {
    # Cyrillic, including the digit disguises Russian spam uses (3apa6oтoк)
    "а": "a",
    "б": "6",
    "в": "b",
    "г": "r",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "з": "3",
    "и": "u",
    "й": "u",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "н": "h",
    "о": "o",
    "п": "n",
    "р": "p",
    "с": "c",
    "ԛ": "q",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "ԝ": "w",
    "х": "x",
    "ч": "4",
    "ш": "w",
    "ь": "b",
    "ъ": "b",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    # Latin look-alikes outside ASCII: dotless i, script g, accented vowels
    "ı": "i",
    "ɡ": "g",
    "ɑ": "a",
    "ℓ": "l",
    "á": "a",
    "à": "a",
    "â": "a",
    "ä": "a",
    "ã": "a",
    "é": "e",
    "è": "e",
    "ê": "e",
    "ë": "e",
    "í": "i",
    "ì": "i",
    "î": "i",
    "ï": "i",
    "ó": "o",
    "ò": "o",
    "ô": "o",
    "ö": "o",
    "õ": "o",
    "ú": "u",
    "ù": "u",
    "û": "u",
    "ü": "u",
    "ý": "y",
    "ÿ": "y",
    "ç": "c",
    "ñ": "n",
    "0": "o",
}
# Small capitals and similar letters that ordinary text never contains: their presence alone
# means the text is disguised ("Пᴏддᴇᴧьнᴀя ʙᴀᴧюᴛᴀ").
_EXOTIC_PAIRS = {
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ʀ": "r",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    "ᴨ": "n",
    "ᴧ": "л",
}

_SKELETON: dict[int, str | None] = {
    ord(k): v for k, v in (_CONFUSABLE_PAIRS | _EXOTIC_PAIRS).items()
}


def _skeleton_table() -> list[str]:
    """`_SKELETON` as a list indexed by code point, up to the last lookalike.

    `str.translate` with a dict raises and swallows a KeyError for every character the dict
    lacks (nearly all of a Russian message); the list answers those without one, in about half
    the time. Characters beyond it are left alone, as the dict leaves them.
    """
    table = [chr(code) for code in range(max(_SKELETON) + 1)]
    for code, latin in _SKELETON.items():
        table[code] = latin or ""
    return table


_SKELETON_TABLE = _skeleton_table()
_HAS_INVISIBLE = re.compile("[" + _INVISIBLE + "]")
_HAS_LATIN_OR_DIGIT = re.compile("[a-z0-9]")
_HAS_CONFUSABLE = re.compile("[" + "".join(k for k in _CONFUSABLE_PAIRS if not k.isascii()) + "]")
_HAS_EXOTIC = re.compile("[" + "".join(_EXOTIC_PAIRS) + "]")


def normalize(text: str) -> str:
    """NFKC, case-fold, drop invisible characters and collapse white space.

    Fast for ASCII, which is most chat text; the other steps run only when they can change
    something, because this runs on every message.
    """
    if text.isascii():
        lowered = text.lower()
        # Printable ASCII has no white space but " ": with no doubled, leading or trailing one
        # there is nothing to collapse, and splitting into words would only copy the text.
        plain = lowered.isprintable() and "  " not in lowered
        if plain and lowered[:1] != " " and lowered[-1:] != " ":
            return lowered
        return " ".join(lowered.split())
    text = strip_invisible(text)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def skeleton(normalized: str) -> str:
    """Map lookalike letters to the Latin letter they imitate (`frее` with Cyrillic е → `free`)."""
    return normalized.translate(_SKELETON_TABLE)


def is_disguised(normalized: str) -> bool:
    """True when a skeleton is needed: Latin letters or digits beside lookalikes, or exotic
    letters such as small capitals.

    Pure Cyrillic or Greek text is left alone (it matches keywords written in its own script),
    which keeps Russian chats from paying for a character-by-character mapping on most messages.
    """
    if _HAS_EXOTIC.search(normalized):
        return True
    return bool(_HAS_LATIN_OR_DIGIT.search(normalized)) and bool(_HAS_CONFUSABLE.search(normalized))


def strip_invisible(text: str) -> str:
    """Remove invisible characters but keep everything else (for script and caps checks).

    A regex finds them at C speed; `str.translate` with a dict looks up every character of the
    text in Python objects, which on long non-Latin messages costs more than the rest of the
    normalisation together. Searching first keeps text without any (nearly all) untouched.
    """
    if not _HAS_INVISIBLE.search(text):
        return text
    return _HAS_INVISIBLE.sub("", text)
