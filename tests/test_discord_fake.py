"""The fake Discord (tests/fakes/discord_api.py) driven by the real discord.py client.

No Steward code here: these tests pin down that the fake speaks the protocol discord.py
expects (compressed gateway, READY/GUILD_CREATE, chunking, heartbeats, RESUME, sharding, REST
errors and rate limits) and that its state changes the way Discord's would, so that the
adapter tests built on it can trust what they assert.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes.discord_api import (
    BOT_PERMISSIONS,
    FakeDiscord,
    FakeGuild,
    Intent,
    Json,
    Permission,
)


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.members = True
    chosen.messages = True  # guild and DM messages
    chosen.message_content = True
    chosen.reactions = True
    chosen.auto_moderation_execution = True
    return chosen


class Recorder(discord.Client):
    """A client that records every event it dispatches, so tests can wait for them."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("intents", intents())
        super().__init__(guild_ready_timeout=0.05, **options)
        self.seen: dict[str, list[tuple[Any, ...]]] = {}
        self._dispatched = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first (after an invalidated
        session too); the fake needs no pause."""

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        self.seen.setdefault(event_name, []).append(args)
        self._dispatched.set()
        super().dispatch(event_name, *args, **kwargs)

    async def wait_event(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """The first argument of each `name` event, once there are `count` of them."""
        async with asyncio.timeout(timeout):
            while len(self.seen.get(name, [])) < count:
                self._dispatched.clear()
                await self._dispatched.wait()
        return [args[0] if args else None for args in self.seen[name]]


class ShardedRecorder(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first; Discord lets a bot
        identify one shard per 5 s, the fake any number."""


