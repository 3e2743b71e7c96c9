"""Steward on the real discord.py client against the fake Discord (tests/fakes).

Every scenario goes the whole way: the fake pushes a gateway dispatch, discord.py parses it,
the adapter translates it, the runtime judges it on a virtual clock, and the adapter's REST
calls change the fake's state, so the assertions are about what really happened in the guild
(who is timed out until when, who is banned, which messages are gone) and about the calls
Discord received.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any, Literal

import pytest

from adapters.discord import DiscordAdapter, create
from bot.actions import Ban, Button, DirectMessage, Kick, Mute, Restrict, Send, Unban
from bot.adapter import Failure
from bot.config import DiscordConfig, GroupConfig, load_config_text
from bot.storage.base import ActionStatus, Case, MemberKey
from bot.storage.sqlite import SqliteStore
from tests.fakes.discord_api import BOT_PERMISSIONS, Json, Permission
from tests.fakes.discord_rig import DiscordRig

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
      - id: ads
        description: Ads get a short mute, outside the ladder
        reason: advertising
        when: {keywords: [buy now]}
        delete: true
        action: {type: mute, duration: 10m}
      - id: slurs
        description: Slurs get a restriction
        reason: slurs
        when: {keywords: [slurword]}
        action: {type: restrict, permissions: [send_links], duration: 1h}
    """
)
TEMP_BAN_RULES = textwrap.dedent(
    """\
    version: 1
    ladder:
      steps:
        - {at: 1, action: ban, duration: 1d}
    rules:
      - id: crypto-spam
        description: No crypto spam
        reason: crypto spam
        when: {keywords: [free crypto]}
        strike: 1
        delete: true
    """
)


@pytest.fixture
async def dc() -> Any:
    async with DiscordRig(rules_text=RULES) as rig:
        yield rig


def uid(user: Json) -> int:
    return int(user["id"])


def member_key(dc: DiscordRig, user: Json) -> MemberKey:
    return MemberKey("discord", str(dc.guild.id), user["id"])


async def cases(dc: DiscordRig, user: Json) -> list[Case]:
    return await dc.rt.store.cases_for(member_key(dc, user))


def texts(dc: DiscordRig) -> list[str]:
    return [m["content"] for m in dc.api.sent]


async def spam(
    dc: DiscordRig, user: Json, text: str = "free crypto for everyone", channel: int = 0
) -> Json:
    message = dc.api.say(channel or dc.channel, user, text)
    await dc.settle()
    return message


def deleted(dc: DiscordRig, message: Json) -> bool:
    return (int(message["channel_id"]), int(message["id"])) in dc.api.deleted


# -- the ladder -------------------------------------------------------------------------------


async def test_a_spammer_escalates_from_warning_to_timeout_to_ban(dc: DiscordRig) -> None:
    api = dc.api
    mallory = dc.member("mallory")

    first = await spam(dc, mallory)
    assert deleted(dc, first)
    assert "Mallory, this is a warning (crypto spam)." in texts(dc)
    assert not api.is_timed_out(dc.guild.id, uid(mallory))

    await dc.advance("10m")
    expected = dc.clock.now() + timedelta(hours=1)
    second = await spam(dc, mallory)
    assert deleted(dc, second)
    assert api.timed_out_until(dc.guild.id, uid(mallory)) == expected
    (timeout,) = api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")
    assert timeout.json["communication_disabled_until"] == expected.isoformat()
    assert timeout.reason == "crypto spam"

    await dc.advance("61m")  # Discord ended the timeout by itself
    assert not api.is_timed_out(dc.guild.id, uid(mallory))
    third = await spam(dc, mallory)
    assert deleted(dc, third)
    assert api.is_banned(dc.guild.id, uid(mallory))
    assert not api.is_member(dc.guild.id, uid(mallory))
    history = await cases(dc, mallory)
    assert [c.strikes_after for c in reversed(history)] == [1, 2, 3]


