"""Per-event evaluation context: the event, the facts, and lazily computed message features.

Every feature is computed at most once per event and only when a rule asks for it, so a message
that only the cheap rules look at never pays for script detection or capital counting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from bot.events import AnyEvent, JoinRequest, Message
from bot.facts import ChatFacts, MemberFacts
from rules.normalize import is_disguised, normalize, skeleton
from rules.record import Record
from rules.terms import SentinelSet, Spans, TermHit, TermIndex, bytes_matcher, span_finder
from rules.textfeatures import Link, count_mentions, merge_links
from rules.tlds import KNOWN_TLDS


class Evidence(Record):
    """Why a test matched, in words an admin can check against the message."""

    __slots__ = ("detail", "excerpt", "test")
    _fields = ("test", "detail", "excerpt")

    def __init__(self, test: str, detail: str, excerpt: str = "") -> None:
        self.test: Final = test
        self.detail: Final = detail
        self.excerpt: Final = excerpt

    def format(self) -> str:
        if self.excerpt:
            return f"{self.test}: {self.detail} («{self.excerpt}»)"
        return f"{self.test}: {self.detail}"


def fingerprint(normalized_text: str) -> int:
    """A stable 63-bit id of a normalised text, for repeated-message windows across restarts.

    The top 15 bits hold the text's length (capped) and the rest a hash, so `repeats_within`
    can tell most texts apart by length alone, without hashing the new message at all.
    """
    # Names bound at import: this runs for nearly every message the pipeline records.
    digest = _blake2b(normalized_text.encode(), digest_size=6).digest()
    return _marked_length(normalized_text) << _LENGTH_SHIFT | _from_bytes(digest, "big")


def _marked_length(normalized_text: str) -> int:
    """The length a fingerprint holds: `fingerprint >> _LENGTH_SHIFT`.

    Compared by shifting, not masking: a mask of the top bits is an integer too large for the
    compiled code's unboxed ints, and every `&` with it took the slow path of Python's ints.
    """
    return min(len(normalized_text), _MAX_MARKED_LENGTH)


_MAX_MARKED_LENGTH = 0x7FFF
_LENGTH_SHIFT = 48
_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes


class Context:
    """What the compiled conditions of one rule set see for one event."""

    __slots__ = (
        "_counts",
        "_fingerprint",
        "_hits",
        "_link_hint",
        "_links",
        "_mentions",
        "_norm",
        "_raw_regex",
        "_regex",
        "_scan",
        "_sets",
        "chat",
        "event",
        "index",
        "member",
        "now",
        "regex_sets",
        "text",
    )

    def __init__(
        self,
        event: AnyEvent,
        member: MemberFacts,
        chat: ChatFacts,
        now: datetime,
        index: TermIndex,
        regex_sets: RegexSets,
        normalized: str | None = None,
    ) -> None:
        self.event = event
        self.member = member
        self.chat = chat
        self.now = now
        self.index = index
        self.regex_sets = regex_sets
        # A join request's bio is the only text a would-be member shows: rules read it as text.
        if isinstance(event, Message):
            self.text = event.text
        elif isinstance(event, JoinRequest):
            self.text = event.bio
        else:
            self.text = ""
        self._norm = normalized  # `normalize(self.text)`, when the caller has it already
        self._scan: str | None = None
        self._hits: dict[int, TermHit] | None = None
        self._sets: frozenset[int] | None = None
        self._regex: frozenset[int] | None = None
        self._raw_regex: frozenset[int] | None = None
        self._links: tuple[Link, ...] | None = None
        self._link_hint = True
        self._mentions: int | None = None
        self._fingerprint: int | None = None
        self._counts: dict[tuple[str, timedelta], int] = {}

    @property
    def normalized(self) -> str:
        if self._norm is None:
            self._norm = normalize(self.text)
        return self._norm

    @property
    def fingerprint(self) -> int:
        """`fingerprint(normalized)`, hashed once however many repeated-text tests ask."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.normalized)
        return self._fingerprint

    def messages_within(self, window: timedelta) -> int:
        """This member's messages within `window` up to now, this one included (flood).

        Messages of one album (a shared media group) count once. Cached per window: a flood
        rule and its "continued" twin ask the same question.
        """
        key = ("flood", window)
        count = self._counts.get(key)
        if count is None:
            event = self.event
            group = event.media_group if isinstance(event, Message) else ""
            since = self.now - window
            groups = {group} if group else set()
            count = 1
            for recent in self.member.recent:
                if recent.at < since or recent.at > self.now:
                    continue
                if recent.media_group:
                    if recent.media_group in groups:
                        continue
                    groups.add(recent.media_group)
                count += 1
            self._counts[key] = count
        return count

    def repeats_within(self, window: timedelta) -> int:
        """How often this member sent this text within `window`, this one included (repeated)."""
        key = ("repeated", window)
        count = self._counts.get(key)
        if count is None:
            since, now = self.now - window, self.now
            # Only messages of the same length can be the same text: most have none.
            length = _marked_length(self.normalized)
            same_length = [
                recent
                for recent in self.member.recent
                if recent.fingerprint >> _LENGTH_SHIFT == length and since <= recent.at <= now
            ]
            count = 1
            if same_length:
                mark = self.fingerprint
                count += sum(1 for recent in same_length if recent.fingerprint == mark)
            self._counts[key] = count
        return count

    @property
    def same_length_recent(self) -> int:
        """How many of the member's recent messages have this text's length (normalised): an
        upper bound of `repeats_within` for any window, found without hashing."""
        length = _marked_length(self.normalized)
        same = 0
        for recent in self.member.recent:  # a plain loop: compiled, it counts in a C int
            if recent.fingerprint >> _LENGTH_SHIFT == length:
                same += 1
        return same

    @property
    def scan_text(self) -> str:
        """The text keywords are matched against: the skeleton when lookalikes are mixed in."""
        if self._scan is None:
            norm = self.normalized
            self._scan = (
                skeleton(norm) if norm and not norm.isascii() and is_disguised(norm) else norm
            )
        return self._scan

    @property
    def term_sets(self) -> frozenset[int]:
        """The keyword sets this message hits (the keys of `term_hits`), usually without the
        automaton: choosing and testing rules needs only this; evidence needs `term_hits`."""
        if self._sets is None:
            together = self._scan_together()
            if together is not None:
                self._sets, self._regex, self._link_hint = together
            elif not self.text:
                self._sets = _NO_HITS
            else:
                sets = self.index.hit_sets(self.scan_text)
                self._sets = frozenset(self.term_hits) if sets is None else sets
        return self._sets

    def _scan_together(self) -> tuple[frozenset[int], frozenset[int], bool] | None:
        """Keyword sets, regexes and the link hint in one pass, when neither is known yet, the
        keyword text is the normalised text itself (no lookalikes to map) and the rule set has
        the combined set; None otherwise."""
        regex_sets = self.regex_sets
        if not regex_sets.together or self._regex is not None or self._sets is not None:
            return None
        if not self.text:
            return None
        norm = self.normalized
        if self.scan_text is not norm:
            return None
        return regex_sets.scan_together(norm)

    @property
    def term_hits(self) -> dict[int, TermHit]:
        if self._hits is None:
            self._hits = self.index.scan(self.scan_text) if self.text else {}
        return self._hits

    def term_hit(self, set_id: int) -> TermHit | None:
        """The first hit of one keyword set, for evidence: a search of that set alone, unless
        the automaton's full scan has run already."""
        if self._hits is not None:
            return self._hits.get(set_id)
        return self.index.first_hit(set_id, self.scan_text) if self.text else None

    @property
    def regex_hits(self) -> frozenset[int]:
        if self._regex is None:
            together = self._scan_together()
            if together is not None:
                self._sets, self._regex, self._link_hint = together
            elif not self.text:
                self._regex, self._link_hint = _NO_HITS, False
            else:
                self._regex, self._link_hint = self.regex_sets.scan_normalized(self.normalized)
        return self._regex

    @property
    def may_hold_links(self) -> bool:
        """Whether the text may hold a link (the regex pass tells, see `LINK_HINT`)."""
        if self._regex is None:
            self.regex_hits  # noqa: B018 - computes both
        return self._link_hint

    @property
    def raw_regex_hits(self) -> frozenset[int]:
        if self._raw_regex is None:
            self._raw_regex = self.regex_sets.match_raw(self.text) if self.text else frozenset()
        return self._raw_regex

    @property
    def links(self) -> tuple[Link, ...]:
        if self._links is None:
            event = self.event
            reported = event.links if isinstance(event, Message) else ()
            if reported or self.may_hold_links:
                self._links = merge_links(reported, self.text)
            else:
                self._links = ()
        return self._links

    @property
    def mentions(self) -> int:
        if self._mentions is None:
            event = self.event
            reported = event.mentions if isinstance(event, Message) else ()
            # Most messages mention nobody: skip building the set of names.
            text = self.text
            none = not reported and "@" not in text
            self._mentions = 0 if none else count_mentions(reported, text)
        return self._mentions


