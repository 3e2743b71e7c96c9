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
      - id: blocked-by-platform
        description: What Discord's AutoMod blocked
        reason: the server's filter blocked a message
        when: {blocked: true}
        strike: 1
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
    # Bob joins while Steward runs, so discord.py knows him (as every member, with the members
    # intent): Discord's GUILD_MEMBER_UPDATE then says what his roles were and are.
    bob = dc.api.user("bob")
    dc.api.join(dc.guild.id, bob)
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
    # A few minutes short of 28 days (Discord refuses more by its clock), renewed a day early.
    first = start + timedelta(days=28) - timedelta(minutes=5)
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == first
    await dc.advance("27d")
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == start + timedelta(days=40)
    await dc.advance("13d")
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
    # A second AutoMod rule blocking the same message at the same moment: still one message.
    dc.api.automod(dc.guild.id, mallory, dc.channel, "buy pills", keyword="buy", rule_id=78)
    await dc.settle()
    (case,) = await cases(dc, mallory)
    assert case.strikes_after == 1
    assert case.source == "rule"
    assert case.rule_id == "blocked-by-platform"
    assert case.reason == "the server's filter blocked a message"
    assert any("Discord AutoMod rule 77, matched “pills”" in e for e in case.evidence)
    # The blocked text stays out of the channel: the warning names the reason, not the text.
    assert not any("pills" in text for text in texts(dc))
    assert "Mallory, this is a warning (the server's filter blocked a message)." in texts(dc)
    assert dc.api.calls_of("DELETE /channels/{channel_id}/messages/{message_id}") == []
    dc.clock.advance(timedelta(minutes=5))
    dc.api.automod(dc.guild.id, mallory, dc.channel, "pills again", keyword="pills", rule_id=77)
    await dc.settle()
    assert dc.api.is_timed_out(dc.guild.id, uid(mallory))  # the ladder's second step


async def test_automod_blocks_of_admins_pass_silently(dc: DiscordRig) -> None:
    before = len(texts(dc))
    dc.api.automod(dc.guild.id, dc.owner, dc.channel, "pills", keyword="pills")
    await dc.settle()
    assert await cases(dc, dc.owner) == []
    assert len(texts(dc)) == before  # no public "admins are never punished" refusal


async def test_the_stock_rules_count_automod_blocks() -> None:
    async with DiscordRig() as dc:  # the stock library
        mallory = dc.member("mallory")
        dc.api.automod(dc.guild.id, mallory, dc.channel, "hello", keyword="hello", rule_id=5)
        await dc.settle()
        (case,) = await cases(dc, mallory)
        assert (case.rule_id, case.strikes_after) == ("blocked-by-platform", 1)


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
    # Without a log chat, the appeal goes to the owner's direct messages, never the channel.
    assert not any(m["content"].startswith("Appeal of case #") for m in dc.api.messages(dc.channel))
    (notice,) = (m for m in dc.api.dms(uid(dc.owner)) if m["content"].startswith("Appeal of"))
    buttons = notice["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["Uphold", "Pardon"]
    pardon = buttons[1]["custom_id"]
    dc.api.press(int(notice["channel_id"]), int(notice["id"]), dc.owner, pardon)
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


async def test_a_server_error_is_temporary_without_retries_of_steward_s_own(
    dc: DiscordRig,
) -> None:
    # discord.py does not retry a 503: one request, and the executor hears TEMPORARY.
    carol = dc.member("carol")
    route = "PUT /guilds/{guild_id}/bans/{user_id}"
    dc.api.fail(route, 503, times=1)
    outcome = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=carol["id"]))
    assert outcome.failure is Failure.TEMPORARY
    assert "503" in outcome.reason
    assert len(dc.api.calls_of(route)) == 1
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


