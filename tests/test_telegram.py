"""Steward on the real python-telegram-bot client against the fake Bot API (tests/fakes).

Every scenario goes the whole way: the fake queues an update, PTB long-polls it, the adapter
translates it, the runtime judges it on a virtual clock, and the adapter's Bot API calls change
the fake's state, so the assertions are about what really happened in the chat (who is muted
until when, which messages are gone) and about the calls Telegram received.
"""

from __future__ import annotations

import asyncio
import socket
import textwrap
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from adapters.telegram.adapter import ALLOWED_UPDATES, CONCURRENT_CALLS, TelegramAdapter
from bot.actions import Ban, Button, Delete, DirectMessage, Kick, Mute, Send, Unban
from bot.adapter import Failure
from bot.clock import SystemClock
from bot.config import TelegramConfig, WebhookConfig
from bot.storage.base import ActionStatus, Case, MemberKey
from bot.storage.sqlite import SqliteStore
from tests.fakes.telegram_api import ANONYMOUS_ADMIN_ID, MEMBER_PERMISSIONS, Json
from tests.fakes.telegram_rig import TelegramRig

RULES = textwrap.dedent(
    """\
    version: 1
    ladder:
      decay: {points: 1, every: 7d}
      steps:
        - {at: 1, action: warn, message: "{user}, this is a warning ({reason})."}
        - {at: 2, action: mute, duration: 1h}
        - {at: 3, action: ban}
    rules:
      - id: crypto-spam
        description: No crypto spam
        reason: crypto spam
        when: {keywords: [free crypto]}
        strike: 1
        delete: true
      - id: flood
        description: Too many messages at once
        reason: flooding
        when:
          - flood: {messages: 3, within: 10s}
          - not: {flood: {messages: 4, within: 10s}}
        strike: 1
      - id: shouting-ads
        description: Ads get a short mute, outside the ladder
        reason: advertising
        when: {keywords: [buy now]}
        delete: true
        action: {type: mute, duration: 10m}
      - id: bio-spam
        description: Join requests from signal sellers
        reason: a spam profile
        on: join_request
        when: {keywords: [crypto signals]}
        strike: 1
      - id: raid
        description: Many members joining at once
        reason: a possible raid
        on: join
        when: {raid: {joins: 2, within: 1m}}
        notify_admins: true
      - id: goodbye
        description: Say goodbye
        on: leave
        when: {member: {messages: {gte: 0}}}
        reply: "Goodbye {user}."
    """
)
NEW_GROUP = -1004001


@pytest.fixture
async def tg() -> Any:
    async with TelegramRig(rules_text=RULES) as rig:
        yield rig


def member_key(tg: TelegramRig, user: Json, chat: int | None = None) -> MemberKey:
    return MemberKey("telegram", str(chat or tg.chat), str(user["id"]))


async def cases(tg: TelegramRig, user: Json, chat: int | None = None) -> list[Case]:
    return await tg.rt.store.cases_for(member_key(tg, user, chat))


def texts(tg: TelegramRig) -> list[str]:
    return [m["text"] for m in tg.api.sent]


def unix(tg: TelegramRig, after: timedelta) -> int:
    return int((tg.clock.now() + after).timestamp())


async def spam(tg: TelegramRig, user: Json, text: str = "free crypto for everyone") -> Json:
    message = tg.api.say(tg.chat, user, text)
    await tg.settle()
    return message


# -- the ladder -------------------------------------------------------------------------------


async def test_a_spammer_escalates_from_warning_to_mute_to_ban(tg: TelegramRig) -> None:
    api = tg.api
    mallory = api.user(66, "Mallory", "mallory")

    first = await spam(tg, mallory)
    assert (tg.chat, first["message_id"]) in api.deleted
    assert "Mallory, this is a warning (crypto spam)." in texts(tg)
    assert api.member_status(tg.chat, 66).status == "member"  # type: ignore[union-attr]
    assert not api.calls_of("restrictChatMember")

    await tg.advance("10m")
    expected_until = unix(tg, timedelta(hours=1))
    second = await spam(tg, mallory)
    assert (tg.chat, second["message_id"]) in api.deleted
    assert api.is_muted(tg.chat, 66)
    status = api.member_status(tg.chat, 66)
    assert status is not None and status.until == expected_until
    (restrict,) = api.calls_of("restrictChatMember")
    assert restrict.params["user_id"] == 66
    assert restrict.params["until_date"] == expected_until
    assert restrict.params["permissions"]["can_send_messages"] is False

    await tg.advance("61m")  # the mute ran out by itself: Telegram lifted it
    assert not api.is_muted(tg.chat, 66)
    third = await spam(tg, mallory)
    assert (tg.chat, third["message_id"]) in api.deleted
    assert api.is_banned(tg.chat, 66)
    (ban,) = api.calls_of("banChatMember")
    assert "until_date" not in ban.params or not ban.params["until_date"]  # for good

    history = await cases(tg, mallory)
    assert [c.strikes_after for c in reversed(history)] == [1, 2, 3]