async def test_strikes_are_per_guild_across_channels(dc: DiscordRig) -> None:
    mallory = dc.member("mallory")
    other = dc.guild.channel_ids[1]
    await spam(dc, mallory)
    await dc.advance("1m")
    await spam(dc, mallory, channel=other)
    assert dc.api.is_timed_out(dc.guild.id, uid(mallory))
    assert [c.chat for c in reversed(await cases(dc, mallory))] == [str(dc.channel), str(other)]


async def test_an_admin_is_exempt(dc: DiscordRig) -> None:
    role = dc.api.role(dc.guild.id, "Admins", permissions=Permission.ADMINISTRATOR)
    ann = dc.member("ann", roles=[role.id])
    await dc.restart()  # the guild as Discord sends it at connection, with Ann's role
    message = await spam(dc, ann)
    assert not deleted(dc, message)
    assert await cases(dc, ann) == []


async def test_the_owner_and_a_moderator_role_are_exempt() -> None:
    async with DiscordRig(rules_text=RULES, moderator_roles=["Helpers"]) as dc:
        helpers = dc.api.role(dc.guild.id, "Helpers")
        mo = dc.member("mo", roles=[helpers.id])
        await dc.restart()
        for who in (dc.owner, mo):
            message = await spam(dc, who)
            assert not deleted(dc, message)
            assert await cases(dc, who) == []


async def test_a_member_promoted_on_discord_is_exempt_at_once(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    await spam(dc, bob, "hello")  # Bob's status is cached now
    role = dc.api.role(dc.guild.id, "Managers", permissions=Permission.MANAGE_GUILD)
    dc.api.update_member(dc.guild.id, uid(bob), roles=[role.id])
    await dc.settle()
    message = await spam(dc, bob)
    assert not deleted(dc, message)
    assert await cases(dc, bob) == []


# -- commands ---------------------------------------------------------------------------------


async def test_warn_by_reply(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    rude = dc.api.say(dc.channel, bob, "whatever")
    command = dc.api.say(dc.channel, dc.owner, "/warn stop it", reply_to=rude)
    await dc.settle()
    assert "Bob, this is a warning (stop it)." in texts(dc)
    answer = next(m for m in dc.api.sent if m["content"].startswith("Bob warned: stop it"))
    assert answer["content"].startswith("Bob warned: stop it. Strikes 0 → 1")
    assert answer["message_reference"]["message_id"] == command["id"]
    (case,) = await cases(dc, bob)
    assert case.source == "admin" and case.strikes_after == 1


async def test_mute_by_a_non_admin_is_refused_politely(dc: DiscordRig) -> None:
    bob, eve = dc.member("bob"), dc.member("eve")
    target = dc.api.say(dc.channel, bob, "hello")
    dc.api.say(dc.channel, eve, "/mute 1h", reply_to=target)
    await dc.settle()
    assert "Sorry Eve, /mute is for admins." in texts(dc)
    assert not dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))


async def test_slash_commands_are_registered_in_each_guild(dc: DiscordRig) -> None:
    registered = {c["name"]: c for c in dc.api.commands(dc.guild.id)}
    assert {"warn", "mute", "ban", "pardon", "case", "rules", "Report to admins"} <= set(registered)
    warn = registered["warn"]
    assert int(warn["default_member_permissions"]) == Permission.MODERATE_MEMBERS
    assert [o["type"] for o in warn["options"]] == [6, 3]  # a member, a reason
    pardon = {o["name"]: o for o in registered["pardon"]["options"]}
    assert pardon["strikes"]["type"] == 4 and pardon["strikes"]["min_value"] == 1
    assert registered["rules"].get("default_member_permissions") is None
    assert dc.api.commands() == []  # nothing global