async def test_a_mute_for_good_is_renewed_for_good(dc: DiscordRig) -> None:
    bob = dc.member("bob")
    start = dc.clock.now()
    target = dc.api.say(dc.channel, bob, "hello")
    await dc.settle()
    outcome = await dc.rt.executor.perform(
        "discord", Mute(chat=str(dc.channel), user=bob["id"], until=None)
    )
    assert outcome.ok and "renewal scheduled" in outcome.note
    longest = timedelta(days=28) - timedelta(minutes=5)  # a clock ahead must not be refused
    assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == start + longest
    for renewal in range(1, 4):  # ~81 days: renewed a day before each timeout ends
        await dc.advance("27d")
        assert dc.api.is_timed_out(dc.guild.id, uid(bob)), renewal
    dc.api.say(dc.channel, dc.owner, "/unmute", reply_to=target)
    await dc.settle()
    await dc.advance("60d")
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))  # /unmute ended the renewals


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


# -- timed undo jobs: per server, after downtime, mute and restriction apart ---------------------


async def unban_jobs(dc: DiscordRig) -> list[Any]:
    from bot.executor import UNBAN_JOB

    return [j for j in await dc.rt.store.scheduled_jobs() if j.kind == UNBAN_JOB]


async def test_an_unban_and_a_ban_in_another_channel_supersede_a_temporary_ban() -> None:
    async with DiscordRig(rules_text=TEMP_BAN_RULES) as dc:
        mallory = dc.member("mallory")
        await spam(dc, mallory)  # a 1-day ban, given in #general
        [job] = await unban_jobs(dc)
        assert (job.chat, job.payload["origin"]) == (str(dc.guild.id), str(dc.channel))
        other = dc.guild.channel_ids[1]
        dc.api.say(other, dc.owner, f"/unban <@{mallory['id']}>")
        await dc.settle()
        assert await unban_jobs(dc) == []
        await dc.advance("1h")
        dc.api.say(other, dc.owner, f"/ban <@{mallory['id']}> raiding again")
        await dc.settle()
        await dc.advance("24h")
        assert dc.api.is_banned(dc.guild.id, uid(mallory))
        assert len(dc.api.calls_of("DELETE /guilds/{guild_id}/bans/{user_id}")) == 1


