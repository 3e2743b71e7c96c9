"""The strike ladder: graduated, forgiving penalties.

Each offence adds strike points; points are forgiven over time; the member's current total picks
one step of the ladder, and only the highest step reached fires. Admins' manual `/warn` adds
points to the same ledger, so a member's history is one story whoever wrote it.

Decay is counted in whole periods of good behaviour: with `decay: {points: 1, every: 7d}`, one
point is forgiven for every full 7 days since the member's last strike. A new strike restarts
that clock (partial periods are not carried over); a pardon takes points off without touching it.
This is easy to explain to a member ("stay clean for a week and a strike comes off") and it
never forgives faster than the admin wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.actions import ActionKind, Permission
from bot.durations import format_duration


@dataclass(frozen=True, slots=True)
class StrikeEntry:
    """One line of a member's strike ledger. Negative points are a pardon."""

    at: datetime
    points: int


@dataclass(frozen=True, slots=True)
class Decay:
    points: int
    every: timedelta

    def __post_init__(self) -> None:
        if self.points < 1 or self.every <= timedelta(0):
            raise ValueError("decay needs positive points and a positive period")


@dataclass(frozen=True, slots=True)
class LadderStep:
    """What happens when a member's total reaches `at`."""

    at: int
    action: ActionKind
    duration: timedelta | None = None
    permissions: frozenset[Permission] = frozenset()
    message: str = ""

    def describe(self) -> str:
        if self.duration is not None:
            return f"{self.action.value} for {format_duration(self.duration)}"
        if self.action in (ActionKind.MUTE, ActionKind.BAN, ActionKind.RESTRICT):
            return f"{self.action.value} until undone"
        return self.action.value


@dataclass(frozen=True, slots=True)
class LadderDecision:
    """The ladder's answer for one new offence (or one manual warning)."""

    before: int
    after: int
    step: LadderStep | None


@dataclass(frozen=True, slots=True)
class StrikeState:
    """Running total and the start of the current decay period."""

    total: int = 0
    clock: datetime | None = None


def advance(state: StrikeState, now: datetime, decay: Decay | None) -> StrikeState:
    """Apply the decay owed between `state.clock` and `now`."""
    if decay is None or state.clock is None or state.total == 0 or now <= state.clock:
        return state
    periods = (now - state.clock) // decay.every
    if periods <= 0:
        return state
    total = max(0, state.total - periods * decay.points)
    return StrikeState(total, state.clock + periods * decay.every)


def apply(state: StrikeState, entry: StrikeEntry, decay: Decay | None) -> StrikeState:
    """Fold one ledger entry into the state (entries must come in time order)."""
    state = advance(state, entry.at, decay)
    if entry.points >= 0:
        return StrikeState(state.total + entry.points, entry.at)
    return StrikeState(max(0, state.total + entry.points), state.clock)


def strike_total(entries: Iterable[StrikeEntry], now: datetime, decay: Decay | None) -> int:
    """A member's total at `now` from their whole ledger; later entries are ignored."""
    state = StrikeState()
    # The sort is stable: entries at the same instant keep the ledger's order (the store returns
    # them by time, then by insertion), so "strike, then pardon" and "pardon, then strike" in
    # one instant mean what they say.
    for entry in sorted(entries, key=lambda e: e.at):
        if entry.at > now:
            break
        state = apply(state, entry, decay)
    return advance(state, now, decay).total


@dataclass(frozen=True, slots=True)
class Ladder:
    steps: tuple[LadderStep, ...]
    decay: Decay | None = None
    # Where the ladder was defined, for explanations.
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        ats = [s.at for s in self.steps]
        if ats != sorted(set(ats)):
            raise ValueError("ladder steps must have distinct `at` values in increasing order")

    def total(self, entries: Iterable[StrikeEntry], now: datetime) -> int:
        return strike_total(entries, now, self.decay)

    def step_for(self, total: int) -> LadderStep | None:
        """The highest step whose threshold the total reaches."""
        reached = None
        for step in self.steps:
            if step.at <= total:
                reached = step
            else:
                break
        return reached

    def decide(self, entries: Iterable[StrikeEntry], now: datetime, points: int) -> LadderDecision:
        """What adding `points` now would do: totals before and after, and the step that fires.

        With `points == 0` (a rule that only deletes) no step fires: the ladder answers offences,
        and a zero-point match is not one.
        """
        before = self.total(entries, now)
        after = before + points if points > 0 else before
        step = self.step_for(after) if points > 0 else None
        return LadderDecision(before, after, step)


DEFAULT_LADDER = Ladder(
    steps=(
        LadderStep(1, ActionKind.WARN),
        LadderStep(2, ActionKind.MUTE, timedelta(hours=1)),
        LadderStep(3, ActionKind.MUTE, timedelta(days=1)),
        LadderStep(5, ActionKind.BAN, timedelta(days=7)),
        LadderStep(7, ActionKind.BAN),
    ),
    decay=Decay(1, timedelta(days=7)),
    source="built-in default",
)
