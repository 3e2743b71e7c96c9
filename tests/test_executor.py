"""The executor (bot/executor.py): the one door every action goes through.

Failures are recorded with their reason and told to the admins once an hour, never retried
forever; an adapter that raises is contained; durations are clamped to the platform; what the
platform cannot time itself becomes a persisted job.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from bot.actions import Action, ActionKind, Ban, Mute, Restrict, Send, Unban, Unmute
from bot.adapter import Failure, Outcome
from bot.capabilities import DISCORD, TELEGRAM
from bot.executor import RENEW_MUTE_JOB, UNBAN_JOB, UNMUTE_JOB, UNRESTRICT_JOB
from bot.runtime import FORGET_EVENTS_JOB
from bot.storage.base import ActionStatus, Job
from bot.testing import StewardHarness
from tests.conftest import LADDER_RULES, kinds, notices, of_kind

NO_RIGHT = "the bot is not allowed to restrict members"


async def undo_jobs(steward: Any) -> list[Job]:
    """Scheduled jobs other than Steward's own daily housekeeping."""
    jobs = await steward.rt.store.scheduled_jobs()
    return [job for job in jobs if job.kind != FORGET_EVENTS_JOB]


def attempts(steward: StewardHarness) -> list[tuple[str, bool]]:
    """Record every call the platform receives, successful or not."""
    calls: list[tuple[str, bool]] = []
    steward.adapter.listeners.append(
        lambda action, outcome: calls.append((action.kind.value, outcome.ok))
    )
    return calls


async def reach_mute_step(steward: StewardHarness) -> Any:
    await steward.say("mallory", "badword")
    return await steward.say("mallory", "badword")


# -- failures -----------------------------------------------------------------------------------


async def test_a_failed_platform_call_is_recorded_with_its_reason(ladder: StewardHarness) -> None:
    ladder.adapter.fail(ActionKind.MUTE, Failure.MISSING_RIGHT, NO_RIGHT)

    handled = await reach_mute_step(ladder)

    [outcome] = [o for a, o in handled.outcomes if isinstance(a, Mute)]
    assert (outcome.ok, outcome.failure, outcome.reason) == (False, Failure.MISSING_RIGHT, NO_RIGHT)
    assert handled.case_id is not None
    records = await ladder.rt.store.actions_for_case(handled.case_id)
    assert [(r.action.kind.value, r.status, r.reason) for r in records] == [
        ("delete", ActionStatus.DONE, ""),
        ("send", ActionStatus.DONE, ""),
        ("mute", ActionStatus.FAILED, NO_RIGHT),
    ]
    assert records[-1].finished_at == ladder.clock.now()
    assert ladder.adapter.is_muted(ladder.chat.id, "mallory") is False
    # The offence still counts: the strike is on the ladder even though the mute failed.
    assert await ladder.strikes("mallory") == 2


async def test_admins_are_told_about_a_missing_right_once_an_hour(ladder: StewardHarness) -> None:
    ladder.adapter.fail(ActionKind.DELETE, Failure.MISSING_RIGHT, "cannot delete messages")
    expected = "I could not delete: cannot delete messages."
    calls = attempts(ladder)

    await ladder.say("mallory", "badword")
    assert notices(ladder) == [expected]

    await ladder.advance("10m")
    await ladder.say("bob", "badword")
    await ladder.advance("49m")
    await ladder.say("carol", "badword")
    assert notices(ladder) == [expected]

    await ladder.advance("1m")
    await ladder.say("dave", "badword")
    assert notices(ladder) == [expected, expected]
    assert [n.chat for n in ladder.adapter.state.notices] == [ladder.chat.id] * 2
    # Every offence still tried its delete once, and only once.
    assert [c for c in calls if c[0] == "delete"] == [("delete", False)] * 4


async def test_each_chat_hears_about_its_own_missing_right(ladder: StewardHarness) -> None:
    ladder.adapter.fail(ActionKind.DELETE, Failure.MISSING_RIGHT, "cannot delete messages")
    await ladder.say("mallory", "badword")
    other = ladder.chat
    ladder.chat = type(other)("chat-2", "Other")

    await ladder.say("mallory", "badword")
    await ladder.say("mallory", "badword")

    assert [(n.chat, n.text) for n in ladder.adapter.state.notices] == [
        ("chat-1", "I could not delete: cannot delete messages."),
        ("chat-2", "I could not delete: cannot delete messages."),
    ]