async def test_an_unmute_in_another_channel_ends_the_renewals_of_a_long_mute(
    dc: DiscordRig,
) -> None:
    bob = dc.member("bob")
    target = dc.api.say(dc.channel, bob, "hello")
    dc.api.say(dc.channel, dc.owner, "/mute 40d way out of line", reply_to=target)
    await dc.settle()
    other = dc.guild.channel_ids[1]
    dc.api.say(other, dc.owner, f"/unmute <@{bob['id']}>")
    await dc.settle()
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))
    await dc.advance("28d")
    await dc.advance("13d")
    assert not dc.api.is_timed_out(dc.guild.id, uid(bob))
    reasons = [c.reason for c in dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")]
    assert "long mute renewed" not in reasons


async def test_a_temporary_ban_given_in_a_deleted_channel_is_still_lifted() -> None:
    async with DiscordRig(rules_text=TEMP_BAN_RULES, channels=("general", "tickets")) as dc:
        mallory = dc.member("mallory")
        ticket = dc.guild.channel_ids[1]
        await spam(dc, mallory, channel=ticket)
        assert dc.api.is_banned(dc.guild.id, uid(mallory))
        data = dc.api.channels[ticket].json()
        del dc.api.channels[ticket]
        dc.guild.channel_ids.remove(ticket)
        dc.api.dispatch("CHANNEL_DELETE", data, guild_id=dc.guild.id)
        await dc.settle()
        await dc.advance("25h")
        assert not dc.api.is_banned(dc.guild.id, uid(mallory))
        assert await unban_jobs(dc) == []


async def test_a_temporary_ban_that_ended_while_steward_was_down_is_lifted_at_start() -> None:
    async with DiscordRig(rules_text=TEMP_BAN_RULES) as dc:
        mallory = dc.member("mallory")
        await spam(dc, mallory)
        await dc.stop()
        dc.clock.advance(timedelta(days=2))
        await dc.start()
        assert not dc.api.is_banned(dc.guild.id, uid(mallory))
        (unban,) = dc.api.calls_of("DELETE /guilds/{guild_id}/bans/{user_id}")
        assert unban.reason == "temporary ban ended"
        assert await unban_jobs(dc) == []


async def test_a_renewal_due_while_steward_was_down_mutes_again_at_start() -> None:
    async with DiscordRig(rules_text=RULES) as dc:
        bob = dc.member("bob")
        start = dc.clock.now()
        target = dc.api.say(dc.channel, bob, "hello")
        dc.api.say(dc.channel, dc.owner, "/mute 40d way out of line", reply_to=target)
        await dc.settle()
        await dc.advance("26d")
        await dc.stop()
        dc.clock.advance(timedelta(days=3))  # day 29: the first 28 days ran out meanwhile
        await dc.start()
        assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == start + timedelta(days=40)


async def test_an_unban_during_a_discord_outage_is_retried_later() -> None:
    async with DiscordRig(rules_text=TEMP_BAN_RULES) as dc:
        mallory = dc.member("mallory")
        await spam(dc, mallory)
        dc.api.fail("DELETE /guilds/{guild_id}/bans/{user_id}", 503, times=4)
        await dc.advance("1d")
        assert dc.api.is_banned(dc.guild.id, uid(mallory))
        assert len(await unban_jobs(dc)) == 1
        for _ in range(6):
            await dc.advance("1h")
        assert not dc.api.is_banned(dc.guild.id, uid(mallory))
        assert await unban_jobs(dc) == []


async def test_a_restrictions_end_leaves_a_later_timeout_in_place() -> None:
    async with DiscordRig(rules_text=RULES, restrict_role="No links") as dc:
        restricted = dc.api.role(dc.guild.id, "No links")
        bob = dc.member("bob")
        await dc.restart()
        channel, now = str(dc.channel), dc.clock.now()
        await dc.rt.executor.perform(
            "discord",
            Restrict(
                chat=channel, user=bob["id"], denied=frozenset(), until=now + timedelta(hours=1)
            ),
        )
        await dc.rt.executor.perform(
            "discord", Mute(chat=channel, user=bob["id"], until=now + timedelta(days=7))
        )
        await dc.advance("2h")
        fake_member = dc.api.member(dc.guild.id, uid(bob))
        assert fake_member is not None and restricted.id not in fake_member.roles
        assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == now + timedelta(days=7)


async def test_a_timeout_outlives_the_end_of_a_shorter_restriction() -> None:
    async with DiscordRig(rules_text=RULES, restrict_role="No links") as dc:
        restricted = dc.api.role(dc.guild.id, "No links")
        bob = dc.member("bob")
        await dc.restart()
        channel, now = str(dc.channel), dc.clock.now()
        await dc.rt.executor.perform(
            "discord", Mute(chat=channel, user=bob["id"], until=now + timedelta(days=7))
        )
        await dc.rt.executor.perform(
            "discord",
            Restrict(
                chat=channel, user=bob["id"], denied=frozenset(), until=now + timedelta(hours=1)
            ),
        )
        await dc.advance("2h")
        assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == now + timedelta(days=7)
        fake_member = dc.api.member(dc.guild.id, uid(bob))
        assert fake_member is not None and restricted.id not in fake_member.roles
        assert not dc.api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")[1:]


async def test_the_end_of_a_role_mute_leaves_a_moderators_timeout_alone() -> None:
    async with DiscordRig(rules_text=RULES, mute_role="Muted") as dc:
        muted = dc.api.role(dc.guild.id, "Muted")
        bob = dc.member("bob")
        await dc.restart()
        await spam(dc, bob, "buy now")  # a 10-minute mute, with the role
        fake_member = dc.api.member(dc.guild.id, uid(bob))
        assert fake_member is not None and muted.id in fake_member.roles
        timeout = dc.clock.now() + timedelta(days=1)
        fake_member.communication_disabled_until = timeout  # a moderator, by hand
        await dc.advance("11m")
        assert muted.id not in fake_member.roles
        assert dc.api.timed_out_until(dc.guild.id, uid(bob)) == timeout


async def test_an_admins_unmute_lifts_the_timeout_but_not_a_restriction() -> None:
    async with DiscordRig(rules_text=RULES, restrict_role="No links") as dc:
        restricted = dc.api.role(dc.guild.id, "No links")
        bob = dc.member("bob")
        await dc.restart()
        target = await spam(dc, bob, "slurword")  # restricted for an hour
        dc.api.say(dc.channel, dc.owner, "/mute 1d calm down", reply_to=target)
        await dc.settle()
        dc.api.say(dc.channel, dc.owner, "/unmute", reply_to=target)
        await dc.settle()
        fake_member = dc.api.member(dc.guild.id, uid(bob))
        assert fake_member is not None
        assert not dc.api.is_timed_out(dc.guild.id, uid(bob))
        assert restricted.id in fake_member.roles
        await dc.advance("61m")
        assert restricted.id not in fake_member.roles


async def test_timeouts_are_accepted_when_discords_clock_is_a_little_behind(
    dc: DiscordRig,
) -> None:
    dc.api.now = lambda: dc.clock.now() - timedelta(minutes=1)
    bob = dc.member("bob")
    target = dc.api.say(dc.channel, bob, "hello")
    dc.api.say(dc.channel, dc.owner, "/mute 40d way out of line", reply_to=target)
    await dc.settle()
    assert dc.api.is_timed_out(dc.guild.id, uid(bob))
    carol = dc.member("carol")
    outcome = await dc.rt.executor.perform(
        "discord", Mute(chat=str(dc.channel), user=carol["id"], until=None)
    )
    assert outcome.ok and dc.api.is_timed_out(dc.guild.id, uid(carol))


# -- text that only looks like a command ------------------------------------------------------

CRYPTO_RULES = textwrap.dedent(
    """\
    version: 1
    ladder:
      steps:
        - {at: 1, action: warn, message: "{user}, this is a warning ({reason})."}
    rules:
      - id: crypto-spam
        description: No crypto spam
        reason: crypto spam
        when: {keywords: [free crypto]}
        strike: 1
        delete: true
    """
)


async def test_text_starting_with_an_unknown_verb_is_judged_like_any_message() -> None:
    async with DiscordRig(rules_text=CRYPTO_RULES) as dc:
        mallory = dc.member("mallory")
        bang = await spam(dc, mallory, "!hey free crypto for everyone")
        assert deleted(dc, bang)
        await dc.advance("1h")
        slash_like = await spam(dc, mallory, "/free crypto for everyone")
        assert deleted(dc, slash_like)
        assert [c.rule_id for c in await cases(dc, mallory)] == ["crypto-spam", "crypto-spam"]


async def test_other_bots_bang_commands_are_not_stewards() -> None:
    async with DiscordRig(rules_text=CRYPTO_RULES) as dc:
        bob = dc.member("bob")
        dc.api.say(dc.channel, dc.owner, f"!ban <@{bob['id']}> for another bot")
        dc.api.say(dc.channel, dc.owner, f"!warn <@{bob['id']}>")
        await dc.settle()
        assert not dc.api.is_banned(dc.guild.id, uid(bob))
        assert await cases(dc, bob) == []
        assert texts(dc) == []  # no answer either: it was not addressed to Steward


# -- the gateway ending after start-up --------------------------------------------------------


async def test_the_gateway_ending_after_start_up_is_an_error_and_the_adapter_reports_down(
    caplog: Any,
) -> None:
    import asyncio
    import logging

    caplog.set_level(logging.WARNING)
    async with DiscordRig(rules_text=RULES) as dc:
        bob = dc.member("bob")
        assert dc.discord.down is None
        await dc.api.disconnect(code=4004)  # the token was reset in the Developer Portal
        reason = await asyncio.wait_for(dc.discord.wait_lost(), timeout=10)
        assert "4004" in reason and "DISCORD_BOT_TOKEN" in reason
        (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert error.name == "steward.discord"
        assert "no longer connected to Discord" in error.getMessage()
        assert "DISCORD_BOT_TOKEN" in error.getMessage()
        outcome = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=bob["id"]))
        assert outcome.failure is Failure.TEMPORARY
        assert "4004" in outcome.reason
    # A stop is not a failure: nothing more is logged at ERROR.
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


