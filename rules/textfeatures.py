"""What the rules look at in a message's text: links, mentions, emoji, capitals, scripts.

These are pure functions over strings. The cheap ones run on every message; the costlier ones
(scripts, capitals) only when a rule that needs them is evaluated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Final
from urllib.parse import urlsplit

from rules.normalize import strip_invisible
from rules.record import Record
from rules.tlds import AMBIGUOUS, KNOWN_TLDS

# A URL with a scheme, or starting with www.: everything up to white space or a quote.
_EXPLICIT = re.compile(
    r"(?<![\w@.-])(?:(?:https?|ftp)://|www\.[\w-]+\.)[^\s<>\"'`]+", re.IGNORECASE
)
# A bare name such as example.com/path: it counts only with a known top-level domain.
_BARE = re.compile(
    r"(?<![\w@./:-])"
    r"(?P<host>(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?P<tld>[^\W\d_]{2,24}|xn--[a-z0-9-]{1,59}))"
    r"(?P<port>:\d{1,5})?(?P<rest>[/?#][^\s<>\"'`]*)?",
    re.IGNORECASE,
)
# Necessary for a bare match (see `_may_hold_bare_link`): a pattern that starts with a literal
# lets `re` skip straight to the candidates.
_DOT_TLD = re.compile(r"\.(?:[^\W\d_]{2}|xn--)", re.IGNORECASE)
_WWW = re.compile(r"www\.", re.IGNORECASE)
_TRAILING = ".,!?;:'\"»…"
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,32})\b")
_PICTOGRAPH = (
    "\U0001f000-\U0001f1e5\U0001f200-\U0001f3fa\U0001f400-\U0001faff"
    "\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u3030\u303d\u3297\u3299"
)
# One emoji as people see it: a flag (two regional indicators), or a pictograph with optional
# skin tone and variation selector, joined by zero-width joiners into families and the like.
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"
    f"|[{_PICTOGRAPH}][\U0001f3fb-\U0001f3ff]?\ufe0f?"
    f"(?:\u200d[{_PICTOGRAPH}][\U0001f3fb-\U0001f3ff]?\ufe0f?)*"
)
_LETTER = re.compile(r"[^\W\d_]")

INVITE_HOSTS: dict[str, tuple[str, ...]] = {
    "t.me": ("/joinchat/", "/+", "/addlist/"),
    "telegram.me": ("/joinchat/", "/+"),
    "telegram.dog": ("/joinchat/", "/+"),
    "discord.gg": ("/",),
    "discord.com": ("/invite/",),
    "discordapp.com": ("/invite/",),
    "discord.me": ("/",),
    "chat.whatsapp.com": ("/",),
    "invite.viber.com": ("/",),
    "signal.group": ("/",),
}


class Link(Record):
    """A link found in a message: its host (lowercase, no `www.`) and the path after it."""

    __slots__ = ("host", "path", "url")
    _fields = ("url", "host", "path")

    def __init__(self, url: str, host: str, path: str) -> None:
        self.url: Final = url
        self.host: Final = host
        self.path: Final = path

    @property
    def is_invite(self) -> bool:
        prefixes = INVITE_HOSTS.get(self.host)
        if prefixes is None:
            return False
        return any(self.path.startswith(p) and len(self.path) > len(p) for p in prefixes)


def clean_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host


def parse_link(url: str) -> Link | None:
    """A `Link` from a URL (reported by the platform or found in text); None if it has no host.

    `urlsplit` does the parsing, so `https://discord.com@evil.org/x` is a link to evil.org (the
    part before `@` is only a user name), and ports and IP addresses are handled.
    """
    candidate = url if "://" in url else "http://" + url
    try:
        parts = urlsplit(candidate)
        host = parts.hostname or ""
    except ValueError:
        return None
    if not host:
        return None
    path = parts.path + (("?" + parts.query) if parts.query else "")
    return Link(url=url, host=clean_host(host), path=path)


def find_links(text: str) -> list[Link]:
    """Links written in text: anything with a scheme or `www.`, or a bare name with a known TLD.

    Text with invisible characters or fullwidth letters is also read the way it displays
    (`t.me\u200b/+abc`, `ｔ.ｍｅ/+abc`), since that is how members see and click it.
    """
    if not text.isascii():
        shown = unicodedata.normalize("NFKC", strip_invisible(text))
        if shown != text:
            text = shown
    explicit = _may_hold_explicit_link(text)
    if not explicit and not _may_hold_bare_link(text):
        return []
    # Both patterns try a look-behind at every position, yet a link never holds white space
    # and always holds "." or "://": scan only the words that do. Joined by spaces, each word
    # keeps what precedes it for the look-behinds (white space), matches keep their order, and
    # positions stay comparable between the two patterns, which is all `taken` needs.
    text = " ".join([word for word in text.split() if "." in word or "://" in word])
    found: list[Link] = []
    taken: list[tuple[int, int]] = []
    for match in _EXPLICIT.finditer(text) if explicit else ():
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
        url = match["host"] + (match["port"] or "") + rest
        link = parse_link(url)
        if link is not None:
            found.append(link)
    return found


def _may_hold_explicit_link(text: str) -> bool:
    """A cheap necessary condition for `_EXPLICIT` to match anywhere in `text`: a link with a
    scheme holds "://", one without starts with "www." (so "w." or "W."); and, like every link
    `find_links` finds, a dot."""
    if "." not in text:
        return False
    return "://" in text or (("w." in text or "W." in text) and _WWW.search(text) is not None)


def _may_hold_bare_link(text: str) -> bool:
    """A cheap necessary condition for `_BARE` to match anywhere in `text`: a dot followed by
    the first two letters of a top-level domain (or "xn--").

    Most messages hold no link, yet both patterns try a look-behind at every position; these
    tests cost a fifth of that, and the scheme pattern runs only where its own test holds.
    """
    return "." in text and _DOT_TLD.search(text) is not None


def _trim(url: str) -> str:
    """Drop punctuation that ends the sentence, not the link (`see x.com/a.`, `(x.com/a)`)."""
    while url:
        last = url[-1]
        unbalanced = last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)
        if last not in _TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def merge_links(reported: Iterable[str], text: str) -> tuple[Link, ...]:
    """Links the platform reported plus those in the text, each (host, path) once."""
    found = find_links(text)  # once: parsing each URL costs more than finding it
    if not reported and not found:
        return ()  # most messages: nothing to merge
    seen: set[tuple[str, str]] = set()
    result: list[Link] = []
    for link in [*(parse_link(u) for u in reported), *found]:
        if link is None:
            continue
        key = (link.host, link.path.rstrip("/"))
        if key not in seen:
            seen.add(key)
            result.append(link)
    return tuple(result)


def find_mentions(text: str) -> list[str]:
    """`@name` mentions in text, lowercased, without the `@`."""
    if "@" not in text:
        return []
    return [m.lower() for m in _MENTION.findall(text)]


def count_mentions(reported: Iterable[str], text: str) -> int:
    """Distinct members mentioned, from the platform's list and from `@name` in the text."""
    names = {m.lower().lstrip("@") for m in reported}
    names.update(find_mentions(text))
    return len(names)


