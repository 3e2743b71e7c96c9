"""Turn validated condition models into fast closures, each with a "guard".

A guard is a set of cheap, precomputed triggers (a keyword set was hit, a regex matched, the
message has links …) of which at least one must fire for the condition to possibly hold. The
rule set evaluates a rule only when its guard fires, so adding thousands of keyword rules does
not slow down messages that contain none of the keywords.

Each compiled condition also has a `test`: the same yes/no answer as its `check`, without
building evidence. Most messages match nothing, yet in `all` the cheap parts that do hold
(a length, a member fact) would each format an `Evidence` before a later part fails; `all`,
`any` and `not` therefore ask their parts' tests first and gather evidence only once the whole
condition is known to hold. Features are cached per event, so asking twice costs little.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from bot.durations import format_duration
from bot.events import Join, Message
from rules.context import Context, Evidence, RegexSets
from rules.diagnostics import did_you_mean
from rules.schema import (
    Caps,
    Compare,
    Condition,
    Conditions,
    Flood,
    Links,
    Member,
    Raid,
    Regex,
    Repeated,
    Script,
    Terms,
    TermsInput,
)
from rules.terms import TermIndex
from rules.textfeatures import caps_ratio, clean_host, count_emoji, script_counts

Result = tuple[Evidence, ...] | None
Check = Callable[[Context], Result]
Test = Callable[[Context], bool]
Explain = Callable[[Context], Evidence | None]
# Triggers are small tuples: ("t", set id), ("r", regex id), ("R", raw regex id), ("links",),
# ("history", n): the member has at least n recent messages, ("repeat", n): at least n of the
# same length as this text …
Trigger = tuple[str, int] | tuple[str]
Guard = frozenset[Trigger] | None
Path = tuple[str | int, ...]

MATCHED: tuple[Evidence, ...] = ()

# Rough cost of each test, so that `all` runs the cheap ones first and stops early.
_COST = {
    "member": 0,
    "forwarded": 0,
    "edited": 0,
    "blocked": 0,
    "media": 0,
    "length": 1,
    "raid": 1,
    "flood": 1,
    "keywords": 2,
    "words": 2,
    "regex": 2,
    "links": 3,
    "mentions": 3,
    "repeated": 4,
    "emoji": 5,
    "caps": 6,
    "script": 7,
    "all": 5,
    "any": 5,
    "not": 8,
}


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled condition. `test(ctx)` is always `check(ctx) is not None`, only cheaper."""

    check: Check
    guard: Guard
    cost: int
    describe: str
    test: Test


def _never(ctx: Context) -> bool:
    return False


def _nothing(ctx: Context) -> Result:
    return None


@dataclass(frozen=True, slots=True)
class _Part:
    """One test of a family (`member: {level, admin}` has two): a yes/no and its evidence."""

    holds: Test
    explain: Explain


def _part(explain: Explain, holds: Test | None = None) -> _Part:
    """A part whose yes/no is `holds`, or, for rarely evaluated tests, `explain` itself."""
    if holds is not None:
        return _Part(holds, explain)

    # A new name, not a rebinding of the parameter: mypyc cannot compile a nested function
    # that shadows an argument.
    def explained(ctx: Context) -> bool:
        return explain(ctx) is not None

    return _Part(explained, explain)


@dataclass(frozen=True, slots=True)
class DomainSet:
    """Domains (matching subdomains too) and a few host+path prefixes (`bit.ly/abc`)."""

    hosts: frozenset[str]
    prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Sequence[str]) -> DomainSet:
        hosts: set[str] = set()
        prefixes: dict[str, list[str]] = {}
        for raw in entries:
            entry = raw.strip()
            lowered = entry.lower()
            for scheme in ("https://", "http://"):
                if lowered.startswith(scheme):
                    entry = entry[len(scheme) :]
                    lowered = lowered[len(scheme) :]
            if not entry or entry.startswith("#"):
                continue
            # Hosts are case-insensitive; paths are not (short-link codes like bit.ly/AbC).
            host, slash, path = entry.partition("/")
            host = clean_host(host)
            if slash and path.strip("/"):
                prefixes.setdefault(host, []).append("/" + path.rstrip("/"))
            else:
                hosts.add(host)
        return cls(frozenset(hosts), {h: tuple(p) for h, p in prefixes.items()})

    def find(self, host: str, path: str) -> str | None:
        """The entry covering host (or a parent domain) or host+path; None if not listed."""
        probe = host
        while True:
            if probe in self.hosts:
                return probe
            for prefix in self.prefixes.get(probe, ()):
                if path == prefix or path.startswith((prefix + "/", prefix + "?")):
                    return probe + prefix
            probe = probe.partition(".")[2]
            if "." not in probe:  # never match on a bare top-level domain
                return None