async def test_stopping_steward_is_not_reported_as_a_lost_gateway(caplog: Any) -> None:
    import logging

    caplog.set_level(logging.WARNING)
    async with DiscordRig(rules_text=RULES) as dc:
        adapter = dc.discord
    assert adapter.down is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_why_the_gateway_ended_says_what_to_do() -> None:
    import discord

    from adapters.discord.adapter import gateway_failure

    assert "Privileged Gateway Intents" in gateway_failure(discord.PrivilegedIntentsRequired(0))
    other = gateway_failure(RuntimeError("boom"))
    assert "RuntimeError: boom" in other and "restart Steward" in other
    assert "did not reconnect" in gateway_failure(None)


# -- retries ----------------------------------------------------------------------------------


async def test_a_502_is_retried_by_discord_py_alone(
    dc: DiscordRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    bob = dc.member("bob")
    route = "PUT /guilds/{guild_id}/bans/{user_id}"
    dc.api.fail(route, 502, times=100)
    waited: list[float] = []
    real_sleep = asyncio.sleep

    async def no_waiting(delay: float, *args: Any, **kwargs: Any) -> Any:
        if delay >= 0.5:  # discord.py's back-off between attempts (1, 3, 5, 7, 9 s)
            waited.append(delay)
            delay = 0
        return await real_sleep(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", no_waiting)
    outcome = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=bob["id"]))
    monkeypatch.setattr(asyncio, "sleep", real_sleep)
    assert outcome.failure is Failure.TEMPORARY and "502" in outcome.reason
    assert len(dc.api.calls_of(route)) == 5  # discord.py's five attempts, nothing on top
    assert waited == [1, 3, 5, 7, 9]