async def test_a_failed_action_is_not_retried_not_even_after_a_restart(
    ladder: StewardHarness,
) -> None:
    ladder.adapter.fail(ActionKind.MUTE, Failure.TEMPORARY, "rate limited")
    calls = attempts(ladder)

    await reach_mute_step(ladder)
    await ladder.advance("1h")
    await ladder.restart()
    await ladder.advance("1d")

    assert [c for c in calls if c[0] == "mute"] == [("mute", False)]
    assert await ladder.rt.store.pending_actions() == []
    # Only a missing right is the admins' to fix; a temporary failure is only recorded.
    assert notices(ladder) == []


async def test_an_adapter_that_raises_is_contained(ladder: StewardHarness) -> None:
    real = ladder.adapter.perform

    async def flaky(action: Action) -> Outcome:
        if isinstance(action, Mute):
            raise ConnectionResetError("socket closed")
        return await real(action)

    ladder.adapter.perform = flaky  # type: ignore[method-assign]

    handled = await reach_mute_step(ladder)

    [(_, outcome)] = [(a, o) for a, o in handled.outcomes if isinstance(a, Mute)]
    assert (outcome.ok, outcome.failure) == (False, Failure.OTHER)
    assert outcome.reason == "ConnectionResetError: socket closed"
    assert handled.case_id is not None
    statuses = [r.status for r in await ladder.rt.store.actions_for_case(handled.case_id)]
    assert statuses == [ActionStatus.DONE, ActionStatus.DONE, ActionStatus.FAILED]
    # The next event is handled normally.
    after = await ladder.say("mallory", "badword")
    assert kinds(a for a, o in after.outcomes if o.ok) == ["delete", "send"]
    assert await ladder.strikes("mallory") == 3


async def test_an_action_for_a_platform_that_is_not_running_fails_cleanly(
    ladder: StewardHarness,
) -> None:
    outcome = await ladder.rt.executor.perform("telegram", Send(chat="x", text="hi"))

    assert (outcome.ok, outcome.reason) == (False, "no telegram adapter is running")


async def test_protected_members_are_refused_by_the_executor_itself(ladder: StewardHarness) -> None:
    ladder.admin("ada")
    executor = ladder.rt.executor
    chat = ladder.chat.id

    on_admin = await executor.perform(ladder.platform, Ban(chat=chat, user="ada"))
    on_bot = await executor.perform(ladder.platform, Mute(chat=chat, user="steward", until=None))

    assert (on_admin.ok, on_admin.failure, on_admin.reason) == (
        False,
        Failure.NOT_ALLOWED,
        "admins and owners are never punished",
    )
    assert (on_bot.ok, on_bot.failure) == (False, Failure.NOT_ALLOWED)
    assert ladder.actions == []
    assert notices(ladder) == []


# -- clamping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "applied"),
    [
        (timedelta(seconds=10), timedelta(seconds=30)),
        (timedelta(seconds=30), timedelta(seconds=30)),
        (timedelta(days=30), timedelta(days=30)),
        (timedelta(days=400), timedelta(days=366)),
    ],
)
async def test_telegram_mutes_are_clamped_into_30s_to_366d(
    steward_factory: Any, asked: timedelta, applied: timedelta
) -> None:
    steward: StewardHarness = await steward_factory(rules_text=LADDER_RULES, capabilities=TELEGRAM)
    now = steward.clock.now()
    chat = steward.chat.id

    outcome = await steward.rt.executor.perform(
        steward.platform, Mute(chat=chat, user="mallory", until=now + asked)
    )

    assert outcome.ok is True
    assert steward.adapter.muted_until(chat, "mallory") == now + applied
    assert (outcome.note != "") == (asked != applied)


