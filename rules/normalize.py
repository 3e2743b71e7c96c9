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

# Lowercase lookalikes (after case folding) mapped to the Latin letter they imitate.
_CONFUSABLE_PAIRS = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "ԝ": "w",
    "х": "x",
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
    # Latin look-alikes outside ASCII
    "ı": "i",
    "ɡ": "g",
    "ɑ": "a",
    "ℓ": "l",
}

_INVISIBLE_ONLY: dict[int, str | None] = {ord(c): None for c in _INVISIBLE}
_SKELETON: dict[int, str | None] = {ord(k): v for k, v in _CONFUSABLE_PAIRS.items()}
_HAS_INVISIBLE = re.compile("[" + _INVISIBLE + "]")
_HAS_LATIN = re.compile("[a-z]")
_HAS_CONFUSABLE = re.compile("[" + "".join(_CONFUSABLE_PAIRS) + "]")


def normalize(text: str) -> str:
    """NFKC, case-fold, drop invisible characters and collapse white space.

    Fast for ASCII, which is most chat text; the other steps run only when they can change
    something, because this runs on every message.
    """
    if text.isascii():
        return " ".join(text.lower().split())
    if _HAS_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE_ONLY)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def skeleton(normalized: str) -> str:
    """Map lookalike letters to the Latin letter they imitate (`frее` with Cyrillic е → `free`)."""
    return normalized.translate(_SKELETON)


def is_disguised(normalized: str) -> bool:
    """True when Latin letters sit beside lookalikes: the only case where skeletons are needed.

    Pure Cyrillic or Greek text is left alone (it matches keywords written in its own script),
    which keeps Russian chats from paying for a character-by-character mapping on every message.
    """
    return bool(_HAS_LATIN.search(normalized)) and bool(_HAS_CONFUSABLE.search(normalized))


def strip_invisible(text: str) -> str:
    """Remove invisible characters but keep everything else (for script and caps checks)."""
    return text.translate(_INVISIBLE_ONLY)