async def test_a_lost_connection_is_tried_once_more(
    dc: DiscordRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiohttp

    client = dc.discord.client
    assert client is not None
    real_ban = client.http.ban
    attempts: list[int] = []

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) in (1, 3, 4):
            raise aiohttp.ServerDisconnectedError()
        return await real_ban(*args, **kwargs)

    monkeypatch.setattr(client.http, "ban", flaky)
    bob, carol = dc.member("bob"), dc.member("carol")
    first = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=bob["id"]))
    assert first.ok and dc.api.is_banned(dc.guild.id, uid(bob))
    assert len(attempts) == 2
    second = await dc.rt.executor.perform("discord", Ban(chat=str(dc.channel), user=carol["id"]))
    assert second.failure is Failure.TEMPORARY
    assert "could not be reached" in second.reason
    assert len(attempts) == 4  # once more, not more
    assert not dc.api.is_banned(dc.guild.id, uid(carol))


# -- private answers and admin notices --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [("appeal", {"why": "not spam"}), ("help", None), ("strikes", None)],
)
async def test_member_facing_slash_answers_are_private(
    dc: DiscordRig, name: str, options: dict[str, Any] | None
) -> None:
    mallory = dc.member("mallory")
    await spam(dc, mallory, "free crypto at https://scam.example/claim")
    before = len(dc.api.messages(dc.channel))
    dc.api.slash(dc.guild.id, dc.channel, mallory, name, options)
    await dc.settle()
    (response,) = dc.api.interaction_responses
    assert response["data"]["flags"] & 64  # deferred as ephemeral
    (answer,) = dc.api.followups
    assert answer["flags"] & 64
    assert len(dc.api.messages(dc.channel)) == before  # nothing new in the channel
    assert not any("scam.example" in m["content"] for m in dc.api.messages(dc.channel))


