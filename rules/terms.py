"""Every keyword of a rule set in one Aho–Corasick automaton.

A rule set may hold thousands of keywords across many rules; scanning each message once and
learning which keyword sets were hit keeps matching cost flat as lists grow. Each keyword is
indexed as written (normalised) and as its lookalike skeleton, so `frее` with a Cyrillic `е` hits
`free`, while pure Cyrillic text still matches Cyrillic keywords.

Knowing *which* sets a message hits is all that choosing and testing rules needs; *where* the
first hit is (the evidence) matters only once a rule matches. `hit_sets` answers the first
question with one RE2 set (a DFA: a few nanoseconds a byte, where the automaton walks a node list
per character), one pattern per keyword set. Its whole-word edges are a character class built
from `is_word_char` itself, so both always agree on what a whole word is. `first_hit` answers the
second for one set with that set's own pattern, compiled on first use: one search in C, where
walking the automaton hands every hit of every short keyword ("u", "ass") to Python.

RE2 gets a larger memory budget than its default (8 MB) for these: a DFA over thousands of
keywords outgrows the default, and RE2 then falls back to its NFA, several times slower. The
budget is a ceiling; the memory used grows only with the states messages actually reach.
"""

from __future__ import annotations

import re
import string
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, Final

import ahocorasick

from rules.normalize import normalize, skeleton
from rules.record import Record
from rules.textfeatures import UNSPACED, is_word_char


class TermHit(Record):
    """The first keyword of a set found in a message, with its place in the scanned text."""

    __slots__ = ("end", "start", "term")
    _fields = ("term", "start", "end")

    def __init__(self, term: str, start: int, end: int) -> None:
        self.term: Final = term
        self.start: Final = start
        self.end: Final = end


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
        self._matcher: SentinelSet | None = None
        self._groups: _Groups = {}
        # One RE2 pattern per keyword set, in set order, once built (a set that kept no keyword
        # gets one that never matches); the rule set's combined pass reuses them.
        self.patterns: list[str] = []
        self._finders: dict[int, Spans | None] = {}  # set id → its own search, see `first_hit`
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
        """Compile the automaton (for evidence) and the RE2 set (for `hit_sets`)."""
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
        groups: _Groups = {}
        for form, entry in self._entries.items():
            left, right = is_word_char(form[0]), is_word_char(form[-1])
            for set_id, whole in entry.owners:
                edges = (whole and left, whole and right)
                groups.setdefault(set_id, {}).setdefault(edges, []).append(_re2_literal(form))
        self._groups = groups
        self.patterns = [set_pattern(groups.get(set_id, {})) for set_id in range(self.sets)]
        self._matcher = SentinelSet.build(self.patterns)

    def hit_sets(self, text: str) -> frozenset[int] | None:
        """The keyword sets `text` (normalised) hits, as `scan(text).keys()`; None when only
        `scan` can tell (RE2 gave up)."""
        matcher = self._matcher
        if matcher is None:
            return _NO_SETS if self._automaton is None or not text else None
        if not text:
            return _NO_SETS
        found = matcher.match(text.encode())
        if not found or matcher.sentinel not in found:
            return None
        if len(found) == 1:
            return _NO_SETS  # only the sentinel
        found.remove(matcher.sentinel)
        return frozenset(found)

    def first_hit(self, set_id: int, text: str) -> TermHit | None:
        """The first keyword of set `set_id` in `text` (normalised), for evidence.

        Where `scan` reports the hit that ends first, this reports the leftmost one; either is
        a true hit an admin can find in the message. Falls back to `scan` when RE2 cannot hold
        the set's pattern.
        """
        if set_id in self._finders:
            finder = self._finders[set_id]
        else:
            finder = self._finders[set_id] = _finder(self._groups.get(set_id, {}))
        if finder is None:
            return self.scan(text).get(set_id)
        data = text.encode()
        start, end = finder(data, 0, len(data))[0]
        if start < 0:
            return None
        # The match is the keyword plus the non-word character on each side where it has a
        # word edge (the pattern has no groups: finding groups takes RE2's NFA, several times
        # slower than its DFA). A non-word character never ends a keyword with a word edge, so
        # the first of these spellings that is one of this set's keywords is the one.
        matched = data[start:end].decode()
        for lead, form in (
            (0, matched),
            (1, matched[1:]),
            (0, matched[:-1]),
            (1, matched[1:-1]),
        ):
            entry = self._entries.get(form)
            if entry is not None and any(owner == set_id for owner, _ in entry.owners):
                char_start = len(data[:start].decode()) + lead
                return TermHit(entry.term, char_start, char_start + len(form))
        return self.scan(text).get(set_id)  # not expected: let the automaton answer

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
# Keyword set id → (word edge before?, word edge after?) → RE2 spellings of its keywords.
_Groups = dict[int, dict[tuple[bool, bool], list[str]]]


