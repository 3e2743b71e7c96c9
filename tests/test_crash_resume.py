"""The process killed between infraction and action resumes the action exactly once.

The pipeline commits the case, its strike and its planned actions in one transaction before it
acts. These tests kill Steward right after that commit (the executor raises `SystemExit` on its
first call, and the runtime is abandoned without a clean stop), then start a fresh runtime on
the same database file and check that each pending action is performed once, marked done, and
never again on later restarts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.actions import Action, ActionKind, Ban, Mute
from bot.capabilities import DISCORD
from bot.executor import UNBAN_JOB
from bot.storage.base import ActionStatus, EventKey, MemberKey, NewCase
from bot.testing import StewardHarness
from tests.conftest import LADDER_RULES, kinds, of_kind


def kill_at_action(steward: StewardHarness, number: int = 1) -> None:
    """Make the process 'die' when the executor is asked for its `number`-th action."""
    executor = steward.rt.executor
    real = executor.perform
    calls = 0

    async def dying(platform: str, action: Action, *, action_id: int | None = None) -> Any:
        nonlocal calls
        calls += 1
        if calls >= number:
            raise SystemExit("killed")
        return await real(platform, action, action_id=action_id)

    executor.perform = dying  # type: ignore[method-assign]


async def abandon(steward: StewardHarness) -> None:
    """What a kill leaves behind: no flush, no clean stop; only the database file survives."""
    runtime = steward.rt
    await runtime.store.close()
    steward.runtime = None


async def statuses(steward: StewardHarness, case_id: int) -> list[tuple[str, ActionStatus]]:
    records = await steward.rt.store.actions_for_case(case_id)
    return [(r.action.kind.value, r.status) for r in records]


async def crash_during_offence(steward: StewardHarness, *, at_action: int = 1) -> int:
    await steward.say("mallory", "badword")  # strike 1: warn
    kill_at_action(steward, at_action)
    with pytest.raises(SystemExit):
        await steward.say("mallory", "badword", event_id="fatal")  # strike 2: mute 1h
    await abandon(steward)
    await steward.start()
    [case, _] = await steward.cases("mallory")
    return case.id


async def test_actions_left_pending_by_a_kill_are_performed_once_at_start(
    ladder: StewardHarness,
) -> None:
    case_id = await crash_during_offence(ladder)

    # The first offence (warn) before the kill, then the killed offence's actions at start-up.
    assert kinds(ladder.actions) == ["delete", "send", "warn", "delete", "send", "mute"]
    assert await statuses(ladder, case_id) == [
        ("delete", ActionStatus.DONE),
        ("send", ActionStatus.DONE),
        ("mute", ActionStatus.DONE),
    ]
    assert await ladder.rt.store.pending_actions() == []
    assert ladder.adapter.is_muted(ladder.chat.id, "mallory") is True


async def test_a_resumed_action_is_not_performed_again_by_later_restarts(
    ladder: StewardHarness,
) -> None:
    await crash_during_offence(ladder)
    count = len(ladder.actions)

    await ladder.restart()
    await ladder.restart()

    assert len(ladder.actions) == count
    assert kinds(of_kind(ladder.actions, ActionKind.MUTE)) == ["mute"]


async def test_only_the_actions_not_yet_done_are_resumed(ladder: StewardHarness) -> None:
    case_id = await crash_during_offence(ladder, at_action=2)  # the delete ran, then the kill

    deletes = [a.message_id for a in of_kind(ladder.actions, ActionKind.DELETE)]
    assert deletes == [deletes[0], "fatal"]
    assert kinds(ladder.actions).count("mute") == 1
    assert await statuses(ladder, case_id) == [
        ("delete", ActionStatus.DONE),
        ("send", ActionStatus.DONE),
        ("mute", ActionStatus.DONE),
    ]


async def test_the_killed_offence_keeps_its_strike_and_its_redelivery_is_ignored(
    ladder: StewardHarness,
) -> None:
    await crash_during_offence(ladder)
    count = len(ladder.actions)

    redelivered = await ladder.say("mallory", "badword", event_id="fatal")

    assert redelivered.duplicate is True
    assert len(ladder.actions) == count
    assert await ladder.strikes("mallory") == 2
    assert len(await ladder.cases("mallory")) == 2


async def test_a_second_runtime_on_the_same_file_resumes_what_the_first_left(
    steward_factory: Any,
) -> None:
    first: StewardHarness = await steward_factory(rules_text=LADDER_RULES)
    kill_at_action(first)
    with pytest.raises(SystemExit):
        await first.say("mallory", "free crypto", event_id="fatal")

    second: StewardHarness = await steward_factory(rules_text=LADDER_RULES, database=first.database)

    assert kinds(second.actions) == ["delete", "mute"]
    assert second.adapter.muted_until(second.chat.id, "mallory") == (
        first.clock.now() + timedelta(hours=1)
    )
    assert first.actions == []
    assert await second.rt.store.pending_actions() == []


async def test_a_case_recorded_with_pending_actions_is_resumed_exactly_once(
    ladder: StewardHarness,
) -> None:
    store = ladder.rt.store
    now = ladder.clock.now()
    until = now + timedelta(hours=3)
    mute = Mute(chat=ladder.chat.id, user="mallory", user_name="Mallory", until=until, reason="x")
    case = NewCase(
        member=MemberKey(ladder.platform, ladder.chat.scope, "mallory"),
        chat=ladder.chat.id,
        user_name="Mallory",
        source="rule",
        created_at=now,
        rule_id="bad-word",
        points=1,
        strikes_before=0,
        strikes_after=1,
    )
    case_id, [action_id] = await store.record_case(
        case, [mute], EventKey(ladder.platform, ladder.chat.id, "ev-1")
    )
    await abandon(ladder)

    await ladder.start()
    await ladder.restart()

    assert ladder.actions == [mute]
    assert ladder.adapter.muted_until(ladder.chat.id, "mallory") == until
    [record] = await ladder.rt.store.actions_for_case(case_id)
    assert (record.id, record.status, record.finished_at) == (action_id, ActionStatus.DONE, now)


async def test_a_resumed_temporary_ban_on_discord_still_gets_its_unban(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(rules_text=LADDER_RULES, capabilities=DISCORD)
    for _ in range(3):
        await steward.say("mallory", "badword")
    kill_at_action(steward)
    with pytest.raises(SystemExit):
        await steward.say("mallory", "badword")  # 4 strikes: ban 7d
    ends = steward.clock.now() + timedelta(days=7)
    await abandon(steward)
    steward.clock.advance(timedelta(hours=1))

    await steward.start()

    assert steward.adapter.is_banned(steward.chat.id, "mallory") is True
    [job] = [j for j in await steward.rt.store.scheduled_jobs() if j.kind == UNBAN_JOB]
    assert job.run_at == ends
    await steward.advance("7d")
    assert steward.adapter.is_banned(steward.chat.id, "mallory") is False
    assert kinds(of_kind(steward.actions, ActionKind.BAN)) == ["ban"]


async def test_a_temporary_ban_that_ended_while_down_leaves_the_member_free(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(rules_text=LADDER_RULES, capabilities=DISCORD)
    for _ in range(3):
        await steward.say("mallory", "badword")
    kill_at_action(steward)
    with pytest.raises(SystemExit):
        await steward.say("mallory", "badword")  # 4 strikes: ban 7d
    await abandon(steward)
    steward.clock.advance(timedelta(days=8))

    await steward.start()
    await steward.advance("1s")

    assert steward.adapter.is_banned(steward.chat.id, "mallory") is False


async def test_a_resumed_punishment_still_spares_a_member_who_became_admin(
    ladder: StewardHarness,
) -> None:
    kill_at_action(ladder)
    with pytest.raises(SystemExit):
        await ladder.say("mallory", "phishword")
    await abandon(ladder)
    ladder.admin("mallory")

    await ladder.start()

    [case] = await ladder.cases("mallory")
    case_id = case.id
    assert of_kind(ladder.actions, ActionKind.BAN) == []
    assert await statuses(ladder, case_id) == [
        ("delete", ActionStatus.DONE),
        ("ban", ActionStatus.SKIPPED),
    ]
    assert isinstance((await ladder.rt.store.actions_for_case(case_id))[1].action, Ban)


async def test_an_admin_command_killed_before_its_action_is_resumed(
    ladder: StewardHarness,
) -> None:
    ladder.admin("ada")
    await ladder.say("mallory", "hello")
    kill_at_action(ladder)
    with pytest.raises(SystemExit):
        await ladder.command("ada", "/mute @mallory 2h")
    muted_at = ladder.clock.now()
    await abandon(ladder)

    await ladder.start()
    await ladder.restart()

    assert kinds(ladder.actions) == ["mute"]
    assert ladder.adapter.muted_until(ladder.chat.id, "mallory") == muted_at + timedelta(hours=2)


async def test_pending_actions_are_resumed_once_the_platform_is_connected(
    ladder: StewardHarness,
) -> None:
    connected: list[bool] = []
    ladder.adapter.listeners.append(
        lambda action, outcome: connected.append(ladder.adapter.host is not None)
    )
    await ladder.say("mallory", "badword")
    kill_at_action(ladder)
    with pytest.raises(SystemExit):
        await ladder.say("mallory", "badword", event_id="fatal")
    await abandon(ladder)
    ladder.adapter.host = None  # the killed process's connection is gone with it
    connected.clear()

    await ladder.start()

    assert kinds(ladder.actions[-3:]) == ["delete", "send", "mute"]
    assert connected and all(connected)