async def test_the_report_menu_is_private_and_reaches_the_owner(dc: DiscordRig) -> None:
    bob, eve = dc.member("bob"), dc.member("eve")
    rude = dc.api.say(dc.channel, bob, "whatever")
    await dc.settle()
    menu = next(c for c in dc.api.commands(dc.guild.id) if c["name"] == "Report to admins")
    data = {
        "id": menu["id"],
        "name": menu["name"],
        "type": 3,  # a message command: "Report to admins" on Bob's message
        "guild_id": str(dc.guild.id),
        "target_id": rude["id"],
        "resolved": {"messages": {rude["id"]: rude}},
    }
    dc.api._interaction(2, dc.guild.id, dc.channel, eve, data)
    await dc.settle()
    (response,) = dc.api.interaction_responses
    assert response["data"]["flags"] & 64
    (answer,) = dc.api.followups
    assert answer["content"] == "Thank you, the admins have been told." and answer["flags"] & 64
    assert [m["id"] for m in dc.api.messages(dc.channel)] == [rude["id"]]  # nothing public
    (notice,) = dc.api.dms(uid(dc.owner))
    assert notice["content"].startswith("Report from Eve about Bob")


async def test_admin_notices_without_a_log_chat_go_to_the_owner_not_the_channel(
    dc: DiscordRig,
) -> None:
    from bot.actions import NotifyAdmins

    outcome = await dc.discord.perform(
        NotifyAdmins(chat=str(dc.channel), text="Report from Eve about Bob")
    )
    assert outcome.ok and "direct message" in outcome.note
    assert [m["content"] for m in dc.api.dms(uid(dc.owner))] == ["Report from Eve about Bob"]
    assert dc.api.messages(dc.channel) == []


async def test_an_owner_without_direct_messages_is_logged_once_never_the_channel(
    dc: DiscordRig, caplog: Any
) -> None:
    import logging

    from bot.actions import NotifyAdmins

    caplog.set_level(logging.WARNING)
    dc.api.dms_closed.add(uid(dc.owner))
    for text in ("first notice", "second notice"):
        outcome = await dc.discord.perform(NotifyAdmins(chat=str(dc.channel), text=text))
        assert outcome.failure is Failure.UNREACHABLE
        assert "log_chat" in outcome.reason
    assert dc.api.messages(dc.channel) == []
    logged = [r for r in caplog.records if "admin notices of server" in r.getMessage()]
    assert len(logged) == 1 and "log_chat" in logged[0].getMessage()


async def test_a_text_appeal_is_pardoned_from_the_owners_direct_messages(dc: DiscordRig) -> None:
    mallory = dc.member("mallory")
    await spam(dc, mallory, "free crypto at https://scam.example/claim")
    dc.api.say(dc.channel, mallory, "/appeal it was a joke")
    await dc.settle()
    assert not any("scam.example" in m["content"] for m in dc.api.messages(dc.channel))
    (notice,) = dc.api.dms(uid(dc.owner))
    assert "scam.example" in notice["content"]  # the owner sees the evidence
    uphold = notice["components"][0]["components"][0]["custom_id"]
    eve = dc.member("eve")  # a member who somehow presses it changes nothing
    dc.api.press(int(notice["channel_id"]), int(notice["id"]), eve, uphold)
    await dc.settle()
    (case,) = await cases(dc, mallory)
    assert case.status.value == "appealed"
    dc.api.press(int(notice["channel_id"]), int(notice["id"]), dc.owner, uphold)
    await dc.settle()
    (case,) = await cases(dc, mallory)
    assert case.status.value == "upheld"


# -- admin status, kept up to date without recomputation --------------------------------------