async def test_an_admin_is_exempt(tg: TelegramRig) -> None:
    api = tg.api
    ann = api.user(2, "Ann", "ann")
    api.promote(tg.chat, ann)
    message = await spam(tg, ann)
    assert (tg.chat, message["message_id"]) not in api.deleted
    assert not api.calls_of("restrictChatMember")
    assert await cases(tg, ann) == []


async def test_the_owner_is_exempt(tg: TelegramRig) -> None:
    message = await spam(tg, tg.owner)
    assert (tg.chat, message["message_id"]) not in tg.api.deleted
    assert await cases(tg, tg.owner) == []


async def test_an_anonymous_admin_is_exempt_and_may_warn(tg: TelegramRig) -> None:
    api = tg.api
    group_bot = {"id": ANONYMOUS_ADMIN_ID, "is_bot": True, "first_name": "Group"}
    chat_json = api.chats[tg.chat].json()
    post = api.say(tg.chat, group_bot, "free crypto giveaway rules", sender_chat=chat_json)
    bob = api.user(3, "Bob", "bob")
    target = api.say(tg.chat, bob, "hello all")
    api.say(tg.chat, group_bot, "/warn be kind", reply_to=target, sender_chat=chat_json)
    await tg.settle()
    assert (tg.chat, post["message_id"]) not in api.deleted
    assert any(t.startswith("Bob warned: be kind") for t in texts(tg))
    assert [c.strikes_after for c in await cases(tg, bob)] == [1]


