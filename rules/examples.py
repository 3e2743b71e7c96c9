"""Run the `examples:` written under rules, the way `steward test` reports them.

An example is an event plus the member facts around it. `match` examples must make their rule
match (enforced or in shadow mode, since shadow rules still decide); `no_match` examples must not.
Earlier messages (`before`) and earlier joins (`joins_before`) let flood, repeated-text and raid
rules be tried without a running bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.events import (
    AnyEvent,
    Chat,
    EventKind,
    ForwardInfo,
    Join,
    JoinRequest,
    Leave,
    MediaKind,
    Message,
    Reaction,
    User,
)
from bot.facts import ChatFacts, MemberFacts, RecentMessage
from rules.context import fingerprint
from rules.normalize import normalize
from rules.ruleset import CompiledRule, RuleSet, Verdict
from rules.schema import Example, ExampleInput, Mode

# A fixed moment so that example runs are repeatable.
EXAMPLE_TIME = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
EXAMPLE_CHAT = Chat("example-chat", "Example chat")
EXAMPLE_USER = User("example-user", "Example Member", "example_member")


@dataclass(frozen=True, slots=True)
class ExampleOutcome:
    rule: CompiledRule
    expect_match: bool
    position: int
    example: Example
    verdict: Verdict

    @property
    def matched(self) -> bool:
        return any(m.rule.id == self.rule.id for m in (*self.verdict.matches, *self.verdict.shadow))

    @property
    def passed(self) -> bool:
        return self.matched == self.expect_match

    @property
    def label(self) -> str:
        group = "match" if self.expect_match else "no_match"
        return f"{self.rule.id}::{group}[{self.position}]"

    def explain_failure(self) -> str:
        shown = self.example.text or f"<{self.example.event.value}>"
        if self.expect_match:
            lines = [f"expected rule '{self.rule.id}' to match {shown!r}, but it did not"]
            for skipped in self.verdict.skipped:
                if skipped.rule.id == self.rule.id:
                    lines.append(f"  {skipped.reason}")
        else:
            lines = [f"expected rule '{self.rule.id}' not to match {shown!r}, but it did:"]
            for match in (*self.verdict.matches, *self.verdict.shadow):
                if match.rule.id == self.rule.id:
                    lines.extend(f"  {e.format()}" for e in match.evidence)
        others = [m.rule.id for m in self.verdict.matches if m.rule.id != self.rule.id]
        if others:
            lines.append(f"  (other rules that matched: {', '.join(others)})")
        return "\n".join(lines)


def as_example(value: ExampleInput) -> Example:
    return Example(text=value) if isinstance(value, str) else value


def build_event(
    example: Example, now: datetime = EXAMPLE_TIME
) -> tuple[AnyEvent, MemberFacts, ChatFacts]:
    """The event and facts an example describes."""
    facts = example.member
    joined = (
        now - timedelta(days=facts.days_since_join) if facts.days_since_join is not None else None
    )
    recent = tuple(
        RecentMessage(
            at=now - example.every * (len(example.before) - i),
            fingerprint=fingerprint(normalize(text)),
        )
        for i, text in enumerate(example.before)
    )
    member = MemberFacts(
        level=facts.level,
        joined_at=joined,
        message_count=facts.messages,
        strikes=facts.strikes,
        is_admin=facts.admin,
        recent=recent,
    )
    chat = ChatFacts(
        recent_joins=tuple(now - example.every * (k + 1) for k in range(example.joins_before))
    )
    return _event(example, now), member, chat


def _event(example: Example, now: datetime) -> AnyEvent:
    base = {"platform": "example", "chat": EXAMPLE_CHAT, "actor": EXAMPLE_USER, "at": now}
    if example.event is EventKind.JOIN:
        return Join(**base, id="example-1")  # type: ignore[arg-type]
    if example.event is EventKind.LEAVE:
        return Leave(**base, id="example-1")  # type: ignore[arg-type]
    if example.event is EventKind.REACTION:
        emoji = (example.text,) if example.text else ()
        return Reaction(**base, id="example-1", message_id="example-0", emoji=emoji)  # type: ignore[arg-type]
    if example.event is EventKind.JOIN_REQUEST:
        return JoinRequest(**base, id="example-1", bio=example.text)  # type: ignore[arg-type]
    return Message(
        **base,  # type: ignore[arg-type]
        id="example-1",
        text=example.text,
        links=tuple(example.links),
        mentions=tuple(example.mentions),
        media=frozenset(MediaKind(m) for m in example.media),
        forward=ForwardInfo(from_name="somewhere") if example.forwarded else None,
        edited=example.edited,
        blocked_by="example filter" if example.blocked else "",
    )


def run_examples(ruleset: RuleSet) -> list[ExampleOutcome]:
    """Every example of every rule that is not switched off, in file order."""
    outcomes: list[ExampleOutcome] = []
    for rule in ruleset.rules:
        if rule.examples is None or rule.mode is Mode.OFF:
            continue
        for expect, values in ((True, rule.examples.match), (False, rule.examples.no_match)):
            for position, value in enumerate(values):
                example = as_example(value)
                event, member, chat = build_event(example)
                verdict = ruleset.evaluate(event, member, chat, EXAMPLE_TIME, explain=True)
                outcomes.append(ExampleOutcome(rule, expect, position, example, verdict))
    return outcomes