async def test_admin_status_follows_one_member_without_recomputing_the_guild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adapters.discord.adapter as adapter_module

    async with DiscordRig(rules_text=RULES) as dc:
        crowd = [dc.api.user(f"member{i}") for i in range(40)]
        for user in crowd:
            dc.api.join(dc.guild.id, user)
        bob = dc.api.user("bob")
        dc.api.join(dc.guild.id, bob)
        await spam(dc, bob, "hello")  # the guild's admin list is computed once here
        assert dc.discord._admins[dc.guild.id] == frozenset({dc.owner["id"]})
        checks: list[str] = []
        real = adapter_module.is_admin_member

        def counted(member: Any, guild: Any, roles: Any) -> bool:
            checks.append(str(member.id))
            return real(member, guild, roles)

        monkeypatch.setattr(adapter_module, "is_admin_member", counted)
        told: list[str] = []
        real_told = dc.rt.admins_changed

        async def tell(platform: str, chat: str) -> None:
            told.append(chat)
            await real_told(platform, chat)

        monkeypatch.setattr(dc.rt, "admins_changed", tell)

        artists = dc.api.role(dc.guild.id, "Artists")  # a role without admin rights
        dc.api.update_member(dc.guild.id, uid(bob), roles=[artists.id])
        dc.api.set_permissions(dc.guild.id, artists.id, Permission.MANAGE_MESSAGES)
        await dc.settle()
        assert told == []  # nobody's status changed: nothing to tell, nothing recomputed
        assert dc.discord._admins[dc.guild.id] == frozenset({dc.owner["id"]})

        managers = dc.api.role(dc.guild.id, "Managers", permissions=Permission.MANAGE_GUILD)
        dc.api.update_member(dc.guild.id, uid(bob), roles=[artists.id, managers.id])
        await dc.settle()
        assert set(checks) == {bob["id"]}  # Bob before and after, no one else
        assert dc.discord._admins[dc.guild.id] == frozenset({dc.owner["id"], bob["id"]})
        assert told  # the host heard about it
        message = await spam(dc, bob)
        assert not deleted(dc, message)

        dc.api.leave(dc.guild.id, uid(bob))
        await dc.settle()
        assert dc.discord._admins[dc.guild.id] == frozenset({dc.owner["id"]})


async def test_a_role_gaining_administrator_recomputes_its_members(dc: DiscordRig) -> None:
    helpers = dc.api.role(dc.guild.id, "Helpers")
    ann = dc.api.user("ann")
    dc.api.join(dc.guild.id, ann, roles=[helpers.id])
    await spam(dc, ann, "hello")
    assert ann["id"] not in dc.discord._admins[dc.guild.id]
    dc.api.set_permissions(dc.guild.id, helpers.id, Permission.ADMINISTRATOR)
    await dc.settle()
    assert dc.guild.id not in dc.discord._admins  # dropped: recomputed when next asked
    message = await spam(dc, ann)
    assert not deleted(dc, message)


# -- reactions and leaves: one event each, even within a second, and once after a RESUME -----


async def test_reactions_within_one_second_are_separate_events(dc: DiscordRig) -> None:
    seen: list[Any] = []

    async def record(event: Any, verdict: Any) -> None:
        seen.append(event)

    dc.rt.pipeline.add_handler("test", record)
    bob = dc.member("bob")
    message = await spam(dc, bob, "hello")
    payload = dc.api.react(dc.channel, int(message["id"]), dc.owner, "👍")
    removal = {k: v for k, v in payload.items() if k not in ("member", "message_author_id")}
    dc.api.dispatch("MESSAGE_REACTION_REMOVE", removal, guild_id=dc.guild.id)
    dc.api.react(dc.channel, int(message["id"]), dc.owner, "👍")
    dc.api.leave(dc.guild.id, uid(bob))
    dc.api.join(dc.guild.id, bob)
    dc.api.leave(dc.guild.id, uid(bob))
    await dc.settle()  # all of it at the same instant of the virtual clock
    reactions = [e for e in seen if e.kind.value == "reaction"]
    assert [e.removed for e in reactions] == [False, True, False]
    assert len({e.id for e in reactions}) == 3
    leaves = [e for e in seen if e.kind.value == "leave"]
    assert len(leaves) == 2 and leaves[0].id != leaves[1].id