_NO_HITS: frozenset[int] = frozenset()


def _link_hint() -> str:
    """A pattern necessary for `find_links` to find a link in a text, read on its normalised
    form (`LINK_HINT`). A property test holds `find_links` to it.

    `find_links` reads the text as it displays (NFKC, no invisible characters); the normalised
    text is that, case-folded, with white space collapsed. A link has a scheme, or "www.", or
    a known top-level domain after a dot, with a letter, digit or mark before the dot (case
    folding may end a letter with a combining mark: "İ" → "i̇") and no further letter after
    it (`find_links` reads the whole run of letters as the domain). "Letter" after the domain
    means only Latin and Cyrillic ones here, fewer than `find_links` counts: the hint may fire
    where there is no link, never the other way round. Naming the known domains rather than
    any two letters after a dot keeps "ok..so" and "dinner.msg" from sending chat text to the
    link parser, which half of all hints did.
    """
    domains = "|".join(sorted(KNOWN_TLDS, key=lambda tld: (-len(tld), tld)))
    return rf"://|www\.|[\pL\pN\pM]\.(?:{domains}|xn--)(?:[^a-zа-яё]|$)"


LINK_HINT = _link_hint()


class _TogetherSet:
    """Keyword sets, normalised regexes and `LINK_HINT` in one `SentinelSet`.

    Each pass into RE2 costs about a microsecond before it reads a byte; merging the two passes
    every message needs saves one. The merged DFA is larger than either, which the budget of
    `RE2_MAX_MEM` holds (at RE2's default it overflowed and the merge ran sixty times slower).
    Should RE2 still give up on some text, the missing sentinel says so and the separate
    passes answer.
    """

    @classmethod
    def build(cls, keyword_sets: list[str], regexes: list[str]) -> _TogetherSet | None:
        matcher = SentinelSet.build([*keyword_sets, *regexes, LINK_HINT])
        return None if matcher is None else cls(matcher, len(keyword_sets), len(regexes))

    def __init__(self, matcher: SentinelSet, keyword_sets: int, regexes: int) -> None:
        self._match = matcher.match
        self._sentinel = matcher.sentinel
        self._first_regex = keyword_sets
        self._hint = keyword_sets + regexes

    def scan(self, text: str) -> tuple[frozenset[int], frozenset[int], bool] | None:
        found = self._match(text.encode())  # in no particular order
        if not found or self._sentinel not in found:
            return None
        if len(found) == 1:  # only the sentinel: most messages
            return _NO_HITS, _NO_HITS, False
        first_regex, hint = self._first_regex, self._hint
        terms = frozenset(i for i in found if i < first_regex)
        regexes = frozenset(i - first_regex for i in found if first_regex <= i < hint)
        return terms, regexes, hint in found