class ConditionCompiler:
    """Compiles conditions of one rule set, sharing the term index and regex sets among rules."""

    def __init__(self, lists: dict[str, list[str]], index: TermIndex, regexes: RegexSets) -> None:
        self.lists = lists
        self.index = index
        self.regexes = regexes
        self.problems: list[tuple[Path, str, str]] = []  # (path, message, hint)
        self._domain_sets: dict[tuple[str, ...], DomainSet] = {}
        self.history_window = timedelta(0)
        self.join_window = timedelta(0)

    # -- entry points -------------------------------------------------------------------

    def compile(self, conditions: Conditions, path: Path) -> Compiled:
        if isinstance(conditions, list):
            return self._all([self.compile_one(c, (*path, i)) for i, c in enumerate(conditions)])
        return self.compile_one(conditions, path)

    def compile_one(self, cond: Condition, path: Path) -> Compiled:
        parts: list[Compiled] = []
        for name in type(cond).model_fields:
            value = getattr(cond, name)
            if value is None:
                continue
            key = name.rstrip("_")
            parts.append(self._family(key, value, (*path, key)))
        if not parts:
            self.problems.append(
                (path, "empty condition", "give at least one test such as `keywords:`")
            )
            return Compiled(_nothing, None, 0, "nothing", _never)
        if len(parts) == 1:
            return parts[0]
        return self._all(parts)

    # -- families -----------------------------------------------------------------------

    def _family(self, key: str, value: object, path: Path) -> Compiled:
        if key == "all":
            assert isinstance(value, list)
            return self._all([self.compile_one(c, (*path, i)) for i, c in enumerate(value)])
        if key == "any":
            assert isinstance(value, list)
            return self._any([self.compile_one(c, (*path, i)) for i, c in enumerate(value)])
        if key == "not":
            assert isinstance(value, Condition)
            return self._not(self.compile_one(value, path))
        if key in ("keywords", "words"):
            return self._terms(key, value, path)  # type: ignore[arg-type]
        method: Callable[[object, Path], Compiled] = getattr(self, f"_{key}")
        return method(value, path)

    def _all(self, parts: list[Compiled]) -> Compiled:
        ordered = sorted(parts, key=lambda p: p.cost)
        checks = tuple(p.check for p in ordered)
        tests = tuple(p.test for p in ordered)

        def test(ctx: Context) -> bool:
            return all(part(ctx) for part in tests)

        def check(ctx: Context) -> Result:
            for part_test in tests:
                if not part_test(ctx):
                    return None
            evidence: list[Evidence] = []
            for part in checks:
                found = part(ctx)
                if found is None:  # cannot happen: its test said it holds
                    return None
                evidence.extend(found)
            return tuple(evidence)

        guards = [p.guard for p in ordered if p.guard is not None]
        # Any one part's guard is necessary for the whole; the keyword/regex ones are rarest.
        guard = min(guards, key=_selectivity) if guards else None
        describe = " and ".join(p.describe for p in parts)
        return Compiled(check, guard, max(p.cost for p in parts), f"({describe})", test)

    def _any(self, parts: list[Compiled]) -> Compiled:
        ordered = sorted(parts, key=lambda p: p.cost)
        pairs = tuple((p.test, p.check) for p in ordered)
        tests = tuple(p.test for p in ordered)

        def test(ctx: Context) -> bool:
            return any(part(ctx) for part in tests)

        def check(ctx: Context) -> Result:
            for part_test, part_check in pairs:
                if part_test(ctx):
                    return part_check(ctx)
            return None

        guard: Guard = None
        if all(p.guard is not None for p in parts):
            guard = frozenset().union(*(p.guard for p in parts if p.guard is not None))
        describe = " or ".join(p.describe for p in parts)
        return Compiled(check, guard, max(p.cost for p in parts), f"({describe})", test)

    def _not(self, inner: Compiled) -> Compiled:
        inner_test = inner.test
        detail = f"not {inner.describe}"

        def test(ctx: Context) -> bool:
            return not inner_test(ctx)

        def check(ctx: Context) -> Result:
            return None if inner_test(ctx) else (Evidence("not", detail),)

        return Compiled(check, None, inner.cost + 1, detail, test)

    def _terms(self, key: str, value: TermsInput, path: Path) -> Compiled:
        known_before = len(self.problems)
        terms = self._resolve_terms(value, path)
        if len(self.problems) == known_before and not any(t.strip() for t in terms):
            self.problems.append((path, f"`{key}` has no usable terms", "add at least one keyword"))
        set_id = self.index.add_set(terms, whole_words=key == "words")
        names = value.list_names() if isinstance(value, Terms) else []
        source = f" (list {', '.join(names)})" if names else ""
        label = "whole word" if key == "words" else "keyword"

        def check(ctx: Context) -> Result:
            if set_id not in ctx.term_sets:
                return None
            hit = ctx.term_hit(set_id)
            if hit is None:
                return None
            # The skeleton maps one character to one, so positions agree with the normalised
            # text, which is what the admin can find in the message.
            excerpt = ctx.normalized[hit.start : hit.end]
            return (Evidence(key, f"{label} '{hit.term}'{source}", excerpt),)

        def test(ctx: Context) -> bool:
            return set_id in ctx.term_sets

        describe = f"{key} {_terms_label(value)}"
        return Compiled(check, frozenset({("t", set_id)}), _COST[key], describe, test)

    def _regex(self, value: str | Regex, path: Path) -> Compiled:
        pattern = value if isinstance(value, str) else value.pattern
        raw = isinstance(value, Regex) and value.text == "raw"
        where = path if isinstance(value, str) else (*path, "pattern")
        reason = self.regexes.check(pattern)
        if reason:
            self.problems.append((where, f"RE2 rejects this regex: {reason}", _regex_hint(reason)))
            return Compiled(_nothing, None, _COST["regex"], f"regex /{pattern}/", _never)
        regex_id = self.regexes.add(pattern, raw=raw)
        regexes = self.regexes

        if raw:

            def check(ctx: Context) -> Result:
                if regex_id not in ctx.raw_regex_hits:
                    return None
                excerpt = regexes.excerpt(regex_id, ctx.text, raw=True)
                return (Evidence("regex", f"/{pattern}/", excerpt),)

            def test(ctx: Context) -> bool:
                return regex_id in ctx.raw_regex_hits

            trigger: Trigger = ("R", regex_id)
        else:

            def check(ctx: Context) -> Result:
                if regex_id not in ctx.regex_hits:
                    return None
                excerpt = regexes.excerpt(regex_id, ctx.normalized, raw=False)
                return (Evidence("regex", f"/{pattern}/", excerpt),)

            def test(ctx: Context) -> bool:
                return regex_id in ctx.regex_hits

            trigger = ("r", regex_id)
        describe = f"regex /{pattern}/"
        return Compiled(check, frozenset({trigger}), _COST["regex"], describe, test)

    def _links(self, value: Links, path: Path) -> Compiled:
        tests: list[_Part] = []
        needs_links = True
        if value.count is not None:
            count = value.count
            needs_links = not count.test(0)
            count_ok, count_said = _compare(count), count.describe()

            def count_test(ctx: Context) -> Evidence | None:
                n = len(ctx.links)
                return Evidence("links", f"{n} link(s), {count_said}") if count_ok(n) else None

            tests.append(_part(count_test, lambda ctx: count_ok(len(ctx.links))))
        if value.domains is not None:
            listed = self._domains(value.domains, (*path, "domains"))

            def domain_test(ctx: Context) -> Evidence | None:
                for link in ctx.links:
                    entry = listed.find(link.host, link.path)
                    if entry is not None:
                        return Evidence("links", f"link to listed domain {entry}", link.url[:80])
                return None

            tests.append(_part(domain_test))
        if value.outside is not None:
            allowed = self._domains(value.outside, (*path, "outside"))

            def outside_test(ctx: Context) -> Evidence | None:
                for link in ctx.links:
                    if allowed.find(link.host, link.path) is None:
                        return Evidence(
                            "links", f"link to {link.host}, not an allowed domain", link.url[:80]
                        )
                return None

            tests.append(_part(outside_test))
        if value.invite is not None:
            want = value.invite

            def invite_test(ctx: Context) -> Evidence | None:
                invite = next((link for link in ctx.links if link.is_invite), None)
                if want and invite is not None:
                    return Evidence("links", f"invite link to {invite.host}", invite.url[:80])
                if not want and invite is None:
                    return Evidence("links", "no invite link")
                return None

            tests.append(_part(invite_test))
            needs_links = needs_links and want
        if not tests:
            self.problems.append((path, "`links` needs count, domains, outside or invite", ""))
        return self._combine("links", tests, frozenset({("links",)}) if needs_links else None)

    def _mentions(self, value: Compare, path: Path) -> Compiled:
        ok, said = _compare(value), value.describe()

        def test(ctx: Context) -> Evidence | None:
            n = ctx.mentions
            return Evidence("mentions", f"{n} mentions, {said}") if ok(n) else None

        guard: Guard = None if value.test(0) else frozenset({("mentions",)})
        return self._combine("mentions", [_part(test, lambda ctx: ok(ctx.mentions))], guard)

    def _length(self, value: Compare, path: Path) -> Compiled:
        ok, said = _compare(value), value.describe()

        def test(ctx: Context) -> Evidence | None:
            n = len(ctx.text)
            return Evidence("length", f"{n} characters, {said}") if ok(n) else None

        return self._combine("length", [_part(test, lambda ctx: ok(len(ctx.text)))], None)

    def _emoji(self, value: Compare, path: Path) -> Compiled:
        ok, said = _compare(value), value.describe()

        def test(ctx: Context) -> Evidence | None:
            n = count_emoji(ctx.text)
            return Evidence("emoji", f"{n} emoji, {said}") if ok(n) else None

        return self._combine("emoji", [_part(test)], None)

    def _caps(self, value: Caps, path: Path) -> Compiled:
        def test(ctx: Context) -> Evidence | None:
            ratio, letters = caps_ratio(ctx.text)
            if letters < value.min_letters or not value.ratio.test(ratio):
                return None
            return Evidence(
                "caps", f"{ratio:.0%} capitals in {letters} letters, {value.ratio.describe()}"
            )

        return self._combine("caps", [_part(test)], None)

    def _media(self, value: list[str], path: Path) -> Compiled:
        kinds = frozenset(value)

        def test(ctx: Context) -> Evidence | None:
            event = ctx.event
            if not isinstance(event, Message):
                return None
            found = kinds & event.media
            return Evidence("media", ", ".join(sorted(found))) if found else None

        return self._combine("media", [_part(test)], frozenset({("media",)}))

    def _forwarded(self, value: bool, path: Path) -> Compiled:
        def test(ctx: Context) -> Evidence | None:
            event = ctx.event
            forwarded = isinstance(event, Message) and event.forward is not None
            if forwarded != value:
                return None
            return Evidence("forwarded", "forwarded message" if forwarded else "not forwarded")

        guard: Guard = frozenset({("forward",)}) if value else None
        return self._combine("forwarded", [_part(test)], guard)

    def _edited(self, value: bool, path: Path) -> Compiled:
        def test(ctx: Context) -> Evidence | None:
            event = ctx.event
            edited = isinstance(event, Message) and event.edited
            return (
                Evidence("edited", "edited message" if edited else "new message")
                if edited == value
                else None
            )

        return self._combine("edited", [_part(test)], None)

    def _blocked(self, value: bool, path: Path) -> Compiled:
        def test(ctx: Context) -> Evidence | None:
            event = ctx.event
            blocked_by = event.blocked_by if isinstance(event, Message) else ""
            if bool(blocked_by) != value:
                return None
            return Evidence("blocked", f"blocked by {blocked_by}" if blocked_by else "not blocked")

        # Blocked messages are rare: a rule asking for one runs only when there is one.
        guard: Guard = frozenset({("blocked",)}) if value else None
        return self._combine("blocked", [_part(test)], guard)

    def _flood(self, value: Flood, path: Path) -> Compiled:
        self.history_window = max(self.history_window, value.within)
        window = value.within
        limit = value.messages

        def holds(ctx: Context) -> bool:
            event = ctx.event
            if not isinstance(event, Message) or event.edited:
                return False
            if len(ctx.member.recent) + 1 < limit:
                return False  # too little history to reach the limit, whatever its times
            return ctx.messages_within(window) >= limit

        def test(ctx: Context) -> Evidence | None:
            if not holds(ctx):
                return None
            count = ctx.messages_within(window)
            return Evidence(
                "flood", f"{count} messages within {format_duration(window)} (limit {limit})"
            )

        # The count includes this message and at most every earlier one, so a member with fewer
        # than `limit - 1` recent messages cannot flood: such messages skip the rule entirely.
        return self._combine("flood", [_part(test, holds)], _history_guard(limit))

    def _repeated(self, value: Repeated, path: Path) -> Compiled:
        self.history_window = max(self.history_window, value.within)
        window = value.within
        limit = value.count

        def holds(ctx: Context) -> bool:
            event = ctx.event
            if not isinstance(event, Message) or event.edited or not ctx.normalized:
                return False
            if len(ctx.member.recent) + 1 < limit:
                return False  # too little history to reach the limit, whatever it holds
            return ctx.repeats_within(window) >= limit

        def test(ctx: Context) -> Evidence | None:
            if not holds(ctx):
                return None
            count = ctx.repeats_within(window)
            return Evidence(
                "repeated",
                f"same text {count} times within {format_duration(window)} (limit {limit})",
                ctx.text[:80],
            )

        # Only earlier messages of the same length can be the same text (see `fingerprint`):
        # a member without `limit - 1` of them skips the rule without hashing anything.
        return self._combine("repeated", [_part(test, holds)], frozenset({("repeat", limit - 1)}))

    def _raid(self, value: Raid, path: Path) -> Compiled:
        self.join_window = max(self.join_window, value.within)
        window = value.within
        limit = value.joins

        def test(ctx: Context) -> Evidence | None:
            if not isinstance(ctx.event, Join):
                return None
            since = ctx.now - window
            count = 1 + sum(1 for at in ctx.chat.recent_joins if since <= at <= ctx.now)
            if count < limit:
                return None
            return Evidence(
                "raid", f"{count} joins within {format_duration(window)} (limit {limit})"
            )

        return self._combine("raid", [_part(test)], None)

    def _script(self, value: Script, path: Path) -> Compiled:
        names = tuple(value.any_)

        def test(ctx: Context) -> Evidence | None:
            if not ctx.text:
                return None
            counts, letters = script_counts(ctx.text)
            if letters < value.min_letters:
                return None
            share = sum(counts[n] for n in names) / letters
            if not value.share.test(share):
                return None
            return Evidence("script", f"{share:.0%} of {letters} letters in {'/'.join(names)}")

        return self._combine("script", [_part(test)], None)

    def _member(self, value: Member, path: Path) -> Compiled:
        tests: list[_Part] = []
        day = timedelta(days=1)
        for fact in ("level", "messages", "strikes"):
            compare = getattr(value, fact)
            if compare is not None:
                tests.append(_member_number(fact, compare))
        if value.days_since_join is not None:
            compare_days = value.days_since_join
            days_ok, days_said = _compare(compare_days), compare_days.describe()

            def days_holds(ctx: Context) -> bool:
                joined = ctx.member.joined_at
                return joined is not None and days_ok((ctx.now - joined) / day)

            def days_test(ctx: Context) -> Evidence | None:
                joined = ctx.member.joined_at
                if joined is None:
                    return None
                days = (ctx.now - joined) / day
                if not days_ok(days):
                    return None
                return Evidence("member", f"joined {days:.1f} days ago, {days_said}")

            tests.append(_part(days_test, days_holds))
        if value.admin is not None:
            want = value.admin

            def admin_test(ctx: Context) -> Evidence | None:
                if ctx.member.is_admin != want:
                    return None
                return Evidence("member", "is an admin" if want else "is not an admin")

            tests.append(_part(admin_test, lambda ctx: ctx.member.is_admin == want))
        return self._combine("member", tests, None)

    # -- helpers ------------------------------------------------------------------------

    def _combine(self, key: str, parts: list[_Part], guard: Guard) -> Compiled:
        """One compiled test from several sub-tests that must all hold."""
        if len(parts) == 1:
            only = parts[0].explain

            def single(ctx: Context) -> Result:
                found = only(ctx)
                return (found,) if found is not None else None

            return Compiled(single, guard, _COST[key], key, parts[0].holds)
        tests = tuple(p.holds for p in parts)
        explains = tuple(p.explain for p in parts)

        def test(ctx: Context) -> bool:
            return all(part(ctx) for part in tests)

        def check(ctx: Context) -> Result:
            for part_test in tests:
                if not part_test(ctx):
                    return None
            evidence = []
            for explain in explains:
                found = explain(ctx)
                if found is None:  # cannot happen: its test said it holds
                    return None
                evidence.append(found)
            return tuple(evidence)

        return Compiled(check, guard, _COST[key], key, test)

    def _resolve_terms(self, value: TermsInput, path: Path) -> list[str]:
        if isinstance(value, list):
            return list(value)
        terms = list(value.terms)
        named: list[tuple[Path, str]] = [
            ((*path, "lists", i), n) for i, n in enumerate(value.lists)
        ]
        if value.list_:
            named.insert(0, ((*path, "list"), value.list_))
        for where, name in named:
            if name not in self.lists:
                hint = did_you_mean(name, self.lists) or "define it under `lists:` at the top"
                self.problems.append((where, f"unknown list '{name}'", hint))
                continue
            terms.extend(self.lists[name])
        return terms

    def _domains(self, value: TermsInput, path: Path) -> DomainSet:
        terms = self._resolve_terms(value, path)
        key = tuple(terms)
        cached = self._domain_sets.get(key)
        if cached is None:
            cached = self._domain_sets[key] = DomainSet.of(terms)
        return cached