async def test_a_slash_warn_is_answered_as_the_interactions_response(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    interaction = dc.api.slash(
        dc.guild.id, dc.channel, dc.owner, "warn", {"member": bob, "reason": "be kind"}
    )
    await dc.settle()
    (response,) = dc.api.interaction_responses
    assert response["interaction_id"] == int(interaction["id"])
    assert response["type"] == 5  # deferred: Steward answers within Discord's 3 seconds
    assert not response["data"].get("flags")
    (answer,) = dc.api.followups
    assert answer["content"].startswith("Bob warned: be kind. Strikes 0 → 1")
    assert not answer["flags"] & 64
    assert "Bob, this is a warning (be kind)." in texts(dc)
    (case,) = await cases(dc, bob)
    assert case.source == "admin" and case.actor_id == dc.owner["id"]


async def test_a_slash_command_by_a_non_admin_is_refused_privately(dc: DiscordRig) -> None:
    bob, eve = dc.member("bob"), dc.member("eve")
    dc.api.slash(dc.guild.id, dc.channel, eve, "mute", {"member": bob, "duration": "1h"})
    await dc.settle()
    (response,) = dc.api.interaction_responses
    assert response["data"]["flags"] & 64  # ephemeral
    (answer,) = dc.api.followups
    assert answer["content"] == "Sorry Eve, /mute is for admins."
    assert answer["flags"] & 64
    assert "Sorry Eve, /mute is for admins." not in texts(dc)  # not posted in the channel
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))


async def test_slash_pardon_takes_a_number(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    for _ in range(2):
        await spam(dc, bob)
        await dc.advance("2h")
    dc.api.slash(dc.guild.id, dc.channel, dc.owner, "pardon", {"member": bob, "strikes": 1})
    await dc.settle()
    assert dc.api.followups[-1]["content"] == "Bob: 1 strike pardoned; 1 left."


async def test_slash_mute_times_the_member_out(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    until = dc.clock.now() + timedelta(hours=2)
    dc.api.slash(
        dc.guild.id, dc.channel, dc.owner, "mute", {"member": bob, "duration": "2h", "reason": "x"}
    )
    await dc.settle()
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == until
    assert dc.api.followups[-1]["content"] == "Bob: mute for 2h (x)."


# -- permissions ------------------------------------------------------------------------------


async def test_a_missing_permission_is_one_notice_per_guild_and_hour() -> None:
    without = BOT_PERMISSIONS & ~Permission.MODERATE_MEMBERS
    async with DiscordRig(rules_text=RULES, bot_permissions=without) as dc:
        mallory, trent = dc.member("mallory"), dc.member("trent")
        other = dc.guild.channel_ids[1]
        await spam(dc, mallory, "buy now cheap")
        await spam(dc, trent, "buy now cheaper", channel=other)
        notices = [t for t in texts(dc) if t.startswith("I could not mute")]
        assert notices == ["I could not mute: Steward needs the Timeout Members permission."]
        assert not dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")
        # The bot goes on: the messages were still deleted, the actions recorded as failed.
        assert len(dc.api.deleted) == 2
        (case,) = await cases(dc, mallory)
        records = await dc.rt.store.actions_for_case(case.id)
        assert [(r.action.kind.value, r.status) for r in records] == [
            ("delete", ActionStatus.DONE),
            ("mute", ActionStatus.FAILED),
        ]
        await dc.advance("61m")
        await spam(dc, mallory, "buy now again")
        assert len([t for t in texts(dc) if t.startswith("I could not mute")]) == 2


async def test_a_403_from_discord_names_the_permission(dc: DiscordRig) -> None:
    dc.api.fail("PUT /guilds/{guild_id}/bans/{user_id}", 403, 50013, "Missing Permissions")
    bob = dc.member("bob")
    outcome = await dc.rt.executor.perform(
        "discord", Ban(chat=str(dc.channel), user=bob["id"], reason="test")
    )
    assert outcome.failure is Failure.MISSING_RIGHT
    assert outcome.reason == "Steward needs the Ban Members permission (Missing Permissions)"


async def test_a_member_above_the_bot_is_never_acted_on(dc: DiscordRig) -> None:
    high = dc.api.role(dc.guild.id, "Veterans", above_bot=True)
    vera = dc.member("vera", roles=[high.id])
    await dc.restart()
    await spam(dc, vera)
    await dc.advance("10m")
    await spam(dc, vera)
    assert not dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")
    assert not dc.api.is_timed_out(dc.guild.id, uid(vera))
    latest = (await cases(dc, vera))[0]
    mute = next(
        r for r in await dc.rt.store.actions_for_case(latest.id) if r.action.kind.value == "mute"
    )
    assert mute.status is ActionStatus.SKIPPED
    assert "highest role 'Veterans' is not below Steward's highest role" in mute.reason
    for action in (
        Kick(chat=str(dc.channel), user=vera["id"]),
        Ban(chat=str(dc.channel), user=vera["id"]),
    ):
        outcome = await dc.rt.executor.perform("discord", action)
        assert outcome.failure is Failure.NOT_ALLOWED
    owner = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=dc.owner["id"]))
    assert not owner.ok
    assert not dc.api.calls_of("PUT /guilds/{guild_id}/bans/{user_id}")
    assert not dc.api.calls_of("DELETE /guilds/{guild_id}/members/{user_id}")


