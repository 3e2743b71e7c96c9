"""Chat commands (bot/commands.py), through the harness as members and admins type them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.actions import ActionKind, Button, Kick, NotifyAdmins
from bot.commands import ADMIN, APPEAL_PARDON, APPEAL_UPHOLD
from bot.events import Chat
from bot.local import STEWARD
from bot.storage.base import CaseStatus, MemberKey
from bot.testing import StewardHarness
from tests.conftest import LADDER_RULES, kinds, of_kind, punishments


@pytest.fixture
async def chat(ladder: StewardHarness) -> StewardHarness:
    """The ladder harness with an admin (Ada) and a member (Mallory) who has spoken."""
    ladder.admin("ada")
    await ladder.say("mallory", "hello everyone")
    return ladder


def only_reply(handled: Any) -> str:
    [reply] = handled.replies
    return str(reply)


# -- everyone -----------------------------------------------------------------------------------


async def test_rules_lists_the_enforced_rules_and_the_ladder(chat: StewardHarness) -> None:
    handled = await chat.command("mallory", "/rules")

    assert only_reply(handled) == (
        "Rules of Test chat:\n"
        "• No bad words\n"
        "• No scams\n"
        "• Phishing links are removed whoever posts them\n"
        "Strikes lead to: 1: warn, 2: mute for 1h, 3: mute for 1d, 4: ban for 7d, "
        "6: ban until undone.\n"
        "1 strike is forgiven for every 7d without a new one."
    )
    assert chat.sent[-1] == handled.replies[0]


async def test_report_tells_the_admins_about_the_replied_message(chat: StewardHarness) -> None:
    offending = await chat.say("mallory", "something nasty")

    handled = await chat.command("bob", "/report spam again", reply_to=offending)

    assert only_reply(handled) == "Thank you, the admins have been told."
    assert [n.text for n in chat.adapter.state.notices] == [
        f"Report from Bob about Mallory (message {offending.event.message_id}): spam again"
    ]


async def test_report_without_a_reply_explains_how(chat: StewardHarness) -> None:
    handled = await chat.command("bob", "/report")

    assert only_reply(handled) == "Reply /report to the message you want the admins to see."
    assert chat.adapter.state.notices == []


async def test_report_goes_to_the_log_chat_when_there_is_one(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, log_chat="fake:mod-log"
    )
    offending = await steward.say("mallory", "something nasty")

    await steward.command("bob", "/report", reply_to=offending)

    [notice] = [s for s in steward.sends() if s.chat == "mod-log"]
    assert notice.text.startswith("Report from Bob about Mallory")
    assert steward.adapter.state.notices == []


async def test_appeal_reaches_the_admins_with_the_case_evidence_and_buttons(
    chat: StewardHarness,
) -> None:
    offence = await chat.say("mallory", "you badword")
    await chat.say("mallory", "badword again")
    first = offence.case_id

    handled = await chat.command("mallory", f"/appeal {first} I was quoting someone")

    assert only_reply(handled) == f"Your appeal of case #{first} went to the admins."
    [notice] = chat.adapter.state.notices
    assert isinstance(notice, NotifyAdmins)
    assert notice.text.startswith(f"Appeal of case #{first} by Mallory: I was quoting someone\n")
    assert "Rule: bad-word; strikes 0 → 1; step: warn" in notice.text
    assert "Evidence: bad-word: " in notice.text
    # Posted in the group itself (no log chat here): the deleted message is not put back up.
    assert "you badword" not in notice.text
    assert notice.text.endswith("a log chat shows it.)")
    assert notice.buttons == (
        Button("Uphold", data=f"{APPEAL_UPHOLD}{first}"),
        Button("Pardon", data=f"{APPEAL_PARDON}{first}"),
    )
    case = await chat.rt.store.case(first or 0)
    assert case is not None
    assert (case.status, case.appeal) == (CaseStatus.APPEALED, "I was quoting someone")


async def test_an_appeal_in_the_log_chat_shows_the_message(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, log_chat="fake:mod-log"
    )
    offence = await steward.say("mallory", "you badword")

    await steward.command("mallory", f"/appeal {offence.case_id} I was quoting someone")

    [notice] = [s for s in steward.sends() if s.chat == "mod-log" and "Appeal" in s.text]
    assert notice.text.endswith("Message: «you badword»")


async def test_appeal_without_a_number_takes_the_latest_case(chat: StewardHarness) -> None:
    await chat.say("mallory", "badword")
    latest = await chat.say("mallory", "badword")

    handled = await chat.command("mallory", "/appeal please")

    assert only_reply(handled) == f"Your appeal of case #{latest.case_id} went to the admins."


async def test_an_admin_pardons_an_appeal_with_the_button(chat: StewardHarness) -> None:
    await chat.say("mallory", "badword")
    muted = await chat.say("mallory", "badword")
    assert chat.adapter.is_muted(chat.chat.id, "mallory") is True
    await chat.command("mallory", "/appeal")

    await chat.press("ada", f"{APPEAL_PARDON}{muted.case_id}")

    case = await chat.rt.store.case(muted.case_id or 0)
    assert case is not None
    assert (case.status, case.resolved_by, case.resolution) == (
        CaseStatus.PARDONED,
        "ada",
        "pardoned",
    )
    assert await chat.strikes("mallory") == 1
    assert chat.adapter.is_muted(chat.chat.id, "mallory") is False
    assert chat.sent[-1] == f"Case #{muted.case_id} pardoned by Ada: its strikes are removed."


async def test_pardoning_a_restriction_lifts_it(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text="""
version: 1
rules:
  - id: no-links-for-slurs
    when: {keywords: [slurword]}
    action: {type: restrict, permissions: [send_links], duration: 1d}