def count_emoji(text: str) -> int:
    if text.isascii():
        return 0
    return len(_EMOJI.findall(text))


@cache
def _uppercase_table() -> dict[int, None]:
    """Every capital letter in Unicode (built once, on first use: about 0.2 s)."""
    return {cp: None for cp in range(0x110000) if chr(cp).isupper()}


def caps_ratio(text: str) -> tuple[float, int]:
    """Share of capital letters among letters, and the number of letters.

    Counted among letters only, so circled letters and other symbols that Unicode calls
    uppercase cannot push the ratio above 1.
    """
    letters = "".join(_LETTER.findall(text))
    if not letters:
        return 0.0, 0
    upper = len(letters) - len(letters.translate(_uppercase_table()))
    return upper / len(letters), len(letters)


# Scripts a rule can name, as ranges of code points (the main block of each).
SCRIPTS: dict[str, str] = {
    "latin": "a-zA-Z\u00c0-\u024f\u1e00-\u1eff",
    "cyrillic": "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f",
    "greek": "\u0370-\u03ff\u1f00-\u1fff",
    "armenian": "\u0530-\u058f",
    "hebrew": "\u0590-\u05ff",
    "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "devanagari": "\u0900-\u097f",
    "bengali": "\u0980-\u09ff",
    "thai": "\u0e00-\u0e7f",
    "georgian": "\u10a0-\u10ff",
    "hangul": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "han": "\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff",
    "kana": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f",
    "ethiopic": "\u1200-\u137f",
}
_SCRIPT_PATTERNS = {name: re.compile(f"[{ranges}]") for name, ranges in SCRIPTS.items()}
# Scripts written without spaces between words: "whole word" cannot mean anything there.
UNSPACED = (
    f"{SCRIPTS['han']}{SCRIPTS['kana']}{SCRIPTS['thai']}\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"
)
_UNSPACED = re.compile(f"[{UNSPACED}]")


def script_counts(text: str) -> tuple[dict[str, int], int]:
    """Letters per script, and all letters (including scripts not listed).

    Only letters count: vowel signs, digits and symbols inside a script's block would otherwise
    push its share above 100%.
    """
    letters = "".join(_LETTER.findall(text))
    counts = {name: len(p.findall(letters)) for name, p in _SCRIPT_PATTERNS.items()}
    return counts, len(letters)


def is_word_char(char: str) -> bool:
    """Characters that continue a word in a spaced script (so they break a whole-word match)."""
    return (char.isalnum() or char == "_") and not _UNSPACED.match(char)