def _member_number(fact: str, compare: Compare) -> _Part:
    attribute = {"level": "level", "messages": "message_count", "strikes": "strikes"}[fact]
    ok, said = _compare(compare), compare.describe()

    def test(ctx: Context) -> Evidence | None:
        value = getattr(ctx.member, attribute)
        if not ok(value):
            return None
        return Evidence("member", f"{fact} {value}, {said}")

    def holds(ctx: Context) -> bool:
        return ok(getattr(ctx.member, attribute))

    return _part(test, holds)


def _compare(compare: Compare) -> Callable[[float], bool]:
    """`compare.test` specialised to its one bound when it has one (the usual case).

    Length and member tests run on nearly every message: a `partial` of an `operator` function
    compares in C, where `compare.test` runs five `is None` checks in Python. The operands are
    swapped (`x >= 3` is `3 <= x`), which numbers compare alike.
    """
    bounds = (compare.gt, compare.gte, compare.lt, compare.lte, compare.eq)
    if sum(b is not None for b in bounds) != 1:
        return compare.test
    if compare.gte is not None:
        return partial(operator.le, compare.gte)
    if compare.lt is not None:
        return partial(operator.gt, compare.lt)
    if compare.gt is not None:
        return partial(operator.lt, compare.gt)
    if compare.lte is not None:
        return partial(operator.ge, compare.lte)
    return compare.test