"""
    )
    steward.admin("ada")
    restricted = await steward.say("mallory", "slurword")
    assert steward.adapter.is_restricted(steward.chat.id, "mallory") is True
    await steward.command("mallory", "/appeal")

    await steward.press("ada", f"{APPEAL_PARDON}{restricted.case_id}")

    assert steward.adapter.is_restricted(steward.chat.id, "mallory") is False


async def test_an_admin_upholds_an_appeal_with_the_button(chat: StewardHarness) -> None:
    muted = await chat.say("mallory", "free crypto")
    await chat.command("mallory", "/appeal")

    await chat.press("ada", f"{APPEAL_UPHOLD}{muted.case_id}")

    case = await chat.rt.store.case(muted.case_id or 0)
    assert case is not None
    assert (case.status, case.resolved_by) == (CaseStatus.UPHELD, "ada")
    assert await chat.strikes("mallory") == 2
    assert chat.adapter.is_muted(chat.chat.id, "mallory") is True
    assert chat.sent[-1] == f"Case #{muted.case_id} upheld by Ada."


async def test_a_members_press_on_an_appeal_button_does_nothing(chat: StewardHarness) -> None:
    muted = await chat.say("mallory", "free crypto")
    await chat.command("mallory", "/appeal")
    sent = list(chat.sent)

    await chat.press("mallory", f"{APPEAL_PARDON}{muted.case_id}")
    await chat.press("bob", f"{APPEAL_UPHOLD}{muted.case_id}")

    case = await chat.rt.store.case(muted.case_id or 0)
    assert case is not None
    assert case.status == CaseStatus.APPEALED
    assert await chat.strikes("mallory") == 2
    assert chat.sent == sent


async def test_an_admin_of_another_chat_cannot_answer_an_appeal(chat: StewardHarness) -> None:
    muted = await chat.say("mallory", "free crypto")
    await chat.command("mallory", "/appeal")
    chat.chat = Chat("chat-2", "Another group")
    chat.admin("eve")  # an admin there, not in the chat of the case

    await chat.press("eve", f"{APPEAL_PARDON}{muted.case_id}")

    case = await chat.rt.store.case(muted.case_id or 0)
    assert case is not None
    assert case.status == CaseStatus.APPEALED
    ledger = await chat.rt.store.strikes(MemberKey(chat.platform, "chat-1", "mallory"))
    assert [entry.points for entry in ledger] == [2]


async def test_an_appeal_is_answered_only_once(chat: StewardHarness) -> None:
    muted = await chat.say("mallory", "free crypto")
    await chat.command("mallory", "/appeal")
    await chat.press("ada", f"{APPEAL_PARDON}{muted.case_id}")

    await chat.press("ada", f"{APPEAL_PARDON}{muted.case_id}")
    again = await chat.command("mallory", f"/appeal {muted.case_id}")

    assert await chat.strikes("mallory") == 0
    assert only_reply(again) == f"Case #{muted.case_id} is already pardoned."


async def test_appeal_without_a_case_or_of_someone_elses_case(chat: StewardHarness) -> None:
    theirs = await chat.say("mallory", "badword")

    nothing = await chat.command("bob", "/appeal")
    not_yours = await chat.command("bob", f"/appeal {theirs.case_id}")

    assert only_reply(nothing) == "You have no case to appeal."
    assert only_reply(not_yours) == "I found no such case of yours."


# -- non-admins ---------------------------------------------------------------------------------


REFUSED = [
    "/warn @mallory",
    "/mute @mallory 1h",
    "/unmute @mallory",
    "/ban @mallory",
    "/unban @mallory",
    "/kick @mallory",
    "/strikes @mallory",
    "/pardon @mallory",
    "/case 1",
    "/reload",
]


@pytest.mark.parametrize("line", REFUSED)
async def test_admin_commands_politely_refuse_members(chat: StewardHarness, line: str) -> None:
    await chat.say("mallory", "badword")
    performed = list(chat.actions)

    handled = await chat.command("bob", line)

    name = line.split()[0][1:]
    assert only_reply(handled) == f"Sorry Bob, /{name} is for admins."
    assert chat.actions[len(performed) :] == [of_kind(chat.actions, ActionKind.SEND)[-1]]
    assert await chat.strikes("mallory") == 1


def test_every_admin_command_is_covered_by_the_refusal_test() -> None:
    assert {line.split()[0][1:] for line in REFUSED} == ADMIN


# -- admins are never targets -------------------------------------------------------------------


@pytest.mark.parametrize("line", ["/warn @ada", "/mute @ada 1h", "/ban @ada", "/kick @ada"])
async def test_admins_are_never_targets(chat: StewardHarness, line: str) -> None:
    chat.admin("bea")
    await chat.say("ada", "hi")

    handled = await chat.command("bea", line)

    assert only_reply(handled) == "Ada is an admin; admins are never punished."
    assert punishments(chat.actions) == []
    assert await chat.cases("ada") == []


async def test_the_bot_is_never_a_target(chat: StewardHarness) -> None:
    said = await chat.say(STEWARD, "I am the bot")

    handled = await chat.command("ada", "/ban", reply_to=said)

    assert only_reply(handled) == "I won't act against myself."
    assert punishments(chat.actions) == []


# -- /warn, /mute, /unmute, /ban, /unban, /kick -------------------------------------------------


async def test_warn_replies_with_the_strikes_and_step(chat: StewardHarness) -> None:
    handled = await chat.command("ada", "/warn @mallory be nice")

    assert only_reply(handled) == "Mallory warned: be nice. Strikes 0 → 1 (warn)."
    [case] = await chat.cases("mallory")
    assert (case.source, case.actor_name, case.points, case.step) == ("admin", "Ada", 1, "warn")


async def test_mute_for_a_duration(chat: StewardHarness) -> None:
    handled = await chat.command("ada", "/mute @mallory 2h spamming")

    assert only_reply(handled) == "Mallory: mute for 2h (spamming)."
    until = chat.clock.now() + timedelta(hours=2)
    assert chat.adapter.muted_until(chat.chat.id, "mallory") == until
    [case] = await chat.cases("mallory")
    assert (case.source, case.reason, case.step, case.points) == (
        "admin",
        "spamming",
        "mute for 2h",
        0,
    )
    # A direct mute is not a strike.
    assert await chat.strikes("mallory") == 0


async def test_mute_by_reply(chat: StewardHarness) -> None:
    message = await chat.say("mallory", "spam spam")

    await chat.command("ada", "/mute 30m", reply_to=message)

    assert chat.adapter.muted_until(chat.chat.id, "mallory") == (
        chat.clock.now() + timedelta(minutes=30)
    )


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/mute @mallory", "Say how long: /mute 1h (or 30m, 2d …)."),
        (
            "/mute @mallory soon",
            "/mute: cannot read duration 'soon'; write it like 30s, 10m, 2h, 7d, 2w or 1h30m.",
        ),
        (
            "/mute @mallory 10",
            "/mute: duration '10' has no unit; write 10s, 10m, 10h or 10d.",
        ),
        (
            "/mute @mallory -5m",
            "/mute: duration '-5m' is negative; durations must be positive.",
        ),
        (
            "/mute @mallory 40000d",
            "/mute: duration '40000d' is too long; the longest is 100 years (36500d).",
        ),
        (
            "/ban @mallory 7x",
            "/ban: cannot read duration '7x'; write it like 30s, 10m, 2h, 7d, 2w or 1h30m.",
        ),
    ],
)
async def test_a_bad_duration_is_answered_clearly(
    chat: StewardHarness, line: str, answer: str
) -> None:
    handled = await chat.command("ada", line)

    assert only_reply(handled) == answer
    assert punishments(chat.actions) == []
    assert await chat.cases("mallory") == []


@pytest.mark.parametrize("verb", ["warn", "mute 1h", "unmute", "ban", "unban", "kick", "pardon"])
async def test_a_missing_target_is_answered_clearly(chat: StewardHarness, verb: str) -> None:
    handled = await chat.command("ada", f"/{verb}")

    name = verb.split()[0]
    assert only_reply(handled) == (f"Reply to a message of the member, or name them: /{name} @name")
    assert punishments(chat.actions) == []


async def test_an_unknown_name_is_answered_clearly(chat: StewardHarness) -> None:
    handled = await chat.command("ada", "/ban @nobody")

    assert (
        only_reply(handled) == "I don't know @nobody yet; reply to one of their messages instead."
    )
    assert punishments(chat.actions) == []


async def test_a_name_is_found_after_a_restart(chat: StewardHarness) -> None:
    await chat.restart()

    handled = await chat.command("ada", "/kick @Mallory")

    assert only_reply(handled) == "Mallory: kick (removed by an admin)."
    assert chat.adapter.state.kicked == [(chat.chat.id, "mallory")]


async def test_unmute_lifts_a_mute(chat: StewardHarness) -> None:
    await chat.command("ada", "/mute @mallory 1d")

    handled = await chat.command("ada", "/unmute @mallory")

    assert only_reply(handled) == "Mallory can speak again."
    assert chat.adapter.is_muted(chat.chat.id, "mallory") is False


async def test_ban_for_good_and_for_a_while(chat: StewardHarness) -> None:
    await chat.say("bob", "hi")

    forever = await chat.command("ada", "/ban @mallory spam bot")
    a_while = await chat.command("ada", "/ban @bob 7d flaming")

    assert only_reply(forever) == "Mallory: ban (spam bot)."
    assert only_reply(a_while) == "Bob: ban for 7d (flaming)."
    assert chat.adapter.banned_until(chat.chat.id, "mallory") is None
    assert chat.adapter.is_banned(chat.chat.id, "mallory") is True
    assert chat.adapter.banned_until(chat.chat.id, "bob") == chat.clock.now() + timedelta(days=7)


async def test_unban_lifts_a_ban(chat: StewardHarness) -> None:
    await chat.command("ada", "/ban @mallory")

    handled = await chat.command("ada", "/unban @mallory")

    assert only_reply(handled) == "Mallory is unbanned."
    assert chat.adapter.is_banned(chat.chat.id, "mallory") is False


async def test_kick(chat: StewardHarness) -> None:
    handled = await chat.command("ada", "/kick @mallory off topic")

    assert only_reply(handled) == "Mallory: kick (off topic)."
    assert of_kind(chat.actions, ActionKind.KICK) == [
        Kick(chat=chat.chat.id, user="mallory", user_name="Mallory", reason="off topic")
    ]


async def test_a_failed_command_action_is_reported_to_the_admin(chat: StewardHarness) -> None:
    from bot.adapter import Failure

    chat.adapter.fail(ActionKind.BAN, Failure.MISSING_RIGHT, "the bot cannot ban members")

    handled = await chat.command("ada", "/ban @mallory")

    assert only_reply(handled) == "Could not ban Mallory: the bot cannot ban members."


# -- /strikes, /pardon, /case -------------------------------------------------------------------


async def test_strikes_shows_the_total_and_recent_cases(chat: StewardHarness) -> None:
    first = await chat.say("mallory", "badword")
    second = await chat.say("mallory", "badword")

    handled = await chat.command("ada", "/strikes @mallory")

    day = f"{chat.clock.now():%Y-%m-%d}"
    assert only_reply(handled) == (
        "Mallory: 2 strikes.\n"
        f"#{second.case_id} {day} bad-word: No bad words [open]\n"
        f"#{first.case_id} {day} bad-word: No bad words [open]"
    )


async def test_strikes_without_a_target_shows_your_own(chat: StewardHarness) -> None:
    handled = await chat.command("ada", "/strikes")

    assert only_reply(handled) == "Ada: 0 strikes."


async def test_pardon_with_a_bad_number_or_nothing_to_pardon(chat: StewardHarness) -> None:
    nothing = await chat.command("ada", "/pardon @mallory")
    await chat.say("mallory", "badword")
    bad = await chat.command("ada", "/pardon @mallory some")
    too_many = await chat.command("ada", "/pardon @mallory 5")

    assert only_reply(nothing) == "Mallory has no strikes to pardon."
    assert only_reply(bad) == (
        "/pardon takes a number of strikes, e.g. /pardon 2 (or nothing for all)."
    )
    assert only_reply(too_many) == "Mallory: 1 strike pardoned; 0 left."
    assert await chat.strikes("mallory") == 0


async def test_case_shows_a_case_with_its_actions(chat: StewardHarness) -> None:
    handled = await chat.say("mallory", "badword")

    shown = await chat.command("ada", f"/case {handled.case_id}")

    assert only_reply(shown) == (
        f"Case #{handled.case_id} — Mallory (mallory), {chat.clock.now():%Y-%m-%d %H:%M} UTC\n"
        "Rule bad-word: No bad words\n"
        "Strikes 0 → 1; step: warn; status: open\n"
        f"Evidence: {'; '.join((await chat.cases('mallory'))[0].evidence)}\n"
        # Asked in the group: the deleted message is not put back up there.
        "(The message is not repeated here, where every member can read it; a log chat shows "
        "it.)\n"
        "- delete: done\n"
        "- send: done\n"
        "- warn: done"
    )


@pytest.mark.parametrize(
    ("line", "answer"),
    [("/case", "Which case? /case 12"), ("/case 999", "No such case here.")],
)
async def test_case_without_a_valid_id(chat: StewardHarness, line: str, answer: str) -> None:
    assert only_reply(await chat.command("ada", line)) == answer


async def test_a_case_of_another_chat_is_not_shown(chat: StewardHarness) -> None:
    handled = await chat.say("mallory", "badword")
    chat.chat = type(chat.chat)("chat-2", "Other")
    chat.admin("ada")

    shown = await chat.command("ada", f"/case {handled.case_id}")

    assert only_reply(shown) == "No such case here."


# -- /reload ------------------------------------------------------------------------------------


async def test_reload_picks_up_an_edited_rule_file(chat: StewardHarness) -> None:
    [path] = chat.rule_files
    text = LADDER_RULES.replace("words: [badword]", "words: [badword, worseword]")
    Path(path).write_text(text, encoding="utf-8")

    handled = await chat.command("ada", "/reload")

    assert only_reply(handled) == "Rules reloaded: 4 rules active."
    worse = await chat.say("mallory", "worseword")
    assert kinds(punishments(a for a, _ in worse.outcomes)) == ["warn"]


async def test_a_broken_edit_is_reported_and_the_last_good_rules_keep_running(
    chat: StewardHarness,
) -> None:
    [path] = chat.rule_files
    Path(path).write_text("version: 1\nrules:\n  - id: x\n    strik: 1\n", encoding="utf-8")

    handled = await chat.command("ada", "/reload")

    reply = only_reply(handled)
    assert reply.startswith("The rule files have errors; the previous rules stay active:\n")
    assert f"{path}:4:5: error: unknown key 'strik'" in reply
    still = await chat.say("mallory", "badword")
    assert kinds(punishments(a for a, _ in still.outcomes)) == ["warn"]


# -- not ours -----------------------------------------------------------------------------------


async def test_unknown_commands_are_left_alone(chat: StewardHarness) -> None:
    handled = await chat.command("mallory", "/weather berlin")

    assert handled.replies == []
    assert chat.sent == []


def test_known_commands_are_the_core_ones_and_registered_ones() -> None:
    from bot import commands

    assert commands.knows("warn") and commands.knows("RULES") and commands.knows("appeal")
    assert not commands.knows("free") and not commands.knows("shrug")
    assert commands.CORE == commands.EVERYONE | ADMIN
    try:
        commands.register_command("Poll")
        assert commands.knows("poll")
    finally:
        commands._registered.discard("poll")
    assert not commands.knows("poll")
