"""A compiled rule set and its verdicts.

`RuleSet.evaluate` is the pure function at the heart of Steward: (event, member facts, chat facts,
time) → `Verdict`. `plan` turns a verdict and the ladder's decision into canonical actions. Neither
does I/O or keeps state, so the same inputs always give the same answer, in the bot, in
`steward explain`, in `steward test` and in replays.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from bot.actions import (
    SEVERITY,
    Action,
    ActionKind,
    Ban,
    Delete,
    Kick,
    Mute,
    NotifyAdmins,
    Permission,
    Restrict,
    Send,
    Warn,
)
from bot.events import AnyEvent, EventKind, Message
from bot.facts import NO_CHAT_FACTS, ChatFacts, MemberFacts
from rules.compiler import Check, Guard, Trigger
from rules.context import Context, Evidence, RegexSets
from rules.ladder import DEFAULT_LADDER, Ladder, LadderDecision, LadderStep
from rules.record import Record
from rules.schema import Examples, Mode
from rules.terms import TermIndex


@dataclass(frozen=True, slots=True)
class Punishment:
    """A rule's direct action (bypassing the ladder), e.g. `action: {type: kick}` for a raid."""

    action: ActionKind
    duration: timedelta | None = None
    permissions: frozenset[Permission] = frozenset()
    message: str = ""

    @classmethod
    def from_step(cls, step: LadderStep) -> Punishment:
        return cls(step.action, step.duration, step.permissions, step.message)

    def describe(self) -> str:
        return LadderStep(1, self.action, self.duration, self.permissions).describe()


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    id: str
    kinds: frozenset[EventKind]
    when: Check
    unless: Check | None
    guard: Guard
    mode: Mode
    strike: int
    delete: bool
    reply: str
    punishment: Punishment | None
    notify_admins: bool
    exempt_admins: bool
    reason: str
    description: str
    file: str
    line: int
    examples: Examples | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def why(self) -> str:
        return self.reason or self.description or self.id


class RuleMatch(Record):
    """A rule that matched and why."""

    __slots__ = ("evidence", "rule")
    _fields = ("rule", "evidence")

    def __init__(self, rule: CompiledRule, evidence: tuple[Evidence, ...]) -> None:
        self.rule: Final = rule
        self.evidence: Final = evidence


@dataclass(frozen=True, slots=True)
class Skipped:
    """A rule that applied to the event but did not act, and why (for `steward explain`)."""

    rule: CompiledRule
    reason: str


class Verdict(Record):
    """What the rules found for one event: the matches that act, those of shadow rules (logged
    only), and for `steward explain` the rules that matched but did not act, and why."""

    __slots__ = ("admin", "event", "matches", "shadow", "skipped")
    _fields = ("event", "matches", "shadow", "skipped", "admin")

    def __init__(
        self,
        event: AnyEvent,
        matches: tuple[RuleMatch, ...] = (),
        shadow: tuple[RuleMatch, ...] = (),
        skipped: tuple[Skipped, ...] = (),
        admin: bool = False,
    ) -> None:
        self.event: Final = event
        self.matches: Final = matches
        self.shadow: Final = shadow
        self.skipped: Final = skipped
        self.admin: Final = admin

    @property
    def primary(self) -> RuleMatch | None:
        """The match that speaks for the event: the highest strike, then file order."""
        if not self.matches:
            return None
        return max(self.matches, key=lambda m: m.rule.strike)

    @property
    def strike(self) -> int:
        """Points this event adds: one offence counts once, at its most serious rule's weight.

        Admins never collect strikes, whatever a rule says.
        """
        if self.admin or not self.matches:
            return 0
        return max(m.rule.strike for m in self.matches)

    @property
    def delete(self) -> bool:
        return isinstance(self.event, Message) and any(m.rule.delete for m in self.matches)

    @property
    def clean(self) -> bool:
        return not self.matches