# -- delivery ---------------------------------------------------------------------------------


async def test_a_redelivered_message_is_ignored(dc: DiscordRig) -> None:
    mallory = dc.member("mallory")
    message = await spam(dc, mallory)
    dc.api.dispatch("MESSAGE_CREATE", message, guild_id=dc.guild.id)  # as after a RESUME
    await dc.settle()
    await dc.restart()
    dc.api.dispatch("MESSAGE_CREATE", message, guild_id=dc.guild.id)
    await dc.settle()
    assert len(dc.api.calls_of("DELETE /channels/{channel_id}/messages/{message_id}")) == 1
    assert len(await cases(dc, mallory)) == 1
    assert texts(dc).count("Mallory, this is a warning (crypto spam).") == 1


async def test_a_gateway_resume_replays_nothing_twice(dc: DiscordRig) -> None:
    mallory = dc.member("mallory")
    await spam(dc, mallory)
    await dc.api.reconnect()  # op 7: discord.py resumes and the fake replays what it missed
    await dc.api.wait_until(lambda: dc.api.sessions[0].resumes == 1)
    await spam(dc, mallory, "hello again")
    assert len(await cases(dc, mallory)) == 1


async def test_an_edit_is_judged_again(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    message = await spam(dc, bob, "hello")
    dc.clock.advance(timedelta(minutes=1))
    dc.api.edit(dc.channel, int(message["id"]), "free crypto for everyone")
    await dc.settle()
    (case,) = await cases(dc, bob)
    assert case.rule_id == "crypto-spam"
    assert deleted(dc, message)


# -- timed actions ----------------------------------------------------------------------------


async def test_a_temporary_ban_is_lifted_on_time_after_a_restart() -> None:
    async with DiscordRig(rules_text=TEMP_BAN_RULES) as dc:
        mallory = dc.member("mallory")
        await spam(dc, mallory)
        assert dc.api.is_banned(dc.guild.id, uid(mallory))
        (ban,) = dc.api.calls_of("PUT /guilds/{guild_id}/bans/{user_id}")
        # The ladder's ban for deleted spam sweeps the member's last day of messages too.
        assert ban.query["delete_message_seconds"] == "86400"
        await dc.restart()
        await dc.advance("23h")
        assert dc.api.is_banned(dc.guild.id, uid(mallory))
        await dc.advance("61m")
        assert not dc.api.is_banned(dc.guild.id, uid(mallory))
        (unban,) = dc.api.calls_of("DELETE /guilds/{guild_id}/bans/{user_id}")
        assert unban.reason == "temporary ban ended"


async def test_a_40_day_mute_is_renewed_past_28_days(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    start = dc.clock.now()
    target = dc.api.say(dc.channel, bob, "hello")
    dc.api.say(dc.channel, dc.owner, "/mute 40d way out of line", reply_to=target)
    await dc.settle()
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == start + timedelta(days=28)
    await dc.advance("28d")
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == start + timedelta(days=40)
    await dc.advance("12d")
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))
    renewals = dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")
    assert [c.reason for c in renewals] == ["way out of line", "long mute renewed"]