def _history_guard(limit: int) -> Guard:
    """Fires when the member has at least `limit - 1` recent messages (flood, repeated)."""
    return frozenset({("history", limit - 1)})


def _selectivity(guard: frozenset[Trigger]) -> tuple[int, int]:
    rare = all(t[0] in ("t", "r", "R") for t in guard)
    return (0 if rare else 1, len(guard))


def _terms_label(value: TermsInput) -> str:
    if isinstance(value, list):
        shown = ", ".join(repr(t) for t in value[:3])
        return f"[{shown}{', …' if len(value) > 3 else ''}]"
    names = value.list_names()
    parts = [f"list {n}" for n in names]
    if value.terms:
        parts.append(f"{len(value.terms)} terms")
    return " + ".join(parts)


def _regex_hint(reason: str) -> str:
    lowered = reason.lower()
    if "perl operator" in lowered or "(?=" in reason or "(?!" in reason or "(?<" in reason:
        return (
            "RE2 has no look-around ((?=…), (?!…), (?<=…)); it keeps matching linear-time so a "
            "pattern cannot hang the bot: split the rule or use `not:` instead"
        )
    if "escape sequence" in lowered and any(f"\\{d}" in reason for d in "123456789"):
        return (
            "RE2 has no back-references (\\1); it keeps matching linear-time so a pattern cannot "
            "hang the bot: use `repeated:` for repeated text"
        )
    return "see https://github.com/google/re2/wiki/Syntax for what RE2 accepts"
