"""Per-event evaluation context: the event, the facts, and lazily computed message features.

Every feature is computed at most once per event and only when a rule asks for it, so a message
that only the cheap rules look at never pays for script detection or capital counting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from bot.events import AnyEvent, Message
from bot.facts import ChatFacts, MemberFacts
from rules.normalize import is_disguised, normalize, skeleton
from rules.terms import TermHit, TermIndex
from rules.textfeatures import Link, count_mentions, merge_links


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a test matched, in words an admin can check against the message."""

    test: str
    detail: str
    excerpt: str = ""

    def format(self) -> str:
        if self.excerpt:
            return f"{self.test}: {self.detail} («{self.excerpt}»)"
        return f"{self.test}: {self.detail}"


def fingerprint(normalized_text: str) -> int:
    """A stable 64-bit id of a normalised text, for repeated-message windows across restarts."""
    digest = hashlib.blake2b(normalized_text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Context:
    """What the compiled conditions of one rule set see for one event."""

    __slots__ = (
        "_hits",
        "_links",
        "_mentions",
        "_norm",
        "_raw_regex",
        "_regex",
        "_scan",
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
    ) -> None:
        self.event = event
        self.member = member
        self.chat = chat
        self.now = now
        self.index = index
        self.regex_sets = regex_sets
        self.text = event.text if isinstance(event, Message) else ""
        self._norm: str | None = None
        self._scan: str | None = None
        self._hits: dict[int, TermHit] | None = None
        self._regex: frozenset[int] | None = None
        self._raw_regex: frozenset[int] | None = None
        self._links: tuple[Link, ...] | None = None
        self._mentions: int | None = None

    @property
    def normalized(self) -> str:
        if self._norm is None:
            self._norm = normalize(self.text)
        return self._norm

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
    def term_hits(self) -> dict[int, TermHit]:
        if self._hits is None:
            self._hits = self.index.scan(self.scan_text) if self.text else {}
        return self._hits

    @property
    def regex_hits(self) -> frozenset[int]:
        if self._regex is None:
            self._regex = (
                self.regex_sets.match_normalized(self.normalized) if self.text else frozenset()
            )
        return self._regex

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
            self._links = merge_links(reported, self.text) if (reported or self.text) else ()
        return self._links

    @property
    def mentions(self) -> int:
        if self._mentions is None:
            event = self.event
            reported = event.mentions if isinstance(event, Message) else ()
            self._mentions = count_mentions(reported, self.text)
        return self._mentions


class RegexSets:
    """All of a rule set's regexes in two RE2 sets (normalised and raw text): one pass each."""

    def __init__(self) -> None:
        import re2

        self._re2 = re2
        self._options = re2.Options()
        self._options.log_errors = False
        self._norm_set = re2.Set.SearchSet(self._options)
        self._raw_set = re2.Set.SearchSet(self._options)
        self._norm_count = 0
        self._raw_count = 0
        self.compiled: dict[tuple[bool, int], object] = {}

    def check(self, pattern: str) -> str:
        """'' when RE2 accepts the pattern, otherwise RE2's reason."""
        try:
            self._re2.compile(pattern, self._options)
        except self._re2.error as exc:
            reason = exc.args[0] if exc.args else str(exc)
            return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        return ""

    def add(self, pattern: str, *, raw: bool) -> int:
        target = self._raw_set if raw else self._norm_set
        index: int = target.Add(pattern)
        self.compiled[(raw, index)] = self._re2.compile(pattern, self._options)
        if raw:
            self._raw_count += 1
        else:
            self._norm_count += 1
        return index

    def build(self) -> None:
        if self._norm_count:
            self._norm_set.Compile()
        if self._raw_count:
            self._raw_set.Compile()

    def match_normalized(self, text: str) -> frozenset[int]:
        if not self._norm_count:
            return frozenset()
        # RE2's Set.Match answers None, not an empty list, when nothing matches.
        return frozenset(self._norm_set.Match(text) or ())

    def match_raw(self, text: str) -> frozenset[int]:
        if not self._raw_count:
            return frozenset()
        return frozenset(self._raw_set.Match(text) or ())

    def excerpt(self, index: int, text: str, *, raw: bool) -> str:
        compiled = self.compiled[(raw, index)]
        match = compiled.search(text)  # type: ignore[attr-defined]
        return str(match.group(0))[:80] if match else ""