class SentinelSet:
    """One RE2 set: pattern i answers as i, then a sentinel that matches every text.

    RE2 answers "nothing" when its DFA runs out of memory (a huge list, odd input); the missing
    sentinel reveals it, and the caller falls back to another way of answering (the keyword
    automaton, or separate passes).
    """

    @classmethod
    def build(cls, patterns: list[str]) -> SentinelSet | None:
        """The set, or None when RE2 cannot compile it within its memory budget."""
        import re2

        try:
            return cls(patterns)
        except re2.error:
            return None

    def __init__(self, patterns: list[str]) -> None:
        import re2

        options = re2.Options()
        options.log_errors = False
        options.max_mem = RE2_MAX_MEM
        matcher = re2.Set.SearchSet(options)
        for pattern in patterns:
            matcher.Add(pattern)
        self.sentinel: int = matcher.Add("")
        matcher.Compile()
        self._set = matcher
        self.match = bytes_matcher(matcher)


NEVER = r"\b\B"  # an RE2 pattern that matches nothing


def set_pattern(by_edges: dict[tuple[bool, bool], list[str]]) -> str:
    """One keyword set as one RE2 pattern: its keywords grouped by their edges, so the (large)
    class of non-word characters appears a few times per set rather than once per keyword."""
    if not by_edges:
        return NEVER
    alternatives = []
    for (left, right), spellings in by_edges.items():
        before = f"(?:^|[^{_re2_word_class()}])" if left else ""
        after = f"(?:[^{_re2_word_class()}]|$)" if right else ""
        alternatives.append(before + "(?:" + "|".join(spellings) + ")" + after)
    return "|".join(alternatives)


# RE2's memory budget for keyword patterns (see the module's docstring).
RE2_MAX_MEM = 64 << 20
Spans = Callable[[bytes, int, int], list[tuple[int, int]]]


def span_finder(compiled: Any) -> Spans | None:
    """A call giving the byte spans of `compiled`'s first match in UTF-8 bytes and of its
    groups ((-1, -1) when absent), straight on the C++ object the wrapper holds: its `search`
    builds a generator and a match object per call, several times the cost of the search.
    None when the wrapper's insides do not answer as its `search` does: callers then search.
    """
    import re2

    return partial(compiled._regexp.Match, re2._Anchor.UNANCHORED) if _spans_work() else None


@cache
def _spans_work() -> bool:
    """Whether the wrapper's C++ `Match` answers like `search`, checked once per process."""
    import re2

    try:
        compiled = re2.compile("b+")
        data = "aébbc".encode()
        spans = compiled._regexp.Match(re2._Anchor.UNANCHORED, data, 0, len(data))
        missing = compiled._regexp.Match(re2._Anchor.UNANCHORED, b"xyz", 0, 3)
        return bool(spans[0] == compiled.search(data).span() and missing[0] == (-1, -1))
    except Exception:
        return False


def _finder(by_edges: dict[tuple[bool, bool], list[str]]) -> Spans | None:
    """One keyword set as one RE2 pattern, searched for its first match (see `span_finder`).
    None when the set is empty or RE2 refuses the pattern: the automaton then gives the
    evidence."""
    import re2

    if not by_edges:
        return None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = RE2_MAX_MEM
    try:
        compiled = re2.compile(set_pattern(by_edges), options)
    except re2.error:
        return None
    return span_finder(compiled)


def bytes_matcher(matcher: Any) -> Callable[[bytes], list[int] | None]:
    """`re2.Set.Match` for UTF-8 bytes, called straight on the C++ set the wrapper holds.

    The Python wrapper adds a frame, a type check and an encoding call per message, which costs
    about as much as the match itself; its answer is the same list (the wrapper turns an empty
    one into None). Falls back to the wrapper, which also takes bytes, if its layout changes.
    """
    inner = getattr(matcher, "_set", None)
    match = getattr(inner, "Match", None)
    return match if callable(match) else matcher.Match  # type: ignore[no-any-return]


def _re2_char(char: str) -> str:
    r"""`char` for an RE2 pattern or class: ASCII punctuation as `\xHH`, always read literally."""
    return char if char.isalnum() or not char.isascii() else f"\\x{ord(char):02x}"


def _re2_literal(form: str) -> str:
    return "".join(_re2_char(c) for c in form)


@cache
def _re2_word_class() -> str:
    r"""The characters `is_word_char` accepts, as the inside of an RE2 class (`\x{41}-\x{5a}…`).

    Derived from Python's own tables (its `\w`, minus the unspaced scripts), not from RE2's
    Unicode classes, which can follow another Unicode version. Built once per process, in
    about a tenth of a second: one pass of `re` over a string of every code point.
    """
    every = array("I", range(0x110000)).tobytes().decode("utf-32-le", "surrogatepass")
    cuts = [m.span() for m in re.finditer(f"[{UNSPACED}]+", every)]
    ranges: list[tuple[int, int]] = []  # half-open
    for word in re.finditer(r"\w+", every):
        start, end = word.span()
        for cut_start, cut_end in cuts:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                ranges.append((start, cut_start))
            start = max(start, cut_end)
        if start < end:
            ranges.append((start, end))
    return "".join(
        f"\\x{{{a:x}}}" if b - a == 1 else f"\\x{{{a:x}}}-\\x{{{b - 1:x}}}" for a, b in ranges
    )


def _continues_word(char: str) -> bool:
    """`is_word_char`, with a set lookup for ASCII (most text around a hit)."""
    if char < "\x80":
        return char in _ASCII_WORD
    return is_word_char(char)
