"""End to end through `bot.testing`: the ladder of issue 3's "Done when".

A member escalates warn → mute → longer mute → ban across virtual days; decay brings them back
down; an admin's `/warn` and `/pardon` move the same ladder; a restart in the middle changes
nothing (strikes, decay, cases, and pending timed actions such as a Discord temporary ban's unban).
Everything runs on a real SQLite file, a virtual clock and the in-memory platform.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.actions import ActionKind, Ban, Mute
from bot.capabilities import DISCORD
from bot.storage.base import CaseStatus
from bot.testing import StewardHarness
from tests.conftest import LADDER_RULES, kinds, of_kind, punishments

DAY = timedelta(days=1)


async def offend(steward: StewardHarness, who: str = "mallory") -> Any:
    return await steward.say(who, "what a badword")


def ladder_trace(actions: list[Any]) -> list[tuple[str, str, str]]:
    """What a member suffered: (kind, user, until) of each punishment or undo."""
    trace = []
    for action in actions:
        if action.kind in (
            ActionKind.WARN,
            ActionKind.MUTE,
            ActionKind.BAN,
            ActionKind.UNBAN,
            ActionKind.UNMUTE,
        ):
            until = getattr(action, "until", None)
            trace.append((action.kind.value, action.user, until.isoformat() if until else ""))
    return trace


# -- escalation ---------------------------------------------------------------------------------


async def test_member_escalates_from_warning_to_mutes_to_ban_across_days(
    ladder: StewardHarness,
) -> None:
    chat = ladder.chat.id
    await ladder.join("mallory")

    first = await offend(ladder)
    assert kinds(punishments(h for h, _ in first.outcomes)) == ["warn"]
    assert ladder.adapter.is_muted(chat, "mallory") is False

    await ladder.advance("1d")
    second = await offend(ladder)
    muted_at = ladder.clock.now()
    assert kinds(punishments(a for a, _ in second.outcomes)) == ["mute"]
    assert ladder.adapter.muted_until(chat, "mallory") == muted_at + timedelta(hours=1)

    await ladder.advance("2h")
    assert ladder.adapter.is_muted(chat, "mallory") is False

    await ladder.advance("1d")
    third = await offend(ladder)
    assert kinds(punishments(a for a, _ in third.outcomes)) == ["mute"]
    assert ladder.adapter.muted_until(chat, "mallory") == ladder.clock.now() + DAY

    await ladder.advance("2d")
    fourth = await offend(ladder)
    banned_at = ladder.clock.now()
    assert kinds(punishments(a for a, _ in fourth.outcomes)) == ["ban"]
    assert ladder.adapter.banned_until(chat, "mallory") == banned_at + timedelta(days=7)
    assert ladder.adapter.is_banned(chat, "mallory") is True

    cases = await ladder.cases("mallory")
    assert [(c.strikes_before, c.strikes_after, c.step) for c in reversed(cases)] == [
        (0, 1, "warn"),
        (1, 2, "mute for 1h"),
        (2, 3, "mute for 1d"),
        (3, 4, "ban for 7d"),
    ]
    assert [c.rule_id for c in cases] == ["bad-word"] * 4
    assert await ladder.strikes("mallory") == 4


async def test_a_serious_offence_jumps_straight_to_a_higher_step(ladder: StewardHarness) -> None:
    handled = await ladder.say("mallory", "free crypto for everyone")

    assert handled.decision is not None
    assert (handled.decision.before, handled.decision.after) == (0, 2)
    assert kinds(punishments(a for a, _ in handled.outcomes)) == ["mute"]


# -- decay --------------------------------------------------------------------------------------


async def test_decay_brings_a_member_back_down_the_ladder(ladder: StewardHarness) -> None:
    for _ in range(3):
        await offend(ladder)
        await ladder.advance("1h")
    assert await ladder.strikes("mallory") == 3

    await ladder.advance("6d")  # not a full week since the last strike: nothing forgiven
    assert await ladder.strikes("mallory") == 3
    await ladder.advance("1d")
    assert await ladder.strikes("mallory") == 2
    await ladder.advance("7d")
    assert await ladder.strikes("mallory") == 1

    handled = await offend(ladder)

    assert handled.decision is not None
    assert (handled.decision.before, handled.decision.after) == (1, 2)
    mutes = of_kind((a for a, _ in handled.outcomes), ActionKind.MUTE)
    assert [m.until for m in mutes] == [ladder.clock.now() + timedelta(hours=1)]


async def test_three_clean_weeks_forgive_three_strikes(ladder: StewardHarness) -> None:
    for _ in range(3):
        await offend(ladder)

    await ladder.advance("21d")

    assert await ladder.strikes("mallory") == 0
    handled = await offend(ladder)
    assert kinds(punishments(a for a, _ in handled.outcomes)) == ["warn"]


# -- admins on the same ladder ------------------------------------------------------------------


async def test_admin_warn_by_reply_and_by_name_feed_the_rules_ladder(
    ladder: StewardHarness,
) -> None:
    ladder.admin("ada")
    chat = ladder.chat.id
    hello = await ladder.say("mallory", "hello there")

    by_reply = await ladder.command("ada", "/warn rude", reply_to=hello)
    assert kinds(punishments(a for a, _ in by_reply.outcomes)) == ["warn"]
    assert await ladder.strikes("mallory") == 1

    by_name = await ladder.command("ada", "/warn @mallory still rude")
    assert kinds(punishments(a for a, _ in by_name.outcomes)) == ["mute"]
    assert ladder.adapter.muted_until(chat, "mallory") == ladder.clock.now() + timedelta(hours=1)
    assert await ladder.strikes("mallory") == 2

    await ladder.advance("2h")
    by_rule = await offend(ladder)
    assert by_rule.decision is not None
    assert (by_rule.decision.before, by_rule.decision.after) == (2, 3)
    assert ladder.adapter.muted_until(chat, "mallory") == ladder.clock.now() + DAY

    cases = await ladder.cases("mallory")
    assert [(c.source, c.actor_id, c.reason) for c in reversed(cases)] == [
        ("admin", "ada", "rude"),
        ("admin", "ada", "still rude"),
        ("rule", "steward", "No bad words"),
    ]


async def test_pardon_moves_a_member_down_the_same_ladder(ladder: StewardHarness) -> None:
    ladder.admin("ada")
    for _ in range(3):
        await offend(ladder)
    assert await ladder.strikes("mallory") == 3

    partial = await ladder.command("ada", "/pardon @mallory 2")
    assert partial.replies == ["Mallory: 2 strikes pardoned; 1 left."]
    assert await ladder.strikes("mallory") == 1

    await ladder.advance("2d")
    again = await offend(ladder)
    assert again.decision is not None
    assert (again.decision.before, again.decision.after) == (1, 2)
    assert kinds(punishments(a for a, _ in again.outcomes)) == ["mute"]

    everything = await ladder.command("ada", "/pardon @mallory")
    assert everything.replies == ["Mallory: 2 strikes pardoned; 0 left."]
    assert await ladder.strikes("mallory") == 0
    fresh = await offend(ladder)
    assert kinds(punishments(a for a, _ in fresh.outcomes)) == ["warn"]


async def test_pardon_does_not_restart_the_decay_clock(ladder: StewardHarness) -> None:
    ladder.admin("ada")
    for _ in range(3):
        await offend(ladder)
    await ladder.advance("6d")
    await ladder.command("ada", "/pardon @mallory 1")
    assert await ladder.strikes("mallory") == 2

    await ladder.advance("1d")  # a full week since the last *strike*

    assert await ladder.strikes("mallory") == 1


# -- restarts change nothing --------------------------------------------------------------------


async def _story(steward: StewardHarness, *, restart: bool) -> list[tuple[str, str, str]]:
    """Offences, an admin warning, decay and a pardon, optionally restarting between them."""
    steward.admin("ada")

    async def maybe_restart() -> None:
        if restart:
            await steward.restart()

    await offend(steward)
    await maybe_restart()
    await steward.advance("1d")
    await offend(steward)
    await maybe_restart()
    await steward.advance("2h")
    await steward.command("ada", "/warn @mallory keep it civil")
    await maybe_restart()
    await steward.advance("15d")  # two weeks: 3 → 1
    await maybe_restart()
    await offend(steward)
    await steward.command("ada", "/pardon @mallory 1")
    await maybe_restart()
    await offend(steward)
    await offend(steward)
    await offend(steward)
    await maybe_restart()
    await steward.advance("8d")
    return ladder_trace(steward.actions)


async def test_a_restart_between_every_step_changes_nothing(steward_factory: Any) -> None:
    straight = await steward_factory(rules_text=LADDER_RULES)
    restarted = await steward_factory(rules_text=LADDER_RULES)

    expected = await _story(straight, restart=False)
    actual = await _story(restarted, restart=True)

    assert actual == expected
    # 1 warn, 2 mute, 3 (admin) mute; two weeks forgive 2; 2 mute; pardon to 1; 2, 3, 4 (ban).
    assert [k for k, _, _ in expected] == ["warn", "mute", "mute", "mute", "mute", "mute", "ban"]
    assert await restarted.strikes("mallory") == await straight.strikes("mallory")
    straight_cases = [
        (c.source, c.rule_id, c.strikes_before, c.strikes_after, c.step, c.status)
        for c in await straight.cases("mallory")
    ]
    restarted_cases = [
        (c.source, c.rule_id, c.strikes_before, c.strikes_after, c.step, c.status)
        for c in await restarted.cases("mallory")
    ]
    assert restarted_cases == straight_cases


async def test_restart_keeps_strikes_and_their_decay(ladder: StewardHarness) -> None:
    for _ in range(3):
        await offend(ladder)
    await ladder.advance("5d")

    await ladder.restart()

    assert await ladder.strikes("mallory") == 3
    await ladder.advance("2d")  # the week counted from before the restart completes
    assert await ladder.strikes("mallory") == 2
    handled = await offend(ladder)
    assert handled.decision is not None
    assert (handled.decision.before, handled.decision.after) == (2, 3)


async def test_a_discord_temporary_ban_is_lifted_on_time_after_a_restart(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(rules_text=LADDER_RULES, capabilities=DISCORD)
    chat = steward.chat.id
    for _ in range(3):
        await offend(steward)
    handled = await offend(steward)
    banned_at = steward.clock.now()

    bans = of_kind(steward.actions, ActionKind.BAN)
    assert bans == [
        Ban(
            chat=chat,
            reason="No bad words",
            user="mallory",
            user_name="Mallory",
            until=None,
            delete_recent_messages=True,  # the rule deletes: the ban sweeps the rest too
        )
    ]
    [(_, outcome)] = [(a, o) for a, o in handled.outcomes if isinstance(a, Ban)]
    assert outcome.note == f"unban scheduled for {(banned_at + timedelta(days=7)).isoformat()}"

    await steward.restart()
    await steward.advance("6d")
    assert steward.adapter.is_banned(chat, "mallory") is True
    await steward.restart()
    await steward.advance("23h")
    assert steward.adapter.is_banned(chat, "mallory") is True

    await steward.advance("1h")

    assert steward.adapter.is_banned(chat, "mallory") is False
    assert kinds(of_kind(steward.actions, ActionKind.UNBAN)) == ["unban"]
    await steward.restart()
    await steward.advance("30d")
    assert kinds(of_kind(steward.actions, ActionKind.UNBAN)) == ["unban"]


async def test_a_ban_due_to_end_while_stopped_is_lifted_at_start(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(rules_text=LADDER_RULES, capabilities=DISCORD)
    for _ in range(4):
        await offend(steward)
    await steward.stop()

    steward.clock.advance(timedelta(days=10))
    await steward.start()

    assert steward.adapter.is_banned(steward.chat.id, "mallory") is False
    assert kinds(of_kind(steward.actions, ActionKind.UNBAN)) == ["unban"]


async def test_restart_keeps_cases_and_their_resolution(ladder: StewardHarness) -> None:
    ladder.admin("ada")
    await offend(ladder)
    await offend(ladder)
    before = await ladder.cases("mallory")

    await ladder.restart()

    after = await ladder.cases("mallory")
    assert after == before
    await ladder.command("mallory", f"/appeal {before[0].id} it was a joke")
    await ladder.restart()
    await ladder.press("ada", f"steward:appeal:pardon:{before[0].id}")
    [latest, _] = await ladder.cases("mallory")
    assert latest.status == CaseStatus.PARDONED
    assert await ladder.strikes("mallory") == 1
    # The pardoned case's mute was undone on the platform.
    assert ladder.adapter.is_muted(ladder.chat.id, "mallory") is False
    assert of_kind(ladder.actions, ActionKind.UNMUTE) != []


async def test_a_mute_survives_a_restart_on_the_platform(ladder: StewardHarness) -> None:
    await offend(ladder)
    await offend(ladder)
    until = ladder.clock.now() + timedelta(hours=1)

    await ladder.restart()

    assert ladder.adapter.muted_until(ladder.chat.id, "mallory") == until
    assert [m.until for m in of_kind(ladder.actions, ActionKind.MUTE)] == [until]
    assert isinstance(of_kind(ladder.actions, ActionKind.MUTE)[0], Mute)


# -- the stock rules and the harness itself -----------------------------------------------------


async def test_the_stock_rules_climb_the_stock_ladder(steward: StewardHarness) -> None:
    await steward.join("mallory")

    first = await steward.say("mallory", "you idiot")
    await steward.advance("1h")
    second = await steward.say("mallory", "you idiot")

    assert kinds(punishments(a for a, _ in first.outcomes)) == ["warn"]
    assert kinds(punishments(a for a, _ in second.outcomes)) == ["mute"]
    assert steward.adapter.muted_until(steward.chat.id, "mallory") == (
        steward.clock.now() + timedelta(minutes=30)
    )


def test_the_harness_is_registered_as_a_pytest_plugin() -> None:
    from importlib.metadata import entry_points

    plugins = {e.name: e.value for e in entry_points(group="pytest11")}

    assert plugins["steward"] == "bot.testing.plugin"
