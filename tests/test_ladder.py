"""The strike ladder: decay arithmetic (property tests) and the default ladder (examples)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.actions import ActionKind, Permission
from rules import DEFAULT_LADDER, LIBRARY, Ladder, LadderDecision, LadderStep, StrikeEntry
from rules.ladder import Decay, strike_total
from tests.helpers import T0, load

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)

# -- strategies --------------------------------------------------------------------------------

decays = st.builds(
    Decay,
    points=st.integers(min_value=1, max_value=3),
    every=st.sampled_from([HOUR, DAY, WEEK])
    | st.integers(1, 30 * 86400).map(lambda s: timedelta(seconds=s)),
)
# Offsets in seconds from T0: a few shared instants make ties likely, the rest spread over weeks.
offsets = st.sampled_from([0, 3600, 86400, 7 * 86400]) | st.integers(0, 60 * 86400)
strikes = st.integers(min_value=1, max_value=5)
pardons = st.integers(min_value=-5, max_value=-1)


@st.composite
def ledgers(draw: st.DrawFn, *, with_pardons: bool = True) -> list[StrikeEntry]:
    points = (strikes | pardons) if with_pardons else strikes
    return [
        StrikeEntry(at=T0 + timedelta(seconds=draw(offsets)), points=draw(points))
        for _ in range(draw(st.integers(min_value=0, max_value=8)))
    ]


@st.composite
def ladders(draw: st.DrawFn) -> Ladder:
    ats = sorted(draw(st.sets(st.integers(min_value=1, max_value=20), min_size=1, max_size=6)))
    kinds = [ActionKind.WARN, ActionKind.MUTE, ActionKind.RESTRICT, ActionKind.KICK, ActionKind.BAN]
    steps = tuple(
        LadderStep(at, draw(st.sampled_from(kinds)), draw(st.sampled_from([None, HOUR, DAY])))
        for at in ats
    )
    return Ladder(steps, draw(st.none() | decays))


def last_at(entries: list[StrikeEntry]) -> timedelta:
    return max((e.at - T0 for e in entries), default=timedelta(0))


# -- properties of the total ---------------------------------------------------------------------


@given(entries=ledgers(), decay=st.none() | decays, at=offsets)
def test_total_is_never_negative(entries: list[StrikeEntry], decay: Decay | None, at: int) -> None:
    assert strike_total(entries, T0 + timedelta(seconds=at), decay) >= 0


@given(
    entries=ledgers(),
    decay=st.none() | decays,
    wait=st.integers(0, 90 * 86400),
    more=st.integers(0, 90 * 86400),
)
def test_without_new_entries_the_total_never_increases(
    entries: list[StrikeEntry], decay: Decay | None, wait: int, more: int
) -> None:
    start = T0 + last_at(entries) + timedelta(seconds=wait)
    later = start + timedelta(seconds=more)

    assert strike_total(entries, later, decay) <= strike_total(entries, start, decay)


@given(entries=ledgers(), decay=st.none() | decays, at=offsets, points=strikes)
def test_a_strike_raises_the_total_at_that_instant_by_its_points(
    entries: list[StrikeEntry], decay: Decay | None, at: int, points: int
) -> None:
    now = T0 + timedelta(seconds=at)
    before = strike_total(entries, now, decay)

    after = strike_total([*entries, StrikeEntry(at=now, points=points)], now, decay)

    assert after == before + points


@given(entries=ledgers(), decay=decays, gap=st.integers(1, 30 * 86400), points=strikes)
def test_after_a_strike_each_full_period_forgives_its_points_until_zero(
    entries: list[StrikeEntry], decay: Decay, gap: int, points: int
) -> None:
    struck = T0 + last_at(entries) + timedelta(seconds=gap)
    ledger = [*entries, StrikeEntry(at=struck, points=points)]
    total = strike_total(ledger, struck, decay)

    for periods in range(total // decay.points + 3):
        start = struck + periods * decay.every
        expected = max(0, total - periods * decay.points)
        assert strike_total(ledger, start, decay) == expected
        # Nothing more is forgiven until the period is full.
        almost = start + decay.every - timedelta(seconds=1)
        assert strike_total(ledger, almost, decay) == expected


@given(entries=ledgers(), decay=decays, gap=st.integers(1, 30 * 86400), points=strikes)
def test_a_new_strike_restarts_the_decay_clock(
    entries: list[StrikeEntry], decay: Decay, gap: int, points: int
) -> None:
    """However far the clock had run, nothing is forgiven for a full period after a strike."""
    struck = T0 + last_at(entries) + timedelta(seconds=gap)
    ledger = [*entries, StrikeEntry(at=struck, points=points)]
    total = strike_total(ledger, struck, decay)

    assert strike_total(ledger, struck + decay.every - timedelta(seconds=1), decay) == total


@given(
    decay=decays,
    points=strikes,
    pardon=st.integers(min_value=1, max_value=5),
    pardon_after=st.integers(0, 30 * 86400),
    wait=st.integers(0, 60 * 86400),
)
def test_a_pardon_does_not_restart_the_decay_clock(
    decay: Decay, points: int, pardon: int, pardon_after: int, wait: int
) -> None:
    pardoned = T0 + timedelta(seconds=pardon_after)
    now = pardoned + timedelta(seconds=wait)
    ledger = [StrikeEntry(at=T0, points=points), StrikeEntry(at=pardoned, points=-pardon)]

    periods = (now - T0) // decay.every

    assert strike_total(ledger, now, decay) == max(0, points - pardon - periods * decay.points)


@given(entries=ledgers(), future=ledgers(), decay=st.none() | decays, at=offsets)
def test_entries_after_now_are_ignored(
    entries: list[StrikeEntry],
    future: list[StrikeEntry],
    decay: Decay | None,
    at: int,
) -> None:
    now = T0 + timedelta(seconds=at)
    past = [e for e in entries if e.at <= now]
    later = [e for e in future if e.at > now]

    assert strike_total([*past, *later], now, decay) == strike_total(past, now, decay)


@given(entries=ledgers(), decay=st.none() | decays, at=offsets, seed=st.integers())
def test_the_order_of_entries_at_different_times_does_not_matter(
    entries: list[StrikeEntry], decay: Decay | None, at: int, seed: int
) -> None:
    distinct = list({e.at: e for e in entries}.values())
    now = T0 + timedelta(seconds=at)
    shuffled = list(distinct)
    random.Random(seed).shuffle(shuffled)

    assert strike_total(shuffled, now, decay) == strike_total(distinct, now, decay)


def test_entries_at_the_same_instant_apply_in_ledger_order() -> None:
    strike = StrikeEntry(at=T0, points=1)
    pardon = StrikeEntry(at=T0, points=-2)

    # A strike then a pardon in one instant: the pardon cancels it.
    assert strike_total([strike, pardon], T0, None) == 0
    # A pardon then a new strike: the strike stands.
    assert strike_total([pardon, strike], T0, None) == 1


@given(entries=ledgers(with_pardons=False), at=offsets)
def test_without_decay_strikes_never_expire(entries: list[StrikeEntry], at: int) -> None:
    now = T0 + last_at(entries) + timedelta(seconds=at)

    assert strike_total(entries, now, None) == sum(e.points for e in entries)


# -- properties of the steps ---------------------------------------------------------------------


@given(ladder=ladders(), total=st.integers(min_value=0, max_value=30))
def test_only_the_highest_reached_step_fires(ladder: Ladder, total: int) -> None:
    reached = [s for s in ladder.steps if s.at <= total]

    assert ladder.step_for(total) == (reached[-1] if reached else None)


@given(ladder=ladders(), entries=ledgers(), at=offsets, points=st.integers(0, 10))
def test_decide_adds_the_points_and_picks_one_step(
    ladder: Ladder, entries: list[StrikeEntry], at: int, points: int
) -> None:
    now = T0 + timedelta(seconds=at)
    before = ladder.total(entries, now)

    decision = ladder.decide(entries, now, points)

    if points == 0:
        assert decision == LadderDecision(before=before, after=before, step=None)
    else:
        after = before + points
        assert decision == LadderDecision(before=before, after=after, step=ladder.step_for(after))
        assert ladder.total([*entries, StrikeEntry(at=now, points=points)], now) == after


@given(ladder=ladders(), total=st.integers(min_value=0, max_value=30))
def test_step_thresholds_are_monotonic(ladder: Ladder, total: int) -> None:
    lower = ladder.step_for(total)
    higher = ladder.step_for(total + 1)

    assert (lower.at if lower else 0) <= (higher.at if higher else 0)


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ats", [(2, 1), (1, 1), (1, 3, 2)])
def test_steps_must_be_distinct_and_increasing(ats: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="increasing order"):
        Ladder(tuple(LadderStep(at, ActionKind.WARN) for at in ats))


@pytest.mark.parametrize(("points", "every"), [(0, WEEK), (-1, WEEK), (1, timedelta(0))])
def test_decay_needs_positive_points_and_period(points: int, every: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        Decay(points, every)


# -- the built-in default ladder -----------------------------------------------------------------


def test_default_ladder_steps() -> None:
    assert DEFAULT_LADDER.steps == (
        LadderStep(1, ActionKind.WARN),
        LadderStep(2, ActionKind.MUTE, HOUR),
        LadderStep(3, ActionKind.MUTE, DAY),
        LadderStep(5, ActionKind.BAN, WEEK),
        LadderStep(7, ActionKind.BAN),
    )
    assert DEFAULT_LADDER.decay == Decay(1, WEEK)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, None),
        (1, "warn"),
        (2, "mute for 1h"),
        (3, "mute for 1d"),
        (4, "mute for 1d"),
        (5, "ban for 7d"),
        (6, "ban for 7d"),
        (7, "ban until undone"),
        (100, "ban until undone"),
    ],
)
def test_default_ladder_step_for_each_total(total: int, expected: str | None) -> None:
    step = DEFAULT_LADDER.step_for(total)

    assert (step.describe() if step else None) == expected


def test_first_offence_is_a_warning() -> None:
    decision = DEFAULT_LADDER.decide([], T0, 1)

    assert decision == LadderDecision(before=0, after=1, step=LadderStep(1, ActionKind.WARN))


def test_second_offence_mutes_for_an_hour() -> None:
    decision = DEFAULT_LADDER.decide([StrikeEntry(at=T0 - DAY, points=1)], T0, 1)

    assert decision == LadderDecision(before=1, after=2, step=LadderStep(2, ActionKind.MUTE, HOUR))


def test_a_big_offence_jumps_to_the_highest_step_reached_only() -> None:
    decision = DEFAULT_LADDER.decide([], T0, 5)

    assert decision.step == LadderStep(5, ActionKind.BAN, WEEK)


def test_a_zero_point_match_fires_no_step() -> None:
    decision = DEFAULT_LADDER.decide([StrikeEntry(at=T0 - HOUR, points=3)], T0, 0)

    assert decision == LadderDecision(before=3, after=3, step=None)


def test_three_strikes_are_forgiven_after_three_weeks() -> None:
    ledger = [StrikeEntry(at=T0, points=1) for _ in range(3)]

    totals = [DEFAULT_LADDER.total(ledger, T0 + days * DAY) for days in (0, 6, 7, 13, 14, 20, 21)]

    assert totals == [3, 3, 2, 2, 1, 1, 0]


def test_a_new_strike_restarts_the_week() -> None:
    ledger = [StrikeEntry(at=T0, points=2), StrikeEntry(at=T0 + 6 * DAY, points=1)]

    # One week after the first strike but one day after the second: nothing forgiven yet.
    assert DEFAULT_LADDER.total(ledger, T0 + WEEK) == 3
    assert DEFAULT_LADDER.total(ledger, T0 + 13 * DAY) == 2


def test_a_pardon_takes_points_off_without_restarting_the_week() -> None:
    ledger = [StrikeEntry(at=T0, points=3), StrikeEntry(at=T0 + 6 * DAY, points=-1)]

    assert DEFAULT_LADDER.total(ledger, T0 + 6 * DAY) == 2
    assert DEFAULT_LADDER.total(ledger, T0 + WEEK) == 1
    assert DEFAULT_LADDER.total(ledger, T0 + 2 * WEEK) == 0


def test_a_pardon_never_goes_below_zero_nor_banks_credit() -> None:
    ledger = [StrikeEntry(at=T0, points=-5), StrikeEntry(at=T0 + HOUR, points=1)]

    assert DEFAULT_LADDER.total(ledger, T0 + HOUR) == 1


def test_manual_warning_feeds_the_same_ladder() -> None:
    """An admin's /warn adds its points with `decide`, exactly like a rule's strike."""
    rule_strike = StrikeEntry(at=T0 - HOUR, points=1)

    decision = DEFAULT_LADDER.decide([rule_strike], T0, 1)

    assert decision.after == 2
    assert decision.step == LadderStep(2, ActionKind.MUTE, HOUR)


# -- ladders from rule files -------------------------------------------------------------------


def test_ladder_from_a_rule_file() -> None:
    ruleset = load(
        """
        ladder:
          decay: {points: 2, every: 3d}
          steps:
            - {at: 1, action: warn, message: "{user}, careful"}
            - {at: 3, action: restrict, permissions: [send_links], duration: 1d}
            - {at: 6, action: kick}
        rules:
          - {id: r, when: {keywords: [x]}, strike: 1}
        """
    )

    assert ruleset.ladder == Ladder(
        steps=(
            LadderStep(1, ActionKind.WARN, message="{user}, careful"),
            LadderStep(3, ActionKind.RESTRICT, DAY, frozenset({Permission.SEND_LINKS})),
            LadderStep(6, ActionKind.KICK),
        ),
        decay=Decay(2, timedelta(days=3)),
    )


def test_rule_files_without_a_ladder_use_the_default() -> None:
    ruleset = load("rules: [{id: r, when: {keywords: [x]}, strike: 1}]")

    assert ruleset.ladder == DEFAULT_LADDER


def test_stock_ladder_file_decays_and_escalates() -> None:
    ladder = load((LIBRARY / "ladder.yaml").read_text(encoding="utf-8")).ladder

    assert ladder.decay is not None
    assert ladder.steps[0].at == 1
    assert ladder.steps[0].action is ActionKind.WARN
    assert ladder.steps[-1].action is ActionKind.BAN