async def test_warn_by_reply(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    rude = api.say(tg.chat, bob, "whatever")
    api.say(tg.chat, tg.owner, "/warn stop it", reply_to=rude)
    await tg.settle()
    assert "Bob, this is a warning (stop it)." in texts(tg)
    assert any(t.startswith("Bob warned: stop it. Strikes 0 → 1") for t in texts(tg))
    (case,) = await cases(tg, bob)
    assert case.source == "admin" and case.strikes_after == 1


async def test_mute_by_a_non_admin_is_refused_politely(tg: TelegramRig) -> None:
    api = tg.api
    bob, eve = api.user(3, "Bob", "bob"), api.user(4, "Eve", "eve")
    target = api.say(tg.chat, bob, "hello")
    command = api.say(tg.chat, eve, "/mute 1h", reply_to=target)
    await tg.settle()
    assert "Sorry Eve, /mute is for admins." in texts(tg)
    reply = next(m for m in api.sent if m["text"].startswith("Sorry Eve"))
    assert reply["reply_to_message_id"] == command["message_id"]
    assert not api.calls_of("restrictChatMember")
    assert not api.is_muted(tg.chat, 3)


async def test_mute_by_an_admin_for_an_hour(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    target = api.say(tg.chat, bob, "hello")
    api.say(tg.chat, tg.owner, "/mute 1h calm down", reply_to=target)
    await tg.settle()
    status = api.member_status(tg.chat, 3)
    assert status is not None and status.until == unix(tg, timedelta(hours=1))
    assert api.is_muted(tg.chat, 3)


# -- faults -----------------------------------------------------------------------------------


async def test_a_missing_right_is_reported_once_per_chat_and_hour() -> None:
    async with TelegramRig(rules_text=RULES, bot_rights={"can_restrict_members": False}) as tg:
        api = tg.api
        first = api.say(tg.chat, api.user(31, "Ad1"), "buy now, cheap")
        second = api.say(tg.chat, api.user(32, "Ad2"), "buy now, cheaper")
        await tg.settle()
        # The bot kept going: both ads were deleted though neither author could be muted.
        assert {(tg.chat, first["message_id"]), (tg.chat, second["message_id"])} <= api.deleted
        assert len(api.calls_of("restrictChatMember")) == 2
        assert not api.is_muted(tg.chat, 31) and not api.is_muted(tg.chat, 32)
        notices = [t for t in texts(tg) if "Ban users" in t]
        assert len(notices) == 1
        assert notices[0].startswith("I could not mute: Steward needs the Ban users admin right")

        await tg.advance("59m")
        api.say(tg.chat, api.user(33, "Ad3"), "buy now!")
        await tg.settle()
        assert len([t for t in texts(tg) if "Ban users" in t]) == 1

        await tg.advance("2m")  # 61 minutes after the first notice
        api.say(tg.chat, api.user(34, "Ad4"), "buy now!!")
        await tg.settle()
        assert len([t for t in texts(tg) if "Ban users" in t]) == 2

        # The failure is on the record, with its reason.
        (case,) = await cases(tg, api.user(34, "Ad4"))
        records = await tg.rt.store.actions_for_case(case.id)
        mute = next(r for r in records if isinstance(r.action, Mute))
        assert mute.status is ActionStatus.FAILED
        assert "Ban users" in mute.reason


async def test_one_missing_right_is_one_notice_whatever_needed_it() -> None:
    async with TelegramRig(rules_text=RULES, bot_rights={"can_restrict_members": False}) as tg:
        api = tg.api
        api.say(tg.chat, api.user(31, "Ad1"), "buy now, cheap")  # a mute
        await tg.settle()
        bob = api.user(3, "Bob", "bob")
        target = api.say(tg.chat, bob, "hello")
        api.say(tg.chat, tg.owner, "/ban spam", reply_to=target)  # a ban: the same right
        await tg.settle()
        assert len(api.calls_of("banChatMember")) == 1
        notices = [t for t in texts(tg) if t.startswith("I could not")]
        assert len(notices) == 1, notices


# PTB itself warns about the future type of RetryAfter.retry_after when it builds the error.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_retry_after_is_honoured(tg: TelegramRig) -> None:
    api = tg.api
    api.fail("restrictChatMember", 429, "Too Many Requests: retry after 1", retry_after=1)
    api.say(tg.chat, api.user(31, "Ad"), "buy now")
    await tg.settle()
    calls = api.calls_of("restrictChatMember")
    assert len(calls) == 2  # refused once, then done after waiting
    assert api.is_muted(tg.chat, 31)


async def test_network_errors_are_retried_with_backoff(tg: TelegramRig) -> None:
    api = tg.api
    api.fail("deleteMessage", 502, "Bad Gateway", times=2)
    message = await spam(tg, api.user(66, "Mallory"))
    assert len(api.calls_of("deleteMessage")) == 3
    assert (tg.chat, message["message_id"]) in api.deleted


async def test_a_network_that_stays_down_is_recorded_and_the_bot_goes_on(tg: TelegramRig) -> None:
    api = tg.api
    api.fail("deleteMessage", 502, "Bad Gateway", times=4)  # the first try and three retries
    mallory = api.user(66, "Mallory")
    lost = await spam(tg, mallory)
    assert (tg.chat, lost["message_id"]) not in api.deleted
    (case,) = await cases(tg, mallory)
    delete = next(
        r for r in await tg.rt.store.actions_for_case(case.id) if isinstance(r.action, Delete)
    )
    assert delete.status is ActionStatus.FAILED and "network error" in delete.reason
    assert "Mallory, this is a warning (crypto spam)." in texts(tg)  # the rest went on
    await tg.advance("1m")
    later = await spam(tg, api.user(67, "Trudy"))
    assert (tg.chat, later["message_id"]) in api.deleted


async def test_a_redelivered_update_is_ignored(tg: TelegramRig) -> None:
    api = tg.api
    mallory = api.user(66, "Mallory")
    await spam(tg, mallory)
    update = api.pushed[-1]
    # The client stopped before confirming it, so Telegram hands it out again.
    await tg.stop()
    api.redeliver(update)
    await tg.start()
    await tg.settle()
    assert len(api.calls_of("deleteMessage")) == 1
    assert len(await cases(tg, mallory)) == 1
    assert texts(tg).count("Mallory, this is a warning (crypto spam).") == 1


async def test_an_album_counts_once_for_flood(tg: TelegramRig) -> None:
    api = tg.api
    pat = api.user(5, "Pat", "pat")
    for _ in range(5):
        api.say(tg.chat, pat, "", media="photo", media_group_id="album-1")
    await tg.settle()
    assert await cases(tg, pat) == []  # five photos, one message for flood
    api.say(tg.chat, pat, "and one more thing")
    await tg.settle()
    assert await cases(tg, pat) == []
    api.say(tg.chat, pat, "sorry, the last one")
    await tg.settle()
    (case,) = await cases(tg, pat)
    assert case.rule_id == "flood"


async def test_a_migrated_group_keeps_its_strikes_under_the_new_id(tg: TelegramRig) -> None:
    api = tg.api
    old = -4001
    api.group(old, "Small group", owner=tg.owner).type = "group"
    mallory = api.user(66, "Mallory")
    api.say(old, mallory, "free crypto here")
    await tg.settle()
    assert [c.strikes_after for c in await cases(tg, mallory, old)] == [1]

    api.migrate(old, NEW_GROUP)
    await tg.settle()
    await tg.advance("5m")
    api.say(NEW_GROUP, mallory, "free crypto again")
    await tg.settle()
    assert api.is_muted(NEW_GROUP, 66)  # the second strike, not a first warning
    history = await cases(tg, mallory, NEW_GROUP)
    assert [c.strikes_after for c in reversed(history)] == [1, 2]
    assert isinstance(tg.rt.store, SqliteStore)
    assert await tg.rt.store.chat_active("telegram", str(old)) is False


async def test_the_bot_removed_from_a_chat_marks_it_inactive(tg: TelegramRig) -> None:
    api = tg.api
    await spam(tg, api.user(3, "Bob"), "hello")
    store = tg.rt.store
    assert isinstance(store, SqliteStore)
    assert await store.chat_active("telegram", str(tg.chat)) is True
    api.remove_bot(tg.chat)
    await tg.settle()
    assert await store.chat_active("telegram", str(tg.chat)) is False


async def test_an_action_in_a_chat_the_bot_left_marks_it_inactive(tg: TelegramRig) -> None:
    api = tg.api
    await spam(tg, api.user(3, "Bob"), "hello")
    api.chats[tg.chat].members[api.bot["id"]].status = "left"  # no update about it arrived
    outcome = await tg.rt.executor.perform(
        "telegram", Send(chat=str(tg.chat), text="anyone there?")
    )
    assert not outcome.ok and outcome.failure is Failure.NOT_FOUND
    store = tg.rt.store
    assert isinstance(store, SqliteStore)
    assert await store.chat_active("telegram", str(tg.chat)) is False
    assert not api.sent  # and no notice was attempted in a chat Steward is not in


# -- outbound details -------------------------------------------------------------------------


async def test_a_message_older_than_48_hours_is_not_deleted(tg: TelegramRig) -> None:
    api = tg.api
    mallory = api.user(66, "Mallory")
    old = api.say(tg.chat, mallory, "hello", date=tg.clock.now() - timedelta(hours=49))
    await tg.settle()
    api.edit(old, "free crypto now")  # the spam arrives as an edit of an old message
    await tg.settle()
    assert (tg.chat, old["message_id"]) not in api.deleted
    assert not api.calls_of("deleteMessage")  # refused before asking Telegram
    (case,) = await cases(tg, mallory)
    delete = next(
        r for r in await tg.rt.store.actions_for_case(case.id) if isinstance(r.action, Delete)
    )
    assert delete.status is ActionStatus.SKIPPED
    assert "48 hours" in delete.reason


async def test_an_old_message_unknown_to_the_adapter_is_explained_by_telegram(
    tg: TelegramRig,
) -> None:
    api = tg.api
    old = api.say(tg.chat, api.user(3, "Bob"), "hello")
    await tg.settle()
    await tg.restart()  # the adapter no longer remembers when it saw the message
    await tg.advance("49h")
    outcome = await tg.rt.executor.perform(
        "telegram", Delete(chat=str(tg.chat), message_id=str(old["message_id"]))
    )
    assert not outcome.ok and outcome.failure is Failure.NOT_ALLOWED
    assert "48 hours" in outcome.reason
    assert not [t for t in texts(tg) if "Delete messages" in t]  # not a missing right


async def test_deleting_without_the_right_is_a_missing_right() -> None:
    async with TelegramRig(rules_text=RULES, bot_rights={"can_delete_messages": False}) as tg:
        api = tg.api
        message = await spam(tg, api.user(66, "Mallory"))
        assert (tg.chat, message["message_id"]) not in api.deleted
        assert [t for t in texts(tg) if "Delete messages admin right" in t]


async def test_unmute_restores_the_chat_default_permissions_exactly(tg: TelegramRig) -> None:
    api = tg.api
    defaults = {**MEMBER_PERMISSIONS, "can_send_polls": False, "can_invite_users": False}
    api.chats[tg.chat].permissions = defaults
    bob = api.user(3, "Bob", "bob")
    target = api.say(tg.chat, bob, "hello")
    api.say(tg.chat, tg.owner, "/mute 2h", reply_to=target)
    await tg.settle()
    assert api.is_muted(tg.chat, 3)
    api.say(tg.chat, tg.owner, "/unmute", reply_to=target)
    await tg.settle()
    assert "Bob can speak again." in texts(tg)
    unmute = api.calls_of("restrictChatMember")[-1]
    sent = unmute.params["permissions"]
    assert sent["can_send_polls"] is False and sent["can_invite_users"] is False
    assert {k: v for k, v in defaults.items() if k in sent} == sent
    assert "until_date" not in unmute.params or not unmute.params["until_date"]
    status = api.member_status(tg.chat, 3)
    assert status is not None and status.status == "member"


async def test_kick_is_ban_then_unban(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    target = api.say(tg.chat, bob, "hello")
    api.say(tg.chat, tg.owner, "/kick off-topic", reply_to=target)
    await tg.settle()
    methods = [c.method for c in api.calls if c.method in ("banChatMember", "unbanChatMember")]
    assert methods == ["banChatMember", "unbanChatMember"]
    assert api.calls_of("unbanChatMember")[0].params["only_if_banned"] is True
    status = api.member_status(tg.chat, 3)
    assert status is not None and status.status == "left"  # out, but free to come back


async def test_a_temporary_ban_passes_until_date(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    target = api.say(tg.chat, bob, "hello")
    api.say(tg.chat, tg.owner, "/ban 2d spam", reply_to=target)
    await tg.settle()
    (ban,) = api.calls_of("banChatMember")
    assert ban.params["until_date"] == unix(tg, timedelta(days=2))
    assert api.is_banned(tg.chat, 3)
    await tg.advance("2d1m")
    assert not api.is_banned(tg.chat, 3)


async def test_a_ban_over_366_days_is_clamped_not_made_permanent(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    target = api.say(tg.chat, bob, "hello")
    api.say(tg.chat, tg.owner, "/ban 400d", reply_to=target)
    await tg.settle()
    (ban,) = api.calls_of("banChatMember")
    assert ban.params["until_date"] == unix(tg, timedelta(days=366))


async def test_banning_a_spammer_revokes_their_messages_and_join_notice(
    tg: TelegramRig,
) -> None:
    api = tg.api
    mallory = api.user(66, "Mallory")
    notice = api.join(tg.chat, mallory)
    assert notice is not None
    first = api.say(tg.chat, mallory, "hi all")
    second = api.say(tg.chat, mallory, "check my profile")
    other = api.say(tg.chat, api.user(3, "Bob"), "hello")
    await tg.settle()
    outcome = await tg.rt.executor.perform(
        "telegram",
        Ban(chat=str(tg.chat), user="66", user_name="Mallory", delete_recent_messages=True),
    )
    assert outcome.ok
    (ban,) = api.calls_of("banChatMember")
    assert ban.params["revoke_messages"] is True
    assert any(
        c.params["message_id"] == notice["message_id"] for c in api.calls_of("deleteMessage")
    )
    gone = {(tg.chat, m["message_id"]) for m in (notice, first, second)}
    assert gone <= api.deleted
    assert (tg.chat, other["message_id"]) not in api.deleted


async def test_a_direct_message_to_a_member_who_never_started_the_bot(tg: TelegramRig) -> None:
    api = tg.api
    outcome = await tg.rt.executor.perform(
        "telegram", DirectMessage(chat=str(tg.chat), user="3", text="about your case")
    )
    assert not outcome.ok and outcome.failure is Failure.UNREACHABLE
    assert "private chat" in outcome.reason
    api.started.add(3)
    outcome = await tg.rt.executor.perform(
        "telegram", DirectMessage(chat=str(tg.chat), user="3", text="about your case")
    )
    assert outcome.ok
    assert [m["text"] for m in api.direct] == ["about your case"]
    # Steward is still fine.
    message = await spam(tg, api.user(66, "Mallory"))
    assert (tg.chat, message["message_id"]) in api.deleted


async def test_a_channel_posting_as_itself_is_banned_as_a_sender_chat(tg: TelegramRig) -> None:
    api = tg.api
    channel = {"id": -1002000000002, "type": "channel", "title": "Spam channel"}
    placeholder = {"id": 136817688, "is_bot": True, "first_name": "Channel"}
    post = api.say(tg.chat, placeholder, "free crypto", sender_chat=channel)
    await tg.settle()
    assert (tg.chat, post["message_id"]) in api.deleted
    outcome = await tg.rt.executor.perform(
        "telegram", Mute(chat=str(tg.chat), user=str(channel["id"]), until=None)
    )
    assert not outcome.ok and outcome.failure is Failure.NOT_ALLOWED
    outcome = await tg.rt.executor.perform(
        "telegram", Ban(chat=str(tg.chat), user=str(channel["id"]))
    )
    assert outcome.ok
    assert channel["id"] in api.chats[tg.chat].banned_senders
    await tg.rt.executor.perform("telegram", Unban(chat=str(tg.chat), user=str(channel["id"])))
    assert not api.chats[tg.chat].banned_senders
    assert not api.calls_of("banChatMember")


async def test_the_linked_channel_is_not_punished_for_its_own_posts(tg: TelegramRig) -> None:
    api = tg.api
    channel: Json = {"id": -1002000000002, "type": "channel", "title": "Our news"}
    api.chats[tg.chat].linked_chat_id = channel["id"]
    service = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
    post = api.say(tg.chat, service, "free crypto workshop on Friday", sender_chat=channel)
    await tg.settle()
    assert (tg.chat, post["message_id"]) not in api.deleted


# -- joins, leaves, join requests -------------------------------------------------------------


async def test_a_join_reported_twice_is_one_join(tg: TelegramRig) -> None:
    api = tg.api
    api.join(tg.chat, api.user(21, "Newbie"))  # a service message and a chat_member update
    await tg.settle()
    assert not [t for t in texts(tg) if "raid" in t]
    api.join(tg.chat, api.user(22, "Another"))
    await tg.settle()
    assert len([t for t in texts(tg) if "raid" in t]) == 1


async def test_a_leave_reported_twice_is_one_leave(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    await spam(tg, bob, "hello")
    api.leave(tg.chat, bob)
    await tg.settle()
    assert texts(tg).count("Goodbye Bob.") == 1


async def test_a_clean_join_request_is_approved_when_screening() -> None:
    async with TelegramRig(rules_text=RULES, join_requests="screen") as tg:
        api = tg.api
        api.request_to_join(tg.chat, api.user(40, "Carol"), bio="I like gardening")
        await tg.settle()
        assert [c.params["user_id"] for c in api.calls_of("approveChatJoinRequest")] == [40]
        status = api.member_status(tg.chat, 40)
        assert status is not None and status.status == "member"


async def test_join_requests_are_left_to_admins_by_default(tg: TelegramRig) -> None:
    api = tg.api
    api.request_to_join(tg.chat, api.user(40, "Carol"), bio="I like gardening")
    await tg.settle()
    assert not api.calls_of("approveChatJoinRequest")
    assert 40 in api.chats[tg.chat].join_requests


async def test_a_join_request_with_a_spam_bio_is_declined_when_screening() -> None:
    async with TelegramRig(rules_text=RULES, join_requests="screen") as tg:
        api = tg.api
        api.request_to_join(tg.chat, api.user(41, "Sig"), bio="daily crypto signals, DM")
        await tg.settle()
        assert [c.params["user_id"] for c in api.calls_of("declineChatJoinRequest")] == [41]
        assert not api.calls_of("approveChatJoinRequest")


# -- admin status -----------------------------------------------------------------------------


async def test_admins_are_cached_and_refreshed_when_someone_is_promoted(
    tg: TelegramRig,
) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    for text in ("hello", "how are you", "nice weather"):
        api.say(tg.chat, bob, text)
        await tg.settle()
        await tg.advance("30s")
    assert len(api.calls_of("getChatAdministrators")) == 1  # asked once, then cached

    api.promote(tg.chat, bob)  # Telegram sends a chat_member update
    await tg.settle()
    message = await spam(tg, bob)
    assert len(api.calls_of("getChatAdministrators")) == 2
    assert (tg.chat, message["message_id"]) not in api.deleted  # now an admin: exempt

    await tg.advance("6m")  # past the cache's lifetime: asked again
    api.say(tg.chat, bob, "still here")
    await tg.settle()
    assert len(api.calls_of("getChatAdministrators")) == 3


async def test_a_promotion_without_an_update_is_seen_after_the_cache_expires(
    tg: TelegramRig,
) -> None:
    api = tg.api
    bob = api.user(3, "Bob", "bob")
    await spam(tg, bob, "hello")
    api.promote(tg.chat, bob, notify=False)
    await tg.advance("6m")
    message = await spam(tg, bob)
    assert (tg.chat, message["message_id"]) not in api.deleted


# -- the client's side of the conversation ----------------------------------------------------


async def test_allowed_updates_cover_everything_steward_reads(tg: TelegramRig) -> None:
    polls = await tg.api.wait_for("getUpdates", where=lambda p: "allowed_updates" in p)
    asked = set(polls[0].params["allowed_updates"])
    assert asked >= {
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "message_reaction",
    }
    assert asked == set(ALLOWED_UPDATES)


async def test_button_presses_are_answered(tg: TelegramRig) -> None:
    api = tg.api
    sent = api.say(tg.chat, tg.owner, "poll")
    api.press(tg.chat, api.user(3, "Bob"), sent, "steward:nothing")
    await tg.settle()
    assert len(api.calls_of("answerCallbackQuery")) == 1


async def test_a_restart_in_the_middle_changes_nothing(tg: TelegramRig) -> None:
    api = tg.api
    mallory = api.user(66, "Mallory")
    await spam(tg, mallory)
    assert len(api.calls_of("sendMessage")) == 1
    await tg.restart()
    await tg.settle()
    assert len(api.calls_of("sendMessage")) == 1  # nothing was done again
    await tg.advance("10m")
    await spam(tg, mallory)
    assert api.is_muted(tg.chat, 66)  # the strike from before the restart still counts
    await tg.restart()
    await tg.advance("61m")
    assert not api.is_muted(tg.chat, 66)
    await spam(tg, mallory)
    assert api.is_banned(tg.chat, 66)


async def test_kicked_members_can_come_back_even_if_the_unban_is_lost(tg: TelegramRig) -> None:
    api = tg.api
    api.fail("unbanChatMember", 400, "Bad Request: something odd", times=1)
    bob = api.user(3, "Bob", "bob")
    await spam(tg, bob, "hello")
    outcome = await tg.rt.executor.perform("telegram", Kick(chat=str(tg.chat), user="3"))
    assert not outcome.ok
    assert api.is_banned(tg.chat, 3)
    await tg.advance("6m")  # the ban part of a kick is short, never for good
    assert not api.is_banned(tg.chat, 3)


# -- webhook mode -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_mode_receives_updates_at_the_public_url_path() -> None:
    port = free_port()
    hook = WebhookConfig(
        listen="127.0.0.1",
        port=port,
        url=f"http://127.0.0.1:{port}/steward/hook",
        secret_token="s3cret-token",
    )
    async with TelegramRig(rules_text=RULES, webhook=hook) as tg:
        api = tg.api
        (registration,) = await api.wait_for("setWebhook")
        assert registration.params["url"] == hook.url
        assert registration.params["secret_token"] == "s3cret-token"
        assert set(registration.params["allowed_updates"]) == set(ALLOWED_UPDATES)

        message = await spam(tg, api.user(66, "Mallory"))  # POSTed by the fake, as Telegram does
        assert (tg.chat, message["message_id"]) in api.deleted
        assert api.webhook_failures == 0
        assert not api.calls_of("getUpdates")

        forged = {"update_id": 999, "message": dict(message, message_id=4242)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                hook.url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            ) as answer,
        ):
            assert answer.status == 403
        await tg.settle()
        assert len(await cases(tg, api.user(66, "Mallory"))) == 1


def test_webhook_mode_without_a_webhook_section_is_explained() -> None:
    config = TelegramConfig(token="1:x", mode="webhook")
    with pytest.raises(ValueError, match="webhook section"):
        TelegramAdapter(config, SystemClock())


# -- buttons ----------------------------------------------------------------------------------

LOG_CHAT = -1009000000009


async def test_an_appeal_is_answered_with_a_button_in_the_log_chat() -> None:
    async with TelegramRig(rules_text=RULES, log_chat=f"telegram:{LOG_CHAT}") as tg:
        api = tg.api
        api.group(LOG_CHAT, "Moderators", owner=tg.owner)
        mallory = api.user(66, "Mallory")
        await spam(tg, mallory)
        (case,) = await cases(tg, mallory)
        api.say(tg.chat, mallory, "/appeal it was a joke")
        await tg.settle()

        notice = next(m for m in api.sent if m["text"].startswith(f"Appeal of case #{case.id}"))
        assert notice["chat"]["id"] == LOG_CHAT
        (row,) = notice["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in row] == ["Uphold", "Pardon"]
        pardon = row[1]["callback_data"]

        api.press(LOG_CHAT, tg.owner, notice, pardon)
        await tg.settle()
        assert len(api.calls_of("answerCallbackQuery")) == 1
        assert f"Case #{case.id} pardoned by Olga: its strikes are removed." in texts(tg)
        (after,) = await cases(tg, mallory)
        assert after.status.value == "pardoned"

        await tg.advance("10m")
        await spam(tg, mallory)  # a first offence again: a warning, not a mute
        assert not api.is_muted(tg.chat, 66)


async def test_a_button_pressed_by_a_member_changes_nothing() -> None:
    async with TelegramRig(rules_text=RULES, log_chat=f"telegram:{LOG_CHAT}") as tg:
        api = tg.api
        api.group(LOG_CHAT, "Moderators", owner=tg.owner)
        mallory = api.user(66, "Mallory")
        await spam(tg, mallory)
        api.say(tg.chat, mallory, "/appeal please")
        await tg.settle()
        notice = next(m for m in api.sent if m["text"].startswith("Appeal of case"))
        pardon = notice["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        api.press(LOG_CHAT, mallory, notice, pardon)  # the member presses the admins' button
        await tg.settle()
        (case,) = await cases(tg, mallory)
        assert case.status.value == "appealed"


async def test_buttons_with_data_and_links_are_sent_as_an_inline_keyboard(tg: TelegramRig) -> None:
    outcome = await tg.rt.executor.perform(
        "telegram",
        Send(
            chat=str(tg.chat),
            text="Welcome!",
            buttons=(Button("I agree", data="agree"), Button("Rules", url="https://example.org")),
        ),
    )
    assert outcome.ok
    (message,) = tg.api.sent
    (row,) = message["reply_markup"]["inline_keyboard"]
    assert row == [
        {"text": "I agree", "callback_data": "agree"},
        {"text": "Rules", "url": "https://example.org"},
    ]


async def test_a_private_chat_with_the_bot_asks_for_no_admin_list(tg: TelegramRig) -> None:
    api = tg.api
    api.dm(api.user(3, "Bob", "bob"), "/start")
    await tg.settle()
    assert not api.calls_of("getChatAdministrators")
    (answer,) = api.direct
    assert answer["text"].startswith("I keep this chat friendly.")


async def test_an_action_for_a_group_that_just_migrated_follows_it(tg: TelegramRig) -> None:
    api = tg.api
    old = -4001
    api.group(old, "Small group", owner=tg.owner).type = "group"
    api.say(old, api.user(3, "Bob"), "hello")
    await tg.settle()
    api.migrate(old, NEW_GROUP)  # not yet fetched by Steward when the action runs
    outcome = await tg.rt.executor.perform("telegram", Send(chat=str(old), text="Welcome!"))
    assert outcome.ok and str(NEW_GROUP) in outcome.note
    (message,) = api.sent
    assert message["chat"]["id"] == NEW_GROUP
    await tg.settle()


async def test_calls_in_flight_are_bounded(tg: TelegramRig) -> None:
    api = tg.api
    bob = api.user(3, "Bob")
    messages = [api.say(tg.chat, bob, f"message {n}") for n in range(40)]
    await tg.settle()
    api.slow("deleteMessage", 0.02)  # a distant server: many calls overlap
    outcomes = await asyncio.gather(
        *(
            tg.rt.executor.perform(
                "telegram", Delete(chat=str(tg.chat), message_id=str(m["message_id"]))
            )
            for m in messages
        )
    )
    assert all(o.ok for o in outcomes)
    assert len(api.deleted) == 40
    assert CONCURRENT_CALLS // 2 <= api.most_in_flight <= CONCURRENT_CALLS


# -- text that only looks like a command ------------------------------------------------------


async def test_a_slash_word_that_is_no_command_of_stewards_is_judged_by_the_rules(
    tg: TelegramRig,
) -> None:
    api = tg.api
    mallory = api.user(66, "Mallory")
    message = await spam(tg, mallory, "/free crypto for everyone")
    assert (tg.chat, message["message_id"]) in api.deleted
    (case,) = await cases(tg, mallory)
    assert case.rule_id == "crypto-spam"
    bob = api.user(3, "Bob")
    api.say(tg.chat, tg.owner, f"/ban@OtherBot {bob['id']}")  # another bot's command
    await tg.settle()
    assert not api.is_banned(tg.chat, 3)
    assert not any("is for admins" in t or "banned" in t for t in texts(tg))