@dataclass(frozen=True)
class RuleSet:
    """Rules compiled for one group, plus the ladder and the windows the pipeline must keep."""

    rules: tuple[CompiledRule, ...]
    ladder: Ladder = DEFAULT_LADDER
    index: TermIndex = field(default_factory=TermIndex)
    regexes: RegexSets = field(default_factory=RegexSets)
    # How much member history (flood, repeated) and join history (raid) the rules look at.
    history_window: timedelta = timedelta(0)
    join_window: timedelta = timedelta(0)
    files: tuple[str, ...] = ()
    _by_kind: dict[EventKind, _KindIndex] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_kind: dict[EventKind, _KindIndex] = {}
        for position, rule in enumerate(self.rules):
            if rule.mode is Mode.OFF:
                continue
            for kind in rule.kinds:
                by_kind.setdefault(kind, _KindIndex()).add(position, rule)
        for kind_index in by_kind.values():
            kind_index.freeze()
        object.__setattr__(self, "_by_kind", by_kind)

    def rule(self, rule_id: str) -> CompiledRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def evaluate(
        self,
        event: AnyEvent,
        member: MemberFacts,
        chat: ChatFacts = NO_CHAT_FACTS,
        now: datetime | None = None,
        *,
        explain: bool = False,
        normalized: str | None = None,
    ) -> Verdict:
        """Which rules the event breaks, with evidence. Pure: no I/O, no state.

        `normalized` is the message's text already normalised, for a caller that needs it too
        (the pipeline fingerprints it for repeated-text windows): normalising is the priciest
        step after matching, and doing it once per message is enough.
        """
        kind_index = self._by_kind.get(event.kind)
        if kind_index is None:
            return Verdict(event, admin=member.is_admin)
        ctx = Context(event, member, chat, now or event.at, self.index, self.regexes, normalized)
        candidates = kind_index.candidates(ctx, self.rules) if not explain else kind_index.all
        rules = self.rules
        is_admin = member.is_admin
        matches: list[RuleMatch] = []
        shadow: list[RuleMatch] = []
        skipped: list[Skipped] = []
        for position in candidates:
            rule = rules[position]
            exempt = is_admin and rule.exempt_admins
            if exempt and not explain:
                continue
            evidence = rule.when(ctx)
            if evidence is None:
                continue
            if exempt:
                skipped.append(Skipped(rule, "matched, but admins are exempt from this rule"))
                continue
            if rule.unless is not None:
                excused = rule.unless(ctx)
                if excused is not None:
                    if explain:
                        reasons = "; ".join(e.format() for e in excused) or "unless matched"
                        skipped.append(Skipped(rule, f"matched, but `unless` holds: {reasons}"))
                    continue
            match = RuleMatch(rule, evidence)
            (shadow if rule.mode is Mode.SHADOW else matches).append(match)
        return Verdict(event, tuple(matches), tuple(shadow), tuple(skipped), is_admin)


class _KindIndex:
    """Rules for one event kind, split into always-evaluated and trigger-guarded ones.

    `candidates` runs for every event, so `freeze` sorts the triggers by what fires them, and
    only the features that some guard of this kind looks at are computed up front (a rule that
    needs another feature computes it lazily when it runs).
    """

    def __init__(self) -> None:
        self.all: list[int] = []
        self.unguarded: list[int] = []
        self.by_trigger: dict[Trigger, list[int]] = {}
        self._terms: dict[int, list[int]] = {}  # keyword set id → rules
        self._regexes: dict[int, list[int]] = {}
        self._raw_regexes: dict[int, list[int]] = {}
        self._flags: dict[str, list[int]] = {}  # "links", "mentions", "media", "forward", "blocked"
        self._history: list[tuple[int, list[int]]] = []  # (recent messages needed, rules)
        self._repeats: list[tuple[int, list[int]]] = []  # (same-length messages needed, rules)

    def add(self, position: int, rule: CompiledRule) -> None:
        self.all.append(position)
        if rule.guard is None:
            self.unguarded.append(position)
            return
        for trigger in rule.guard:
            self.by_trigger.setdefault(trigger, []).append(position)

    def freeze(self) -> None:
        """Sort the triggers by kind once all rules are added."""
        by_id = {"t": self._terms, "r": self._regexes, "R": self._raw_regexes}
        for trigger, positions in self.by_trigger.items():
            if len(trigger) == 2 and trigger[0] in by_id:
                by_id[trigger[0]][trigger[1]] = positions
            elif len(trigger) == 2 and trigger[0] == "history":
                self._history.append((trigger[1], positions))
            elif len(trigger) == 2 and trigger[0] == "repeat":
                self._repeats.append((trigger[1], positions))
            else:
                self._flags[trigger[0]] = positions

    def candidates(self, ctx: Context, rules: tuple[CompiledRule, ...]) -> list[int]:
        """Positions of the rules to evaluate, in file order: unguarded ones and fired ones."""
        if not self.by_trigger:
            return self.unguarded
        event = ctx.event
        if not ctx.text and not isinstance(event, Message):
            return self.unguarded
        fired: list[list[int]] = []
        if self._terms:
            for set_id in ctx.term_sets:
                positions = self._terms.get(set_id)
                if positions is not None:
                    fired.append(positions)
        if self._regexes:
            for regex_id in ctx.regex_hits:
                positions = self._regexes.get(regex_id)
                if positions is not None:
                    fired.append(positions)
        if self._raw_regexes:
            for regex_id in ctx.raw_regex_hits:
                positions = self._raw_regexes.get(regex_id)
                if positions is not None:
                    fired.append(positions)
        flags = self._flags
        if flags:
            if "links" in flags and ctx.links:
                fired.append(flags["links"])
            if "mentions" in flags and ctx.mentions:
                fired.append(flags["mentions"])
            if isinstance(event, Message):
                if "media" in flags and event.media:
                    fired.append(flags["media"])
                if "forward" in flags and event.forward is not None:
                    fired.append(flags["forward"])
                if "blocked" in flags and event.blocked_by:
                    fired.append(flags["blocked"])
        if self._history:
            recent = len(ctx.member.recent)
            for needed, positions in self._history:
                if recent >= needed:
                    fired.append(positions)
        if self._repeats and ctx.member.recent:
            same = ctx.same_length_recent
            for needed, positions in self._repeats:
                if same >= needed:
                    fired.append(positions)
        if not fired:
            return self.unguarded
        if len(fired) == 1 and not self.unguarded:
            return fired[0]  # in file order already
        chosen = set(self.unguarded)
        for positions in fired:
            chosen.update(positions)
        return sorted(chosen)


