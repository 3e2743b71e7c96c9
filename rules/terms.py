"""Every keyword of a rule set in one Aho–Corasick automaton.

A rule set may hold thousands of keywords across many rules; scanning each message once and
learning which keyword sets were hit keeps matching cost flat as lists grow. Each keyword is
indexed as written (normalised) and as its lookalike skeleton, so `frее` with a Cyrillic `е` hits
`free`, while pure Cyrillic text still matches Cyrillic keywords.

Knowing *which* sets a message hits is all that choosing and testing rules needs; *where* the
first hit is (the evidence) matters only once a rule matches. `hit_sets` answers the first
question with one RE2 set (a DFA: a few nanoseconds a byte, where the automaton walks a node list
per character), one pattern per keyword set. Its whole-word edges are RE2's `\\b`, which knows
only ASCII word characters: on ASCII text that is exactly `is_word_char`, so the answer is exact;
on other text it can only say that no set is hit, and otherwise the automaton decides.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from rules.normalize import normalize, skeleton
from rules.textfeatures import is_word_char


@dataclass(frozen=True, slots=True)
class TermHit:
    """The first keyword of a set found in a message, with its place in the scanned text."""

    term: str
    start: int
    end: int


@dataclass(slots=True)
class _Entry:
    term: str  # the keyword as the admin wrote it (normalised), for evidence
    # (set id, whole-word?) for every keyword set holding this term.
    owners: list[tuple[int, bool]] = field(default_factory=list)


class TermIndex:
    """Collects keyword sets, then answers "which sets does this text hit?" in one pass."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._automaton: ahocorasick.Automaton | None = None
        self._re2_set: Any = None  # re2.Set: one pattern per keyword set, then a sentinel
        self._re2_match: Callable[[bytes], list[int] | None] = _no_match
        self._re2_owner: list[int] = []  # RE2 pattern index → keyword set id
        self._sentinel = -1
        self.sets = 0

    def add_set(self, terms: list[str], *, whole_words: bool) -> int:
        """Register a keyword set; returns its id. Terms that normalise to nothing are skipped."""
        set_id = self.sets
        self.sets += 1
        for raw in terms:
            plain = normalize(raw)
            if not plain:
                continue
            for form in {plain, skeleton(plain)}:
                entry = self._entries.get(form)
                if entry is None:
                    entry = self._entries[form] = _Entry(plain)
                owner = (set_id, whole_words)
                if owner not in entry.owners:
                    entry.owners.append(owner)
        return set_id

    def build(self) -> None:
        if not self._entries:
            return
        automaton = ahocorasick.Automaton()
        for form, entry in self._entries.items():
            # Whether the keyword's own edges are word characters is fixed: decide it once here
            # rather than on every hit (a whole-word test only looks past such an edge).
            edges = (is_word_char(form[0]), is_word_char(form[-1]))
            automaton.add_word(form, (len(form), entry.term, tuple(entry.owners), *edges))
        automaton.make_automaton()
        self._automaton = automaton
        self._build_re2_set()

    def _build_re2_set(self) -> None:
        import re2

        forms: dict[int, list[str]] = {}
        for form, entry in self._entries.items():
            for set_id, whole in entry.owners:
                forms.setdefault(set_id, []).append(_re2_literal(form, whole=whole))
        options = re2.Options()
        options.log_errors = False
        matcher = re2.Set.SearchSet(options)
        for set_id, alternatives in sorted(forms.items()):
            matcher.Add("(?:" + "|".join(alternatives) + ")")
            self._re2_owner.append(set_id)
        # Matches every text. RE2 answers "nothing" when its DFA runs out of memory (a huge
        # list, odd input), which the missing sentinel reveals, and the automaton takes over.
        self._sentinel = matcher.Add("")
        matcher.Compile()
        self._re2_set = matcher
        self._re2_match = bytes_matcher(matcher)

    def hit_sets(self, text: str) -> frozenset[int] | None:
        """The keyword sets `text` (normalised) hits, as `scan(text).keys()`; None when only
        `scan` can tell (text beyond ASCII that may hold a keyword, or RE2 gave up)."""
        if self._re2_set is None or not text:
            return _NO_SETS
        found = self._re2_match(text.encode())
        if not found or self._sentinel not in found:
            return None
        if len(found) == 1:
            return _NO_SETS  # only the sentinel: no keyword, whatever the script
        if not text.isascii():
            return None
        owner = self._re2_owner
        return frozenset(owner[i] for i in found if i < len(owner))

    @property
    def empty(self) -> bool:
        return self._automaton is None

    def scan(self, text: str) -> dict[int, TermHit]:
        """The first hit of every keyword set in `text` (already normalised).

        This loop runs for every hit of every message (short keywords such as "u" hit often),
        so the whole-word test is inlined: a hit is a whole word unless a word edge of the
        keyword touches a word character of the text. Edges in unspaced scripts (Chinese,
        Japanese, Thai) are not word characters, so such keywords match anywhere.
        """
        hits: dict[int, TermHit] = {}
        if self._automaton is None or not text:
            return hits
        last = len(text) - 1
        for end, (length, term, owners, left_edge, right_edge) in self._automaton.iter(text):
            start = end - length + 1
            word_ok: bool | None = None
            for set_id, whole in owners:
                if set_id in hits:
                    continue
                if whole:
                    if word_ok is None:
                        word_ok = not (
                            (left_edge and start > 0 and _continues_word(text[start - 1]))
                            or (right_edge and end < last and _continues_word(text[end + 1]))
                        )
                    if not word_ok:
                        continue
                hits[set_id] = TermHit(term, start, end + 1)
        return hits


_ASCII_WORD = frozenset(string.ascii_letters + string.digits + "_")
_NO_SETS: frozenset[int] = frozenset()


def bytes_matcher(matcher: Any) -> Callable[[bytes], list[int] | None]:
    """`re2.Set.Match` for UTF-8 bytes, called straight on the C++ set the wrapper holds.

    The Python wrapper adds a frame, a type check and an encoding call per message, which costs
    about as much as the match itself; its answer is the same list (the wrapper turns an empty
    one into None). Falls back to the wrapper, which also takes bytes, if its layout changes.
    """
    inner = getattr(matcher, "_set", None)
    match = getattr(inner, "Match", None)
    return match if callable(match) else matcher.Match  # type: ignore[no-any-return]


def _no_match(text: bytes) -> list[int] | None:
    return None


def _re2_literal(form: str, *, whole: bool) -> str:
    r"""`form` as an RE2 pattern, with `\b` at the edges a whole-word test looks past.

    ASCII punctuation is written as `\xHH`, which RE2 always reads literally. An edge that is a
    word character outside ASCII gets no `\b` (RE2's is ASCII-only): the pattern then matches
    more than the whole-word test allows, never less, and such text is not ASCII anyway.
    """
    literal = "".join(c if c.isalnum() or not c.isascii() else f"\\x{ord(c):02x}" for c in form)
    if not whole:
        return literal
    left = r"\b" if form[0].isascii() and is_word_char(form[0]) else ""
    right = r"\b" if form[-1].isascii() and is_word_char(form[-1]) else ""
    return left + literal + right


def _continues_word(char: str) -> bool:
    """`is_word_char`, with a set lookup for ASCII (most text around a hit)."""
    if char < "\x80":
        return char in _ASCII_WORD
    return is_word_char(char)