async def test_ban_with_purge_window_and_unban(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    await spam(dc, bob, "hello")
    outcome = await dc.rt.executor.perform(
        "discord", Ban(chat=str(dc.channel), user=bob["id"], delete_recent_messages=True)
    )
    assert outcome.ok
    ban = dc.api.ban_of(dc.guild.id, uid(bob))
    assert ban is not None and ban.delete_message_seconds == 86400
    assert dc.api.messages(dc.channel) == []  # the fake purged Bob's day of messages
    lifted = await dc.rt.executor.perform("discord", Unban(chat=str(dc.channel), user=bob["id"]))
    assert lifted.ok and not dc.api.is_banned(dc.guild.id, uid(bob))
    again = await dc.rt.executor.perform("discord", Unban(chat=str(dc.channel), user=bob["id"]))
    assert again.ok and again.note == "was not banned"


async def test_a_mute_role_is_given_and_taken_back_on_time() -> None:
    async with DiscordRig(rules_text=RULES, mute_role="Muted") as dc:
        muted = dc.api.role(dc.guild.id, "Muted")
        bob = dc.member("bob")
        await dc.restart()
        await spam(dc, bob, "buy now")
        fake_member = dc.api.member(dc.guild.id, uid(bob))
        assert fake_member is not None and muted.id in fake_member.roles
        assert not dc.api.is_timed_out(dc.guild.id, uid(bob))
        await dc.advance("11m")
        assert muted.id not in fake_member.roles
        (removed,) = dc.api.calls_of("DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}")
        assert removed.reason == "mute ended"


async def test_restrict_uses_the_configured_role_and_unmute_undoes_exactly_it() -> None:
    async with DiscordRig(rules_text=RULES, restrict_role="No links") as dc:
        restricted = dc.api.role(dc.guild.id, "No links")
        other = dc.api.role(dc.guild.id, "Artists")
        bob = dc.member("bob", roles=[other.id])
        await dc.restart()
        await spam(dc, bob, "slurword")
        fake_member = dc.api.member(dc.guild.id, uid(bob))
        assert fake_member is not None
        assert set(fake_member.roles) == {other.id, restricted.id}
        await dc.advance("61m")
        assert fake_member.roles == [other.id]
        assert not dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")


async def test_restrict_without_a_restrict_role_tells_the_admins(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    outcome = await dc.rt.executor.perform(
        "discord",
        Restrict(chat=str(dc.channel), user=bob["id"], denied=frozenset(), until=None),
    )
    assert outcome.failure is Failure.MISSING_RIGHT
    assert "adapters.discord.restrict_role" in outcome.reason


# -- AutoMod ----------------------------------------------------------------------------------


async def test_automod_blocks_feed_the_ladder(dc: DiscordRig) -> None:
    mallory = dc.member("mallory")
    for action_type in (1, 2, 3):  # block, alert and timeout of the same message
        dc.api.automod(
            dc.guild.id,
            mallory,
            dc.channel,
            "buy pills",
            keyword="pills",
            rule_id=77,
            action_type=action_type,
        )
    await dc.settle()
    (case,) = await cases(dc, mallory)
    assert case.strikes_after == 1
    assert case.reason == "message blocked by Discord AutoMod (matched “pills”)"
    assert (
        "Mallory, this is a warning (message blocked by Discord AutoMod (matched “pills”))."
        in texts(dc)
    )
    dc.clock.advance(timedelta(minutes=5))
    dc.api.automod(dc.guild.id, mallory, dc.channel, "pills again", keyword="pills", rule_id=77)
    await dc.settle()
    assert dc.api.is_timed_out(dc.guild.id, uid(mallory))  # the ladder's second step


async def test_automod_on_an_admin_adds_no_strike(dc: DiscordRig) -> None:
    dc.api.automod(dc.guild.id, dc.owner, dc.channel, "pills", keyword="pills")
    await dc.settle()
    assert await cases(dc, dc.owner) == []


# -- outbound odds and ends -------------------------------------------------------------------


async def test_direct_messages_fail_gracefully(dc: DiscordRig) -> None:
    open_user = dc.member("bob")
    closed = dc.member("carol", dms_open=False)
    ok = await dc.discord.perform(
        DirectMessage(chat=str(dc.channel), user=open_user["id"], text="hi")
    )
    assert ok.ok
    assert [m["content"] for m in dc.api.dms(uid(open_user))] == ["hi"]
    refused = await dc.discord.perform(
        DirectMessage(chat=str(dc.channel), user=closed["id"], text="hi")
    )
    assert refused.failure is Failure.UNREACHABLE
    assert dc.api.dms(uid(closed)) == []


async def test_buttons_are_sent_and_presses_come_back(dc: DiscordRig) -> None:
    mallory = dc.member("mallory")
    await spam(dc, mallory)
    dc.api.say(dc.channel, mallory, "/appeal it was a joke")
    await dc.settle()
    notice = next(m for m in dc.api.sent if m["content"].startswith("Appeal of case #"))
    buttons = notice["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["Uphold", "Pardon"]
    pardon = buttons[1]["custom_id"]
    dc.api.press(dc.channel, int(notice["id"]), dc.owner, pardon)
    await dc.settle()
    assert dc.api.interaction_responses[-1]["type"] == 6  # acknowledged, nothing edited
    (case,) = await cases(dc, mallory)
    assert case.status.value == "pardoned"


async def test_a_send_replies_to_a_message_and_survives_a_deleted_one(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    message = await spam(dc, bob, "hello")
    adapter = dc.adapter
    assert adapter is not None
    done = await adapter.perform(
        Send(
            chat=str(dc.channel),
            text="Hi Bob",
            reply_to=message["id"],
            buttons=(Button("Docs", url="https://example.org"),),
        )
    )
    assert done.ok
    sent = dc.api.sent[-1]
    assert sent["message_reference"]["message_id"] == message["id"]
    assert sent["components"][0]["components"][0]["url"] == "https://example.org"
    dc.api.delete(dc.channel, int(message["id"]))
    assert (
        await adapter.perform(Send(chat=str(dc.channel), text="again", reply_to=message["id"]))
    ).ok


async def test_server_errors_are_retried_then_temporary(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    route = "PUT /guilds/{guild_id}/bans/{user_id}"
    dc.api.fail(route, 503, times=1)
    assert (await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=bob["id"]))).ok
    carol = dc.member("carol")
    dc.api.fail(route, 503, times=5)
    outcome = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=carol["id"]))
    assert outcome.failure is Failure.TEMPORARY
    assert not dc.api.is_banned(dc.guild.id, uid(carol))


async def test_a_deleted_message_is_not_found(dc: DiscordRig) -> None:
    from bot.actions import Delete

    bob = dc.member("bob")
    message = await spam(dc, bob, "hello")
    dc.api.delete(dc.channel, int(message["id"]))
    outcome = await dc.rt.executor.perform(
        "discord", Delete(chat=str(dc.channel), message_id=message["id"])
    )
    assert outcome.failure is Failure.NOT_FOUND


async def test_joins_leaves_and_reactions_reach_the_pipeline(dc: DiscordRig) -> None:
    seen: list[Any] = []

    async def record(event: Any, verdict: Any) -> None:
        seen.append(event)

    dc.rt.pipeline.add_handler("test", record)
    newcomer = dc.api.user("newcomer")
    dc.api.join(dc.guild.id, newcomer)
    await dc.settle()
    hello = dc.api.say(dc.channel, newcomer, "hello")
    dc.api.react(dc.channel, int(hello["id"]), dc.owner, "🎉")
    dc.api.leave(dc.guild.id, uid(newcomer))
    await dc.settle()
    kinds = [(e.kind.value, e.actor.id) for e in seen]
    assert kinds == [
        ("join", newcomer["id"]),
        ("message", newcomer["id"]),
        ("reaction", dc.owner["id"]),
        ("leave", newcomer["id"]),
    ]
    reaction = seen[2]
    assert reaction.emoji == ("🎉",) and reaction.target_user.id == newcomer["id"]


async def test_removal_from_a_guild_marks_its_channels_inactive(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    await spam(dc, bob, "hello")
    dc.api.dispatch(
        "GUILD_DELETE", {"id": str(dc.guild.id), "unavailable": False}, guild_id=dc.guild.id
    )
    await dc.settle()
    store = dc.rt.store
    assert isinstance(store, SqliteStore)
    assert await store.chat_active("discord", str(dc.channel)) is False
    assert await store.chat_active("discord", str(dc.guild.channel_ids[1])) is not True


# -- configuration ----------------------------------------------------------------------------


def test_a_guild_entry_puts_all_its_channels_in_the_group(tmp_path: Any) -> None:
    loaded = load_config_text(
        textwrap.dedent(
            """\
            groups:
              default: {}
              gaming:
                chats: ["discord:111", "discord:222"]
              quiet:
                chats: ["discord:333"]
            """
        ),
        base=tmp_path,
    )
    assert loaded.group_for("discord", "999", "111") == "gaming"  # a channel of guild 111
    assert loaded.group_for("discord", "333", "111") == "quiet"  # the channel's own entry wins
    assert loaded.group_for("discord", "999", "444") == "default"
    assert loaded.group_for("discord", "222") == "gaming"
    assert GroupConfig().chats == []


async def test_a_guild_entry_chooses_the_rules_of_its_channels(tmp_path: Any) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        textwrap.dedent(
            """\
            version: 1
            rules:
              - id: no-hello
                description: Nobody says hello
                when: {keywords: [hello]}
                delete: true
            """
        ),
        encoding="utf-8",
    )
    async with DiscordRig(rules_text=RULES) as dc:
        config = dc.config()
        gaming = GroupConfig(chats=[f"discord:{dc.guild.id}"], rules=[str(strict)])
        config.config = config.config.model_copy(
            update={"groups": {**config.config.groups, "gaming": gaming}}
        )
        config.group_rules["gaming"] = [strict]
        dc.config = lambda: config  # type: ignore[method-assign]
        await dc.restart()
        bob = dc.member("bob")
        message = await spam(dc, bob, "hello", channel=dc.guild.channel_ids[1])
        assert deleted(dc, message)


def test_create_reads_the_discord_section(tmp_path: Any) -> None:
    loaded = load_config_text(
        "adapters:\n  discord:\n    token: ${DISCORD_BOT_TOKEN}\n    mute_role: Muted\n",
        base=tmp_path,
        environ={"DISCORD_BOT_TOKEN": "secret"},
    )
    from bot.clock import VirtualClock

    adapter = create(loaded, VirtualClock())
    assert isinstance(adapter, DiscordAdapter)
    assert adapter.capabilities.max_mute is None  # a role has no 28-day limit
    with pytest.raises(ValueError, match="DISCORD_BOT_TOKEN"):
        DiscordAdapter(DiscordConfig(), VirtualClock())


@pytest.mark.parametrize("shards", [1, "auto"])
async def test_sharded_and_without_a_gateway_url(shards: int | Literal["auto"]) -> None:
    async with DiscordRig(rules_text=RULES, shards=shards, gateway_url=False) as dc:
        assert dc.adapter is not None
        from discord import AutoShardedClient

        assert isinstance(dc.adapter.client, AutoShardedClient)
        mallory = dc.member("mallory")
        message = await spam(dc, mallory)
        assert deleted(dc, message)
        assert dc.api.calls_of("GET /gateway/bot")
        (identify,) = dc.api.identifies
        assert identify["shard"] == [0, 1]


async def test_the_token_is_never_logged(caplog: Any) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    async with DiscordRig(rules_text=RULES) as dc:
        await spam(dc, dc.member("mallory"))
        token = dc.api.token
    assert token not in caplog.text


async def test_a_mute_for_good_is_capped_at_28_days(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    outcome = await dc.rt.executor.perform(
        "discord", Mute(chat=str(dc.channel), user=bob["id"], until=None)
    )
    assert outcome.ok and "28 days" in outcome.note
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == dc.clock.now() + timedelta(days=28)


async def test_a_rate_limited_call_is_waited_out(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    dc.api.rate_limit("PUT /guilds/{guild_id}/bans/{user_id}", 0.01)
    outcome = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=bob["id"]))
    assert outcome.ok and dc.api.is_banned(dc.guild.id, uid(bob))
    assert [c.status for c in dc.api.calls_of("PUT /guilds/{guild_id}/bans/{user_id}")] == [
        429,
        204,
    ]


async def test_a_wrong_token_is_explained() -> None:
    from bot.clock import VirtualClock
    from tests.fakes.discord_api import FakeDiscord

    class Host:
        async def submit(self, event: object) -> None: ...

        async def admins_changed(self, platform: str, chat: str) -> None: ...

        async def chat_gone(self, platform: str, chat: str) -> None: ...

        async def chat_moved(self, platform: str, old: str, new: str) -> None: ...

    async with FakeDiscord() as api:
        config = DiscordConfig(token="not-the-token", api_url=api.api_base)
        adapter = DiscordAdapter(config, VirtualClock())
        with pytest.raises(ConnectionError, match="DISCORD_BOT_TOKEN"):
            await adapter.start(Host())
        await adapter.stop()


async def test_a_member_who_joins_with_an_admin_role_is_exempt(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    await spam(dc, bob, "hello")  # the admin list is cached now
    role = dc.api.role(dc.guild.id, "Admins", permissions=Permission.ADMINISTRATOR)
    dc.api.dispatch(
        "GUILD_ROLE_CREATE",
        {"guild_id": str(dc.guild.id), "role": role.json()},
        guild_id=dc.guild.id,
    )
    await dc.settle()
    await spam(dc, bob, "hello again")  # the list is asked for again, without Ann
    ann = dc.api.user("ann")
    dc.api.join(dc.guild.id, ann, roles=[role.id])
    await dc.settle()
    message = await spam(dc, ann)
    assert not deleted(dc, message)


async def test_unmute_lifts_the_timeout_and_nothing_else(dc: DiscordRig) -> None:
    artists = dc.api.role(dc.guild.id, "Artists")
    bob = dc.member("bob", roles=[artists.id])
    await dc.restart()
    target = dc.api.say(dc.channel, bob, "hello")
    dc.api.say(dc.channel, dc.owner, "/mute 1h calm down", reply_to=target)
    await dc.settle()
    assert dc.api.is_timed_out(dc.guild.id, uid(bob))
    dc.api.say(dc.channel, dc.owner, "/unmute", reply_to=target)
    await dc.settle()
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))
    assert "Bob can speak again." in texts(dc)
    lift = dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")[-1]
    assert lift.json == {"communication_disabled_until": None}
    fake_member = dc.api.member(dc.guild.id, uid(bob))
    assert fake_member is not None and fake_member.roles == [artists.id]