class Clock:
    """The fake's `now`: real time until a test moves it on."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class World:
    api: FakeDiscord
    client: Recorder
    guild: FakeGuild
    owner: Json
    alice: Json
    bob: Json
    clock: Clock

    @property
    def channel(self) -> discord.TextChannel:
        channel = self.client.get_channel(self.guild.general.id)
        assert isinstance(channel, discord.TextChannel)
        return channel

    def member(self, user: Json) -> discord.Member:
        guild = self.client.get_guild(self.guild.id)
        assert guild is not None
        member = guild.get_member(int(user["id"]))
        assert member is not None
        return member


@contextlib.asynccontextmanager
async def running(client: discord.Client, token: str) -> AsyncIterator[asyncio.Task[None]]:
    await client.login(token)  # what `start` does first; then the ready event exists
    task = asyncio.create_task(client.connect())
    try:
        async with asyncio.timeout(10):
            await client.wait_until_ready()
        yield task
    finally:
        await client.close()
        await asyncio.wait_for(task, 10)


async def start_world(**fake_options: Any) -> AsyncIterator[World]:
    clock = Clock()
    async with FakeDiscord(now=clock, **fake_options) as api:
        owner = api.user("olga")
        guild = api.guild("Rig guild", owner=owner)
        alice = api.user("alice")
        bob = api.user("bob")
        api.add_member(guild.id, alice)
        api.add_member(guild.id, bob)
        client = Recorder()
        async with running(client, api.token):
            yield World(api, client, guild, owner, alice, bob, clock)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for built in start_world():
        yield built


# -- gateway ---------------------------------------------------------------------------------


async def test_connects_identifies_and_receives_its_guilds(world: World) -> None:
    api, client = world.api, world.client
    (identify,) = api.identifies
    assert identify["token"] == api.token
    assert identify["intents"] == intents().value
    assert identify["compress"] is True
    assert api.connections == ["/"]
    (session,) = api.sessions
    assert session.connected and session.shard == (0, 1)
    assert client.user is not None and client.user.id == api.bot_id
    assert client.application_id == api.application_id
    guild = client.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Rig guild"
    assert guild.owner_id == int(world.owner["id"])
    assert [c.name for c in guild.text_channels] == ["general"]
    assert {r.name for r in guild.roles} == {"@everyone", "Steward"}
    # With the members intent GUILD_CREATE lists them all: nothing left to ask for.
    assert guild.chunked and session.members_requests == []
    assert {m.name for m in guild.members} == {"olga", "Steward", "alice", "bob"}
    assert guild.me.guild_permissions.value == BOT_PERMISSIONS
    assert not guild.me.guild_permissions.administrator


async def test_members_are_requested_when_guild_create_lists_few() -> None:
    async with FakeDiscord(full_member_list=False) as api:
        guild = api.guild("G", owner=api.user("olga"))
        for name in ("alice", "bob", "carol"):
            api.add_member(guild.id, api.user(name))
        client = Recorder()
        async with running(client, api.token):
            (session,) = api.sessions
            (request,) = session.members_requests
            assert request["guild_id"] == guild.id and request["limit"] == 0
            chunk = next(f for f in session.backlog if f["t"] == "GUILD_MEMBERS_CHUNK")
            assert chunk["d"]["nonce"] == request["nonce"]
            cached = client.get_guild(guild.id)
            assert cached is not None and cached.chunked
            assert {m.name for m in cached.members} == {"olga", "Steward", "alice", "bob", "carol"}


async def test_heartbeats_are_acknowledged() -> None:
    async with FakeDiscord(heartbeat_interval=20) as api:
        api.guild("G", owner=api.user("olga"))
        client = Recorder()
        async with running(client, api.token):
            # Every 20 ms after HELLO, each answered with HEARTBEAT_ACK (op 11).
            await api.wait_heartbeats(api.heartbeat_count + 3)
            assert client.latency != float("inf")  # discord.py measured an ACK
            (session,) = api.sessions
            assert session.heartbeats[-1] == session.seq  # the client reports what it saw


async def test_without_the_members_intent_only_the_bot_and_owner_are_sent() -> None:
    async with FakeDiscord() as api:
        guild = api.guild("G", owner=api.user("olga"))
        alice = api.user("alice")
        api.add_member(guild.id, alice)
        chosen = intents()
        chosen.members = False
        chosen.message_content = False
        client = Recorder(intents=chosen)
        async with running(client, api.token):
            cached = client.get_guild(guild.id)
            assert cached is not None
            assert cached.member_count == 3
            (create,) = [f for f in api.sessions[0].backlog if f["t"] == "GUILD_CREATE"]
            listed = {m["user"]["username"] for m in create["d"]["members"]}
            assert listed == {"olga", "Steward"}
            assert {m.name for m in cached.members} == {"Steward"}  # discord.py keeps only itself
            # No MESSAGE_CONTENT: the text of others' messages is not sent, unless it
            # mentions the bot; members' joins are not sent at all.
            api.say(guild.general.id, alice, "secret")
            api.say(guild.general.id, alice, "hey bot", mentions=[api.bot])
            api.join(guild.id, api.user("carol"))
            messages = await client.wait_event("message", 2)
            assert [m.content for m in messages] == ["", "hey bot"]
            await api.synced()
            assert "member_join" not in client.seen


async def test_a_pushed_message_with_attachments_and_a_reply(world: World) -> None:
    api = world.api
    first = api.say(world.guild.general.id, world.bob, "original")
    api.say(
        world.guild.general.id,
        world.alice,
        "look at this",
        attachments=["cat.png", {"filename": "run.exe", "size": 4096}],
        reply_to=first,
    )
    _, message = await world.client.wait_event("message", 2)
    assert message.content == "look at this"
    assert message.author.id == int(world.alice["id"])
    assert isinstance(message.author, discord.Member)
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("cat.png", "image/png"),
        ("run.exe", "application/x-msdownload"),
    ]
    assert message.attachments[1].size == 4096
    assert message.type is discord.MessageType.reply
    assert message.reference is not None and message.reference.message_id == int(first["id"])
    assert isinstance(message.reference.resolved, discord.Message)
    assert message.reference.resolved.content == "original"
    # The message id is a snowflake of the fake's clock.
    assert abs(message.created_at - world.clock()) < timedelta(seconds=5)


async def test_a_forwarded_message_carries_a_snapshot(world: World) -> None:
    api = world.api
    original = api.say(world.guild.general.id, world.bob, "buy cheap followers at spam.example")
    api.say(world.guild.general.id, world.alice, forward=original)
    _, message = await world.client.wait_event("message", 2)
    assert message.content == ""
    assert message.reference is not None
    assert message.reference.type is discord.MessageReferenceType.forward
    (snapshot,) = message.message_snapshots
    assert snapshot.content == "buy cheap followers at spam.example"


async def test_an_edit_reaches_on_raw_message_edit(world: World) -> None:
    api = world.api
    sent = api.say(world.guild.general.id, world.alice, "fine words")
    api.edit(world.guild.general.id, int(sent["id"]), "free crypto now")
    (edit,) = await world.client.wait_event("raw_message_edit")
    assert edit.message_id == int(sent["id"])
    assert edit.data["content"] == "free crypto now"
    assert edit.message.content == "free crypto now"
    assert edit.message.edited_at is not None


async def test_members_join_change_and_leave(world: World) -> None:
    api, client = world.api, world.client
    carol = api.user("carol")
    api.join(world.guild.id, carol)
    (joined,) = await client.wait_event("member_join")
    assert joined.name == "carol" and joined.guild.id == world.guild.id
    role = api.role(world.guild.id, "Verified")
    api.update_member(world.guild.id, int(carol["id"]), roles=[role.id])
    (before, after) = (
        (await client.wait_event("member_update"))[0],
        client.seen["member_update"][0][1],
    )
    assert [r.name for r in before.roles] == ["@everyone"]
    assert [r.name for r in after.roles] == ["@everyone", "Verified"]
    api.leave(world.guild.id, int(carol["id"]))
    (removed,) = await client.wait_event("raw_member_remove")
    assert removed.user.id == int(carol["id"])
    assert not api.is_member(world.guild.id, int(carol["id"]))


async def test_reactions(world: World) -> None:
    api = world.api
    sent = api.say(world.guild.general.id, world.alice, "vote")
    api.react(world.guild.general.id, int(sent["id"]), world.bob, "🔥")
    (reaction,) = await world.client.wait_event("raw_reaction_add")
    assert reaction.emoji.name == "🔥"
    assert reaction.user_id == int(world.bob["id"])
    assert reaction.message_id == int(sent["id"])
    assert reaction.member is not None and reaction.member.name == "bob"


async def test_automod_executions(world: World) -> None:
    api = world.api
    api.automod(
        world.guild.id,
        world.alice,
        world.guild.general.id,
        "get free nitro here",
        keyword="free nitro",
        rule_id=42,
    )
    (execution,) = await world.client.wait_event("automod_action")
    assert execution.action.type is discord.AutoModRuleActionType.block_message
    assert execution.rule_id == 42
    assert execution.rule_trigger_type is discord.AutoModRuleTriggerType.keyword
    assert execution.user_id == int(world.alice["id"])
    assert execution.channel_id == world.guild.general.id
    assert execution.message_id is None
    assert execution.content == "get free nitro here"
    assert execution.matched_keyword == "free nitro"
    assert execution.matched_content == "free nitro"


async def test_a_forced_reconnect_resumes_without_losing_events(world: World) -> None:
    api, client = world.api, world.client
    await api.reconnect()
    api.say(world.guild.general.id, world.alice, "said while reconnecting")
    await client.wait_event("resumed")
    (message,) = await client.wait_event("message")
    assert message.content == "said while reconnecting"
    (session,) = api.sessions
    assert session.resumes == 1
    assert api.connections == ["/", "/resume"]  # READY's resume_gateway_url
    assert len(api.identifies) == 1
    # Events after the resume arrive on the new connection, in sequence.
    api.say(world.guild.general.id, world.alice, "after")
    await api.synced()
    assert [m.content for m in await client.wait_event("message", 2)][-1] == "after"


async def test_a_dropped_connection_resumes(world: World) -> None:
    api, client = world.api, world.client
    await api.disconnect(code=4000)  # e.g. a network failure; 4000 lets the client resume
    await client.wait_event("resumed")
    assert api.sessions[0].resumes == 1 and len(api.identifies) == 1
    api.say(world.guild.general.id, world.alice, "still here")
    (message,) = await client.wait_event("message")
    assert message.content == "still here"


async def test_an_invalidated_session_identifies_again(world: World) -> None:
    api, client = world.api, world.client
    await api.invalidate()
    await api.wait_ready(2)
    await client.wait_event("connect", 2)
    assert len(api.identifies) == 2
    assert [s.ended for s in api.sessions] == [True, False]
    api.say(world.guild.general.id, world.alice, "hello again")
    (message,) = await client.wait_event("message")
    assert message.content == "hello again"


@pytest.mark.parametrize("asked", [True, False], ids=["shard_count", "gateway_bot"])
async def test_each_shard_gets_only_its_guilds(asked: bool) -> None:
    # Given no shard_count, discord.py takes the one GET /gateway/bot recommends.
    async with FakeDiscord(shards=2) as api:
        owner = api.user("olga")
        moment = datetime.now(UTC)
        # (id >> 22) is the timestamp in ms: one millisecond apart, they land on both shards.
        first = api.guild("Even", owner=owner, id=api.snowflake(moment))
        second = api.guild("Odd", owner=owner, id=api.snowflake(moment + timedelta(milliseconds=1)))
        alice = api.user("alice")
        client = ShardedRecorder(
            shard_count=2 if asked else None, intents=intents(), guild_ready_timeout=0.05
        )
        seen: dict[int | None, list[str]] = {}
        both = asyncio.Event()

        @client.event
        async def on_message(message: discord.Message) -> None:
            seen.setdefault(message.guild.shard_id if message.guild else None, []).append(
                message.content
            )
            if sum(map(len, seen.values())) == 2:
                both.set()

        async with running(client, api.token):
            await api.wait_ready(2)
            assert sorted(s.shard for s in api.sessions) == [(0, 2), (1, 2)]
            assert len(api.calls_of("GET /gateway/bot")) == (0 if asked else 1)
            for session in api.sessions:
                ready = session.backlog[0]
                assert ready["t"] == "READY"
                assert ready["d"]["shard"] == list(session.shard)
                ids = [int(g["id"]) for g in ready["d"]["guilds"]]
                creates = [int(f["d"]["id"]) for f in session.backlog if f["t"] == "GUILD_CREATE"]
                assert ids == creates
                assert len(ids) == 1 and (ids[0] >> 22) % 2 == session.shard[0]
            assert {g.id for g in client.guilds} == {first.id, second.id}
            for guild in (first, second):
                cached = client.get_guild(guild.id)
                assert cached is not None and cached.shard_id == (guild.id >> 22) % 2
            api.say(first.general.id, alice, "to the first")
            api.say(second.general.id, alice, "to the second")
            await asyncio.wait_for(both.wait(), 5)
            assert seen == {
                (first.id >> 22) % 2: ["to the first"],
                (second.id >> 22) % 2: ["to the second"],
            }
            (dispatch,) = [d for d in api.dispatched if d.data.get("content") == "to the first"]
            assert len(dispatch.sessions) == 1


# -- REST ------------------------------------------------------------------------------------


async def test_sending_replying_and_deleting(world: World) -> None:
    api = world.api
    pushed = api.say(world.guild.general.id, world.alice, "spam spam")
    (message,) = await world.client.wait_event("message")
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Appeal", custom_id="appeal:1"))
    notice = await world.channel.send("Please stop.", view=view)
    reply = await message.reply("That was spam.", mention_author=False)
    await world.channel.send("evidence", file=discord.File(io.BytesIO(b"log"), "log.txt"))
    assert [m["content"] for m in api.sent] == ["Please stop.", "That was spam.", "evidence"]
    (upload,) = api.sent[2]["attachments"]
    assert (upload["filename"], upload["size"]) == ("log.txt", 3)
    assert api.sent[0]["components"][0]["components"][0]["custom_id"] == "appeal:1"
    assert reply.reference is not None and reply.reference.message_id == int(pushed["id"])
    assert notice.author.id == api.bot_id
    await world.client.http.delete_message(message.channel.id, message.id, reason="spam")
    assert (world.guild.general.id, int(pushed["id"])) in api.deleted
    assert api.message(world.guild.general.id, int(pushed["id"])) is None
    (call,) = api.calls_of("DELETE /channels/{channel_id}/messages/{message_id}")
    assert call.reason == "spam" and call.status == 204
    with pytest.raises(discord.NotFound) as failure:
        await message.delete()
    assert failure.value.code == 10008
    # The bot's own messages come back through the gateway, as on Discord.
    echoed = (await world.client.wait_event("message", 4))[:3]
    assert [m.content for m in echoed] == ["spam spam", "Please stop.", "That was spam."]
    (deleted,) = await world.client.wait_event("raw_message_delete")
    assert deleted.message_id == int(pushed["id"])


async def test_bulk_delete(world: World) -> None:
    api = world.api
    channel_id = world.guild.general.id
    spam = [api.say(channel_id, world.alice, f"spam {n}") for n in range(3)]
    old = api.say(channel_id, world.alice, "ancient", timestamp=world.clock() - timedelta(days=15))
    await world.client.wait_event("message", 4)
    await world.channel.delete_messages([discord.Object(int(m["id"])) for m in spam[:2]])
    assert [m["content"] for m in api.messages(channel_id)] == ["spam 2", "ancient"]
    (bulk,) = api.calls_of("POST /channels/{channel_id}/messages/bulk-delete")
    assert bulk.json == {"messages": [int(m["id"]) for m in spam[:2]]}
    with pytest.raises(discord.HTTPException) as failure:
        await world.channel.delete_messages([discord.Object(int(m["id"])) for m in (spam[2], old)])
    assert failure.value.code == 50034
    api.set_permissions(
        world.guild.id, world.guild.bot_role_id, BOT_PERMISSIONS & ~Permission.MANAGE_MESSAGES
    )
    with pytest.raises(discord.Forbidden):
        await world.client.http.delete_message(channel_id, int(spam[2]["id"]))


async def test_a_button_press_and_a_deferred_answer(world: World) -> None:
    api = world.api
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Appeal", custom_id="appeal:7"))
    notice = await world.channel.send("You were warned.", view=view)
    api.press(world.guild.general.id, notice.id, world.alice, "appeal:7")
    (interaction,) = await world.client.wait_event("interaction")
    assert interaction.type is discord.InteractionType.component
    assert interaction.data is not None and interaction.data["custom_id"] == "appeal:7"
    assert interaction.message is not None and interaction.message.id == notice.id
    assert interaction.user.id == int(world.alice["id"])
    await interaction.response.defer(ephemeral=True, thinking=True)
    followup = await interaction.followup.send("Your appeal is noted.", ephemeral=True, wait=True)
    assert followup.content == "Your appeal is noted."
    assert api.interaction_responses[0]["type"] == 5
    assert api.followups[0]["flags"] & 64
    # Discord refuses a second answer to the same interaction.
    url = f"{api.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 6}) as answer:
        assert answer.status == 400
        assert (await answer.json())["code"] == 40060


async def test_slash_commands_are_registered_and_run(world: World) -> None:
    api, client = world.api, world.client
    tree = app_commands.CommandTree(client)
    warned: list[tuple[str, str, bool]] = []

    @tree.command(name="warn", description="Warn a member", guild=discord.Object(world.guild.id))
    @app_commands.default_permissions(moderate_members=True)
    async def warn(interaction: discord.Interaction, member: discord.Member, reason: str) -> None:
        moderator = interaction.user
        assert isinstance(moderator, discord.Member)
        warned.append((member.name, reason, moderator.guild_permissions.moderate_members))
        await interaction.response.send_message(f"{member.mention} warned: {reason}")

    @tree.command(name="ping", description="Is the bot alive?")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    assert [c.name for c in await tree.sync()] == ["ping"]  # global commands
    assert [c["name"] for c in api.commands()] == ["ping"]
    synced = await tree.sync(guild=discord.Object(world.guild.id))
    assert [c.name for c in synced] == ["warn"]
    (registered,) = api.commands(world.guild.id)
    assert registered["name"] == "warn"
    assert [o["name"] for o in registered["options"]] == ["member", "reason"]
    assert int(registered["default_member_permissions"]) == Permission.MODERATE_MEMBERS
    # Syncing again keeps the ids, as Discord does for an unchanged name.
    again = await tree.sync(guild=discord.Object(world.guild.id))
    assert again[0].id == synced[0].id

    interaction = api.slash(
        world.guild.id,
        world.guild.general.id,
        world.owner,
        "warn",
        {"member": world.alice, "reason": "spam"},
    )
    await api.wait_for("POST /interactions/{interaction_id}/{token}/callback")
    assert warned == [("alice", "spam", True)]
    (response,) = api.interaction_responses
    assert response["interaction_id"] == int(interaction["id"])
    assert response["type"] == 4
    assert response["data"]["content"] == f"<@{world.alice['id']}> warned: spam"
    assert api.sent[-1]["interaction_metadata"]["id"] == interaction["id"]


async def test_timeouts_are_recorded_and_end_on_the_fakes_clock(world: World) -> None:
    api = world.api
    alice = world.member(world.alice)
    alice_id = int(world.alice["id"])
    await alice.timeout(timedelta(minutes=10), reason="flood")
    until = api.timed_out_until(world.guild.id, alice_id)
    assert until is not None
    assert timedelta(minutes=9) < until - world.clock() <= timedelta(minutes=10)
    (call,) = api.calls_of("PATCH /guilds/{guild_id}/members/{user_id}")
    assert call.reason == "flood"
    assert call.json == {"communication_disabled_until": until.isoformat()}
    # The client hears of it through GUILD_MEMBER_UPDATE.
    await world.client.wait_event("member_update")
    assert world.member(world.alice).is_timed_out()
    world.clock.offset = timedelta(minutes=11)
    assert not api.is_timed_out(world.guild.id, alice_id)
    await alice.timeout(None)
    assert api.member(world.guild.id, alice_id).communication_disabled_until is None  # type: ignore[union-attr]


async def test_a_timeout_beyond_28_days_is_refused(world: World) -> None:
    alice = world.member(world.alice)
    with pytest.raises(discord.HTTPException) as failure:
        await alice.timeout(timedelta(days=29))
    assert failure.value.status == 400
    assert failure.value.code == 50035
    assert "communication_disabled_until" in failure.value.text
    assert not world.api.is_timed_out(world.guild.id, int(world.alice["id"]))
    await alice.timeout(world.clock() + timedelta(days=27))
    assert world.api.is_timed_out(world.guild.id, int(world.alice["id"]))


async def test_ban_deletes_recent_messages_and_unban(world: World) -> None:
    api = world.api
    channel_id = world.guild.general.id
    old = api.say(channel_id, world.alice, "old", timestamp=world.clock() - timedelta(hours=3))
    recent = api.say(channel_id, world.alice, "recent spam")
    others = api.say(channel_id, world.bob, "bystander")
    await world.client.wait_event("message", 3)
    guild = world.client.get_guild(world.guild.id)
    assert guild is not None
    await guild.ban(world.member(world.alice), delete_message_seconds=3600, reason="scam")
    alice_id = int(world.alice["id"])
    assert api.is_banned(world.guild.id, alice_id)
    assert not api.is_member(world.guild.id, alice_id)
    ban = api.ban_of(world.guild.id, alice_id)
    assert ban is not None and ban.delete_message_seconds == 3600 and ban.reason == "scam"
    assert [m["id"] for m in api.messages(channel_id)] == [old["id"], others["id"]]
    assert (channel_id, int(recent["id"])) in api.deleted
    (raw_delete,) = await world.client.wait_event("raw_bulk_message_delete")
    assert raw_delete.message_ids == {int(recent["id"])}
    entry = await guild.fetch_ban(discord.Object(alice_id))
    assert entry.reason == "scam" and entry.user.name == "alice"
    await guild.unban(discord.Object(alice_id))
    assert not api.is_banned(world.guild.id, alice_id)
    with pytest.raises(discord.NotFound) as failure:
        await guild.unban(discord.Object(alice_id))
    assert failure.value.code == 10026


async def test_kick(world: World) -> None:
    api = world.api
    await world.member(world.bob).kick(reason="bye")
    assert not api.is_member(world.guild.id, int(world.bob["id"]))
    (removed,) = await world.client.wait_event("raw_member_remove")
    assert removed.user.id == int(world.bob["id"])
    with pytest.raises(discord.Forbidden) as failure:
        await world.member(world.owner).kick()
    assert failure.value.code == 50013
    assert api.is_member(world.guild.id, int(world.owner["id"]))
    with pytest.raises(discord.NotFound) as missing:
        await world.client.http.kick(int(world.bob["id"]), world.guild.id)
    assert missing.value.code == 10007


async def test_roles_are_added_and_removed_below_the_bot(world: World) -> None:
    api = world.api
    muted = api.role(world.guild.id, "Muted")
    alice_id = int(world.alice["id"])
    alice = world.member(world.alice)
    await alice.add_roles(discord.Object(muted.id), reason="muted")
    assert api.member(world.guild.id, alice_id).roles == [muted.id]  # type: ignore[union-attr]
    await alice.remove_roles(discord.Object(muted.id))
    assert api.member(world.guild.id, alice_id).roles == []  # type: ignore[union-attr]
    high = api.role(world.guild.id, "Admins", above_bot=True)
    with pytest.raises(discord.Forbidden) as failure:
        await alice.add_roles(discord.Object(high.id))
    assert failure.value.code == 50013
    with pytest.raises(discord.NotFound) as unknown_role:
        await alice.add_roles(discord.Object(12345))
    assert unknown_role.value.code == 10011
    assert [r.name for r in await world.client.get_guild(world.guild.id).fetch_roles()] == [  # type: ignore[union-attr]
        "@everyone",
        "Steward",
        "Muted",
        "Admins",
    ]


async def test_members_above_the_bot_and_missing_permissions_are_refused(world: World) -> None:
    api = world.api
    mods = api.role(world.guild.id, "Mods", above_bot=True)
    bob_id = int(world.bob["id"])
    api.member(world.guild.id, bob_id).roles.append(mods.id)  # type: ignore[union-attr]
    bob = world.member(world.bob)
    acts: list[Callable[[], Awaitable[Any]]] = [
        lambda: bob.timeout(timedelta(minutes=5)),
        bob.ban,
        bob.kick,
    ]
    for act in acts:
        with pytest.raises(discord.Forbidden) as failure:
            await act()
        assert failure.value.code == 50013
        assert failure.value.text == "Missing Permissions"
    assert not api.is_timed_out(world.guild.id, bob_id)
    assert not api.is_banned(world.guild.id, bob_id)
    # The bot's role loses Moderate Members: timeouts fail even on plain members.
    api.set_permissions(
        world.guild.id, world.guild.bot_role_id, BOT_PERMISSIONS & ~Permission.MODERATE_MEMBERS
    )
    with pytest.raises(discord.Forbidden):
        await world.member(world.alice).timeout(timedelta(minutes=5))
    # An Administrator bot may do anything, but never to the owner.
    api.set_permissions(world.guild.id, world.guild.bot_role_id, Permission.ADMINISTRATOR)
    await world.member(world.alice).timeout(timedelta(minutes=5))
    with pytest.raises(discord.Forbidden):
        await world.member(world.owner).timeout(timedelta(minutes=5))


async def test_a_rate_limit_is_waited_out(world: World) -> None:
    api = world.api
    api.rate_limit("POST /channels/{channel_id}/messages", retry_after=0.01)
    message = await world.channel.send("after a 429")
    assert message.content == "after a 429"
    calls = api.calls_of("POST /channels/{channel_id}/messages")
    assert [c.status for c in calls] == [429, 200]
    assert [m["content"] for m in api.sent] == ["after a 429"]
    raw = api.calls_of("/channels/{channel_id}/messages")[0]
    assert raw.route == "POST /channels/{channel_id}/messages"
    api.rate_limit("POST /channels/{channel_id}/messages", retry_after=0.01, is_global=True)
    await world.channel.send("after a global 429")
    assert [c.status for c in api.calls_of("POST /channels/{channel_id}/messages")][2:] == [
        429,
        200,
    ]
    # (discord.py retries a 500 for 25 s: a 503 fails at once.)
    api.fail("POST /channels/{channel_id}/messages", 503)
    with pytest.raises(discord.DiscordServerError):
        await world.channel.send("never")


async def test_injected_errors(world: World) -> None:
    api = world.api
    api.fail("PUT /guilds/{guild_id}/bans/{user_id}", 403, 50013, "Missing Permissions")
    with pytest.raises(discord.Forbidden):
        await world.member(world.alice).ban()
    await world.member(world.alice).ban()  # only the next call failed
    assert api.is_banned(world.guild.id, int(world.alice["id"]))
    with pytest.raises(ValueError, match="no route"):
        api.fail("PUT /nowhere", 500)


async def test_direct_messages(world: World) -> None:
    api = world.api
    await world.member(world.alice).send("You were warned in Rig guild.")
    (dm,) = api.dms(int(world.alice["id"]))
    assert dm["content"] == "You were warned in Rig guild."
    # A member writes to the bot.
    api.say(api.dm_channel(world.bob).id, world.bob, "why was I warned?")
    incoming = (await world.client.wait_event("message", 2))[1]  # after the echo of the DM
    assert isinstance(incoming.channel, discord.DMChannel) and incoming.guild is None
    assert incoming.content == "why was I warned?"
    await incoming.channel.send("Because of rule 3.")
    assert [m["content"] for m in api.dms(int(world.bob["id"]))] == ["Because of rule 3."]
    closed = api.user("dave", dms_open=False)
    api.add_member(world.guild.id, closed)
    user = await world.client.fetch_user(int(closed["id"]))
    with pytest.raises(discord.Forbidden) as failure:
        await user.send("hello")
    assert failure.value.code == 50007
    assert failure.value.text == "Cannot send messages to this user"
    assert api.dms(int(closed["id"])) == []


async def test_fetching_state(world: World) -> None:
    guild = await world.client.fetch_guild(world.guild.id)
    assert guild.name == "Rig guild" and guild.approximate_member_count == 4
    member = await guild.fetch_member(int(world.alice["id"]))
    assert member.name == "alice"
    with pytest.raises(discord.NotFound) as failure:
        await guild.fetch_member(999)
    assert failure.value.code == 10007
    channel = await world.client.fetch_channel(world.guild.general.id)
    assert isinstance(channel, discord.TextChannel) and channel.name == "general"
    (call,) = world.api.calls_of("GET /channels/{channel_id}")
    assert call.headers["Authorization"] == f"Bot {world.api.token}"


async def test_a_wrong_token_is_refused() -> None:
    async with FakeDiscord() as api:
        client = discord.Client(intents=intents())
        with pytest.raises(discord.LoginFailure):
            await client.start("not-the-token")
        await client.close()
        assert api.sessions == []


def test_intent_bits_match_discord_py() -> None:
    chosen = intents()
    assert chosen.value & Intent.MESSAGE_CONTENT
    assert chosen.value & Intent.AUTO_MODERATION_EXECUTION
    assert discord.Permissions(Permission.MODERATE_MEMBERS).moderate_members
    assert discord.Permissions(Permission.MANAGE_ROLES).manage_roles