async def test_a_resume_that_replays_a_reaction_and_a_leave_changes_nothing(
    dc: DiscordRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    async def record(event: Any, verdict: Any) -> None:
        seen.append(event)

    dc.rt.pipeline.add_handler("test", record)
    bob, carol = dc.member("bob"), dc.member("carol")
    message = await spam(dc, bob, "hello")
    parsed: list[str] = []
    adapter = dc.discord
    real_dispatch = adapter.on_dispatch

    def spy(event: str, args: tuple[Any, ...]) -> None:
        parsed.append(event)
        real_dispatch(event, args)

    monkeypatch.setattr(adapter, "on_dispatch", spy)
    dc.api.react(dc.channel, int(message["id"]), dc.owner, "🎉")
    dc.api.leave(dc.guild.id, uid(carol))
    await dc.settle()
    dc.clock.advance(timedelta(seconds=5))  # the replay comes later, as after a real RESUME
    # discord.py resumes from the sequence it last acknowledged; set back by two, Discord
    # replays the reaction and the leave, with their original sequence numbers.
    client = adapter.client
    assert client is not None and client.ws.sequence is not None
    client.ws.sequence -= 2
    await dc.api.reconnect()
    await dc.api.wait_until(lambda: dc.api.sessions[0].resumes == 1)
    await dc.settle()
    assert parsed.count("raw_reaction_add") == 2 and parsed.count("raw_member_remove") == 2
    assert [e.kind.value for e in seen if e.kind.value in ("reaction", "leave")] == [
        "reaction",
        "leave",
    ]


# -- threads ----------------------------------------------------------------------------------

SEND_MESSAGES_IN_THREADS = 1 << 38


def _thread(dc: DiscordRig, parent: int) -> int:
    """A public thread in `parent`, as THREAD_CREATE tells discord.py, and known to the fake's
    REST side so that messages can be posted in it."""
    from tests.fakes.discord_api import FakeChannel

    thread = dc.api.snowflake()
    dc.api.channels[thread] = FakeChannel(thread, "help-thread", 0, dc.guild.id)
    dc.api.dispatch(
        "THREAD_CREATE",
        {
            "id": str(thread),
            "guild_id": str(dc.guild.id),
            "parent_id": str(parent),
            "owner_id": dc.owner["id"],
            "name": "help-thread",
            "type": 11,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": dc.clock.now().isoformat(),
                "locked": False,
            },
            "member_count": 1,
            "message_count": 0,
            "rate_limit_per_user": 0,
            "flags": 0,
            "newly_created": True,
        },
        guild_id=dc.guild.id,
    )
    return thread


async def test_posting_in_a_thread_needs_send_messages_in_threads(dc: DiscordRig) -> None:
    thread = _thread(dc, dc.channel)
    await dc.settle()
    outcome = await dc.discord.perform(Send(chat=str(thread), text="hello thread"))
    assert outcome.failure is Failure.MISSING_RIGHT
    assert "Send Messages in Threads" in outcome.reason
    assert not dc.api.calls_of("POST /channels/{channel_id}/messages")


async def test_a_bot_allowed_in_threads_posts_there() -> None:
    permissions = BOT_PERMISSIONS | SEND_MESSAGES_IN_THREADS
    async with DiscordRig(rules_text=RULES, bot_permissions=permissions) as dc:
        thread = _thread(dc, dc.channel)
        await dc.settle()
        outcome = await dc.discord.perform(Send(chat=str(thread), text="hello thread"))
        assert outcome.ok
        assert [m["content"] for m in dc.api.messages(thread)] == ["hello thread"]


async def test_a_thread_whose_channel_steward_cannot_see_is_a_clear_failure(
    dc: DiscordRig,
) -> None:
    thread = _thread(dc, dc.api.snowflake())  # a parent discord.py has never heard of
    await dc.settle()
    outcome = await dc.discord.perform(Send(chat=str(thread), text="hello thread"))
    assert outcome.failure is Failure.MISSING_RIGHT
    assert "cannot see the channel that thread help-thread belongs to" in outcome.reason