async def test_telegram_temporary_bans_are_clamped_too(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(rules_text=LADDER_RULES, capabilities=TELEGRAM)
    steward.admin("ada")
    await steward.say("mallory", "hi")

    handled = await steward.command("ada", "/ban @mallory 500d")

    assert steward.adapter.banned_until(steward.chat.id, "mallory") == (
        steward.clock.now() + timedelta(days=366)
    )
    [(_, outcome)] = handled.outcomes
    assert (
        outcome.note
        == "telegram treats a ban longer than 366d as permanent; 500d will be clamped to 366d"
    )
    assert handled.case_id is not None
    [record] = await steward.rt.store.actions_for_case(handled.case_id)
    assert record.note == outcome.note


# -- what the platform cannot time itself -------------------------------------------------------


async def test_a_discord_temporary_ban_is_a_ban_plus_a_persisted_unban_job(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    until = steward.clock.now() + timedelta(days=3)

    outcome = await steward.rt.executor.perform(
        steward.platform, Ban(chat=chat, user="mallory", user_name="Mallory", until=until)
    )

    assert outcome.ok is True
    assert steward.adapter.banned_until(chat, "mallory") is None  # a plain ban on the platform
    [job] = await undo_jobs(steward)
    assert (job.kind, job.platform, job.chat, job.run_at) == (UNBAN_JOB, "discord", chat, until)
    assert job.payload["user"] == "mallory"

    await steward.advance("3d")

    assert steward.adapter.is_banned(chat, "mallory") is False
    assert of_kind(steward.actions, ActionKind.UNBAN) == [
        Unban(chat=chat, user="mallory", user_name="Mallory", reason="temporary ban ended")
    ]
    assert await undo_jobs(steward) == []


async def test_a_discord_timed_restriction_is_lifted_by_a_job(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    until = steward.clock.now() + timedelta(hours=5)

    await steward.rt.executor.perform(
        steward.platform, Restrict(chat=chat, user="mallory", denied=frozenset(), until=until)
    )
    [job] = await undo_jobs(steward)
    assert (job.kind, job.run_at) == (UNRESTRICT_JOB, until)

    await steward.advance("5h")

    assert (chat, "mallory") not in steward.adapter.state.restricted


async def test_an_early_unban_cancels_the_pending_unban_job(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    steward.admin("ada")
    await steward.say("mallory", "hi")
    await steward.command("ada", "/ban @mallory 7d")

    await steward.command("ada", "/unban @mallory")

    assert await undo_jobs(steward) == []
    await steward.advance("8d")
    assert kinds(of_kind(steward.actions, ActionKind.UNBAN)) == ["unban"]


async def test_a_permanent_ban_outlives_an_earlier_temporary_bans_unban_job(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    steward.admin("ada")
    await steward.say("mallory", "hi")
    await steward.command("ada", "/ban @mallory 7d")
    await steward.advance("1d")

    await steward.command("ada", "/ban @mallory for good")
    await steward.advance("7d")

    assert steward.adapter.is_banned(steward.chat.id, "mallory") is True


async def test_a_second_temporary_ban_is_not_cut_short_by_the_firsts_unban(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    steward.admin("ada")
    await steward.say("mallory", "hi")
    await steward.command("ada", "/ban @mallory 7d")
    await steward.advance("1d")
    await steward.command("ada", "/ban @mallory 7d")  # counted from now: ends on day 8

    await steward.advance("6d12h")
    assert steward.adapter.is_banned(steward.chat.id, "mallory") is True
    await steward.advance("12h")
    assert steward.adapter.is_banned(steward.chat.id, "mallory") is False


async def test_a_temporary_ban_that_failed_leaves_no_unban_behind(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    steward.admin("ada")
    await steward.say("mallory", "hi")
    steward.adapter.fail(ActionKind.BAN, Failure.MISSING_RIGHT, "missing Ban Members", times=1)

    await steward.command("ada", "/ban @mallory 7d")
    await steward.advance("8d")

    assert await undo_jobs(steward) == []
    assert of_kind(steward.actions, ActionKind.UNBAN) == []


async def test_a_discord_mute_longer_than_28_days_is_renewed_until_it_ends(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    start = steward.clock.now()
    end = start + timedelta(days=60)

    outcome = await steward.rt.executor.perform(
        steward.platform, Mute(chat=chat, user="mallory", until=end)
    )

    # Each part asks a few minutes less than 28 days (a clock ahead of Discord's must not be
    # refused) and is renewed a day before it ends, so there is never a gap.
    part = timedelta(days=28) - timedelta(minutes=5)
    assert outcome.ok is True
    assert outcome.note == "discord mutes last at most 28d; renewal scheduled"
    assert steward.adapter.muted_until(chat, "mallory") == start + part
    [job] = await undo_jobs(steward)
    assert (job.kind, job.run_at) == (RENEW_MUTE_JOB, start + part - timedelta(days=1))

    await steward.advance("27d")
    assert steward.adapter.muted_until(chat, "mallory") == start + timedelta(days=27) + part
    await steward.restart()
    await steward.advance("27d")
    assert steward.adapter.muted_until(chat, "mallory") == end

    await steward.advance("6d")
    assert steward.adapter.is_muted(chat, "mallory") is False
    assert [m.until for m in of_kind(steward.actions, ActionKind.MUTE)] == [
        start + part,
        start + timedelta(days=27) + part,
        end,
    ]
    assert await undo_jobs(steward) == []


async def test_unmute_stops_the_renewal_of_a_long_mute(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    steward.admin("ada")
    await steward.say("mallory", "hi")
    await steward.command("ada", "/mute @mallory 60d")

    await steward.command("ada", "/unmute @mallory")
    await steward.advance("60d")

    assert kinds(of_kind(steward.actions, ActionKind.MUTE)) == ["mute"]
    assert steward.adapter.is_muted(steward.chat.id, "mallory") is False


# -- timed jobs: separate ends, retries, downtime -----------------------------------------------

# Discord with a mute role: mutes have no duration of their own either, so a mute gets an unmute
# job as a restriction gets an unrestrict job.
ROLE_MUTES = dataclasses.replace(
    DISCORD, max_mute=None, renews_mutes=False, untimed=DISCORD.untimed | {ActionKind.MUTE}
)


def job_statuses(steward: StewardHarness) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, status, payload) of every job but the housekeeping, oldest first."""
    with sqlite3.connect(steward.database) as db:
        rows = db.execute("SELECT kind, status, payload FROM jobs ORDER BY id").fetchall()
    return [(k, s, json.loads(p)) for k, s, p in rows if k != FORGET_EVENTS_JOB]


async def test_a_restriction_ends_on_time_although_a_mute_followed_it(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=ROLE_MUTES
    )
    chat, now = steward.chat.id, steward.clock.now()
    executor = steward.rt.executor

    await executor.perform(
        "discord",
        Restrict(chat=chat, user="mallory", denied=frozenset(), until=now + timedelta(hours=1)),
    )
    await executor.perform(
        "discord", Mute(chat=chat, user="mallory", until=now + timedelta(days=7))
    )

    assert sorted((j.kind, j.run_at) for j in await undo_jobs(steward)) == [
        (UNMUTE_JOB, now + timedelta(days=7)),
        (UNRESTRICT_JOB, now + timedelta(hours=1)),
    ]
    await steward.advance("1h")
    assert steward.adapter.is_restricted(chat, "mallory") is False
    assert steward.adapter.is_muted(chat, "mallory") is True
    await steward.advance("7d")
    assert steward.adapter.is_muted(chat, "mallory") is False
    assert of_kind(steward.actions, ActionKind.UNMUTE) == [
        Unmute(chat=chat, user="mallory", reason="mute ended", expired=True)
    ]


async def test_a_mute_is_not_cut_short_by_a_shorter_restriction(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=ROLE_MUTES
    )
    chat, now = steward.chat.id, steward.clock.now()
    executor = steward.rt.executor

    await executor.perform(
        "discord", Mute(chat=chat, user="mallory", until=now + timedelta(days=7))
    )
    await executor.perform(
        "discord",
        Restrict(chat=chat, user="mallory", denied=frozenset(), until=now + timedelta(hours=1)),
    )
    await steward.advance("2h")

    assert steward.adapter.is_muted(chat, "mallory") is True
    assert steward.adapter.is_restricted(chat, "mallory") is False
    assert kinds(of_kind(steward.actions, ActionKind.UNRESTRICT)) == ["unrestrict"]
    assert of_kind(steward.actions, ActionKind.UNMUTE) == []


async def test_an_admins_unmute_leaves_a_restriction_to_its_own_end(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=ROLE_MUTES
    )
    steward.admin("ada")
    await steward.say("mallory", "hi")
    chat, now = steward.chat.id, steward.clock.now()
    await steward.rt.executor.perform(
        "discord",
        Restrict(chat=chat, user="mallory", denied=frozenset(), until=now + timedelta(hours=5)),
    )
    await steward.command("ada", "/mute @mallory 1d")

    await steward.command("ada", "/unmute @mallory")

    assert steward.adapter.is_muted(chat, "mallory") is False
    assert steward.adapter.is_restricted(chat, "mallory") is True
    assert [j.kind for j in await undo_jobs(steward)] == [UNRESTRICT_JOB]
    await steward.advance("5h")
    assert steward.adapter.is_restricted(chat, "mallory") is False


async def test_an_undo_job_records_where_the_punishment_was_given(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    await steward.rt.executor.perform(
        "discord",
        Ban(chat=chat, user="mallory", until=steward.clock.now() + timedelta(days=1)),
    )

    [job] = await undo_jobs(steward)
    # On a platform without larger spaces the scope is the chat itself.
    assert (job.chat, job.payload["origin"]) == (chat, chat)


async def test_an_unban_that_fails_temporarily_is_retried_until_it_works(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    await steward.rt.executor.perform(
        "discord", Ban(chat=chat, user="mallory", until=steward.clock.now() + timedelta(days=1))
    )
    steward.adapter.fail(ActionKind.UNBAN, Failure.TEMPORARY, "not connected", times=2)

    await steward.advance("1d")
    assert steward.adapter.is_banned(chat, "mallory") is True
    assert [(k, s) for k, s, _ in job_statuses(steward)] == [(UNBAN_JOB, "scheduled")]
    await steward.advance("1m")
    assert steward.adapter.is_banned(chat, "mallory") is True
    await steward.advance("2m")

    assert steward.adapter.is_banned(chat, "mallory") is False
    assert [(k, s) for k, s, _ in job_statuses(steward)] == [(UNBAN_JOB, "done")]
    assert notices(steward) == []


async def test_an_unban_failing_for_a_day_gives_up_and_tells_the_admins(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    await steward.rt.executor.perform(
        "discord",
        Ban(
            chat=chat,
            user="mallory",
            user_name="Mallory",
            until=steward.clock.now() + timedelta(days=1),
        ),
    )
    steward.adapter.fail(ActionKind.UNBAN, Failure.TEMPORARY, "Discord did not answer (503)")
    calls = attempts(steward)

    await steward.advance("1d")
    for _ in range(26):
        await steward.advance("1h")

    [(kind, status, payload)] = job_statuses(steward)
    assert (kind, status) == (UNBAN_JOB, "failed")
    assert "Discord did not answer (503)" in payload["_failure"]
    assert notices(steward) == [
        "For a day I could not lift the temporary ban of Mallory (Discord did not answer "
        "(503)); I have stopped trying: please do it by hand."
    ]
    tries = len([c for c in calls if c[0] == "unban"])
    assert 20 < tries < 40
    await steward.advance("3d")
    assert len([c for c in calls if c[0] == "unban"]) == tries


async def test_an_unban_refused_for_good_is_not_retried_and_the_admins_hear_of_it(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    await steward.rt.executor.perform(
        "discord",
        Ban(
            chat=chat,
            user="mallory",
            user_name="Mallory",
            until=steward.clock.now() + timedelta(days=1),
        ),
    )
    steward.adapter.fail(ActionKind.UNBAN, Failure.MISSING_RIGHT, "Steward needs Ban Members")
    calls = attempts(steward)

    await steward.advance("1d")
    await steward.advance("2d")

    assert [c for c in calls if c[0] == "unban"] == [("unban", False)]
    [(_, status, payload)] = job_statuses(steward)
    assert (status, payload["_failure"]) == ("failed", "Steward needs Ban Members")
    assert notices(steward) == [
        "I could not lift the temporary ban of Mallory: Steward needs Ban Members."
    ]


async def test_jobs_due_while_down_run_once_the_platform_is_connected(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, platform="discord", capabilities=DISCORD
    )
    chat = steward.chat.id
    await steward.rt.executor.perform(
        "discord", Ban(chat=chat, user="mallory", until=steward.clock.now() + timedelta(days=1))
    )
    connected: list[bool] = []
    steward.adapter.listeners.append(
        lambda action, outcome: connected.append(steward.adapter.host is not None)
    )
    await steward.stop()
    steward.clock.advance(timedelta(days=2))

    await steward.start()

    assert connected == [True]
    assert steward.adapter.is_banned(chat, "mallory") is False
    assert await undo_jobs(steward) == []