class RegexSets:
    """All of a rule set's regexes in two RE2 sets (normalised and raw text): one pass each.

    They stay apart from the keywords' RE2 set although it reads the same text: merged with
    thousands of literals, bounded repeats such as `.{0,30}` multiply the DFA's states, and the
    merged pass measured some sixty times slower than the two separate ones.
    """

    def __init__(self) -> None:
        import re2

        self._re2 = re2
        self._options = re2.Options()
        self._options.log_errors = False
        self._norm_set = re2.Set.SearchSet(self._options)
        self._raw_set = re2.Set.SearchSet(self._options)
        self._norm_match: Callable[[bytes], list[int] | None] | None = None  # set by `build`
        self._raw_match: Callable[[bytes], list[int] | None] = self._raw_set.Match
        self._raw_count = 0
        self._link_hint = -1  # the id of LINK_HINT in the normalised set once built
        self._norm_patterns: list[str] = []
        self._together: _TogetherSet | None = None
        self._spans: dict[tuple[bool, int], Spans | None] = {}  # see `excerpt`
        self.compiled: dict[tuple[bool, int], object] = {}
        self._checked: dict[str, object] = {}

    def check(self, pattern: str) -> str:
        """'' when RE2 accepts the pattern, otherwise RE2's reason."""
        try:
            self._checked[pattern] = self._re2.compile(pattern, self._options)
        except self._re2.error as exc:
            reason = exc.args[0] if exc.args else str(exc)
            return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        return ""

    def add(self, pattern: str, *, raw: bool) -> int:
        target = self._raw_set if raw else self._norm_set
        index: int = target.Add(pattern)
        checked = self._checked.pop(pattern, None)  # compiled by `check` already, as a rule is
        compiled = checked or self._re2.compile(pattern, self._options)
        self.compiled[(raw, index)] = compiled
        self._spans[(raw, index)] = span_finder(compiled)
        if raw:
            self._raw_count += 1
        else:
            self._norm_patterns.append(pattern)
        return index

    def build(self, terms: TermIndex | None = None) -> None:
        """Compile both sets. The normalised one also gets `LINK_HINT`, so the pass that the
        regexes need anyway tells whether looking for links is worth it.

        With the rule set's built keyword index, also one set of its keyword sets, the
        normalised regexes and the hint together: most messages are their own keyword text (no
        lookalikes to map), and one pass then answers all three (see `scan_together`).
        """
        self._link_hint = self._norm_set.Add(LINK_HINT)
        self._norm_set.Compile()
        self._norm_match = bytes_matcher(self._norm_set)
        if terms is not None and not terms.empty:
            self._together = _TogetherSet.build(terms.patterns, self._norm_patterns)
        if self._raw_count:
            self._raw_set.Compile()
            self._raw_match = bytes_matcher(self._raw_set)

    @property
    def together(self) -> bool:
        return self._together is not None

    def scan_together(self, text: str) -> tuple[frozenset[int], frozenset[int], bool] | None:
        """(keyword sets, regexes, may hold a link) for a normalised text that is also its
        keyword text, in one pass; None when `scan_normalized` and `TermIndex.hit_sets` must
        answer apart (no combined set, or RE2 gave up on this text)."""
        together = self._together
        return None if together is None else together.scan(text)

    def match_normalized(self, text: str) -> frozenset[int]:
        return self.scan_normalized(text)[0]

    def scan_normalized(self, text: str) -> tuple[frozenset[int], bool]:
        """The regexes `text` (normalised) matches, and whether it may hold a link.

        Before `build` (a rule set assembled by hand) nothing matches and links are looked for.
        """
        match = self._norm_match
        if match is None:
            return _NO_HITS, True
        # RE2's Set.Match answers None, not an empty list, when nothing matches.
        found = match(text.encode())
        if not found:
            return _NO_HITS, False
        hint = self._link_hint
        if hint not in found:
            return frozenset(found), False
        if len(found) == 1:
            return _NO_HITS, True
        found.remove(hint)
        return frozenset(found), True

    def match_raw(self, text: str) -> frozenset[int]:
        if not self._raw_count:
            return frozenset()
        found = self._raw_match(text.encode())
        return frozenset(found) if found else _NO_HITS

    def excerpt(self, index: int, text: str, *, raw: bool) -> str:
        """What regex `index` matched in `text`, for evidence (at most 80 characters).

        Searching the UTF-8 bytes gives the same match as searching the text (RE2 works on UTF-8
        either way) without the wrapper's byte-to-character offset bookkeeping, which costs
        more than the search. Only a pattern that splits a character (`\\C`) needs the text.
        """
        compiled: Any = self.compiled[(raw, index)]
        data = text.encode()
        spans = self._spans.get((raw, index))
        if spans is not None:
            start, end = spans(data, 0, len(data))[0]
        else:
            match = compiled.search(data)
            start, end = (-1, -1) if match is None else match.span()
        if start < 0:
            return ""
        try:
            return data[start:end].decode()[:80]
        except UnicodeDecodeError:
            found = compiled.search(text)
            return str(found.group(0))[:80] if found else ""