# -- planning ------------------------------------------------------------------------------


def plan(
    verdict: Verdict,
    decision: LadderDecision | None,
    now: datetime,
    *,
    chat_title: str = "",
) -> list[Action]:
    """The actions for a verdict: delete, reply, the one punishment, and admin notices.

    Only one punishment is applied per event, the most severe among the ladder's step and the
    rules' direct actions; admins are never punished whatever the rules say.
    """
    event = verdict.event
    primary = verdict.primary
    if primary is None:
        return []
    chat = event.chat.id
    user = event.actor
    actions: list[Action] = []
    # A message the platform blocked was never posted: nothing to delete, nothing to reply to.
    posted = event if isinstance(event, Message) and not event.blocked_by else None
    if verdict.delete and posted is not None:
        actions.append(Delete(chat=chat, message_id=posted.message_id, reason=primary.rule.why))

    punishment = None if verdict.admin else _punishment(verdict, decision)
    until = now + punishment.duration if punishment and punishment.duration else None
    values = {
        "user": user.display,
        "mention": "@" + user.username if user.username else user.display,
        "rule": primary.rule.id,
        "reason": primary.rule.why,
        "strikes": str(decision.after if decision else 0),
        "chat": chat_title or event.chat.title or chat,
        "step": punishment.describe() if punishment else "",
        "until": until.strftime("%Y-%m-%d %H:%M UTC") if until else "",
    }
    if primary.rule.reply:
        reply_to = posted.message_id if posted is not None and not verdict.delete else ""
        actions.append(
            Send(
                chat=chat,
                text=render(primary.rule.reply, values),
                reply_to=reply_to,
                reason=primary.rule.why,
            )
        )
    if punishment is not None:
        reason = primary.rule.why
        actions.append(
            punishment_action(
                punishment, chat, user.id, user.display, until, reason, values, spam=verdict.delete
            )
        )
        notice = punishment_notice(punishment, chat, values, reason)
        if notice is not None:
            actions.append(notice)
    if any(m.rule.notify_admins for m in verdict.matches):
        evidence = "; ".join(e.format() for e in primary.evidence)
        actions.append(
            NotifyAdmins(
                chat=chat,
                text=f"{user.display} broke rule '{primary.rule.id}': {evidence}",
                reason=primary.rule.why,
            )
        )
    return actions


def _punishment(verdict: Verdict, decision: LadderDecision | None) -> Punishment | None:
    options: list[Punishment] = [m.rule.punishment for m in verdict.matches if m.rule.punishment]
    if decision is not None and decision.step is not None:
        options.append(Punishment.from_step(decision.step))
    if not options:
        return None

    def weight(p: Punishment) -> tuple[int, float]:
        lasting = p.duration.total_seconds() if p.duration is not None else float("inf")
        return SEVERITY.get(p.action, 0), lasting

    return max(options, key=weight)


def punishment_notice(p: Punishment, chat: str, values: dict[str, str], reason: str) -> Send | None:
    """The step's or action's `message`, told in the chat (a warning carries it itself)."""
    if not p.message or p.action is ActionKind.WARN:
        return None
    return Send(chat=chat, text=render(p.message, values), reason=reason)


def punishment_action(
    p: Punishment,
    chat: str,
    user: str,
    name: str,
    until: datetime | None,
    reason: str,
    values: dict[str, str],
    *,
    spam: bool = False,
) -> Action:
    """The member action for a punishment (a ladder step or a rule's direct action).

    `spam`: the offending message was deleted by a rule, so a ban also sweeps the member's
    other recent messages (and, on Telegram, their join notice).
    """
    if p.action is ActionKind.WARN:
        text = render(p.message, values) if p.message else f"{name}, this is a warning: {reason}."
        return Warn(chat=chat, user=user, user_name=name, reason=reason, text=text)
    if p.action is ActionKind.MUTE:
        return Mute(chat=chat, user=user, user_name=name, reason=reason, until=until)
    if p.action is ActionKind.RESTRICT:
        return Restrict(
            chat=chat, user=user, user_name=name, reason=reason, denied=p.permissions, until=until
        )
    if p.action is ActionKind.KICK:
        return Kick(chat=chat, user=user, user_name=name, reason=reason)
    return Ban(
        chat=chat,
        user=user,
        user_name=name,
        reason=reason,
        until=until,
        delete_recent_messages=spam,
    )


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{placeholders}`; unknown ones stay as written (the loader reported them)."""
    return string.Formatter().vformat(template, (), _Values(values))