async def test_a_mute_role_that_does_not_exist_is_explained() -> None:
    async with DiscordRig(rules_text=RULES, mute_role="Muted") as dc:
        bob = dc.member("bob")
        outcome = await dc.rt.executor.perform(
            "discord", Mute(chat=str(dc.channel), user=bob["id"], until=None)
        )
        assert outcome.failure is Failure.MISSING_RIGHT
        assert outcome.reason.startswith("Steward needs a role named Muted")


async def test_kick_by_slash_command(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    dc.api.slash(dc.guild.id, dc.channel, dc.owner, "kick", {"member": bob, "reason": "bye"})
    await dc.settle()
    assert not dc.api.is_member(dc.guild.id, uid(bob))
    assert not dc.api.is_banned(dc.guild.id, uid(bob))
    (kick,) = dc.api.calls_of("DELETE /guilds/{guild_id}/members/{user_id}")
    assert kick.reason == "bye"
    assert dc.api.followups[-1]["content"] == "Bob: kick (bye)."


async def test_a_removed_reaction_is_reported_as_removed(dc: DiscordRig) -> None:
    seen: list[Any] = []

    async def record(event: Any, verdict: Any) -> None:
        seen.append(event)

    dc.rt.pipeline.add_handler("test", record)
    bob = dc.member("bob")
    message = await spam(dc, bob, "hello")
    payload = dc.api.react(dc.channel, int(message["id"]), dc.owner, "party:42")
    removal = {k: v for k, v in payload.items() if k not in ("member", "message_author_id")}
    dc.clock.advance(timedelta(seconds=3))
    dc.api.dispatch("MESSAGE_REACTION_REMOVE", removal, guild_id=dc.guild.id)
    await dc.settle()
    added, removed = (e for e in seen if e.kind.value == "reaction")
    assert added.emoji == removed.emoji == ("custom:42",)
    assert (added.removed, removed.removed) == (False, True)
    assert removed.actor.id == dc.owner["id"]
