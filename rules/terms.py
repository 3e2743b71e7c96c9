"""Every keyword of a rule set in one Aho–Corasick automaton.

A rule set may hold thousands of keywords across many rules; scanning each message once and
learning which keyword sets were hit keeps matching cost flat as lists grow. Each keyword is
indexed as written (normalised) and as its lookalike skeleton, so `frее` with a Cyrillic `е` hits
`free`, while pure Cyrillic text still matches Cyrillic keywords.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
            automaton.add_word(form, (len(form), form, entry.term, tuple(entry.owners)))
        automaton.make_automaton()
        self._automaton = automaton

    @property
    def empty(self) -> bool:
        return self._automaton is None

    def scan(self, text: str) -> dict[int, TermHit]:
        """The first hit of every keyword set in `text` (already normalised)."""
        hits: dict[int, TermHit] = {}
        if self._automaton is None or not text:
            return hits
        last = len(text) - 1
        for end, (length, form, term, owners) in self._automaton.iter(text):
            start = end - length + 1
            word_ok: bool | None = None
            for set_id, whole in owners:
                if set_id in hits:
                    continue
                if whole:
                    if word_ok is None:
                        word_ok = _bounded(text, form, start, end, last)
                    if not word_ok:
                        continue
                hits[set_id] = TermHit(term, start, end + 1)
        return hits


def _bounded(text: str, form: str, start: int, end: int, last: int) -> bool:
    """Whole-word test; edges in unspaced scripts (Chinese, Japanese, Thai) always pass."""
    if start > 0 and is_word_char(form[0]) and is_word_char(text[start - 1]):
        return False
    return not (end < last and is_word_char(form[-1]) and is_word_char(text[end + 1]))
