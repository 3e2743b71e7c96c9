"""Discord payloads → canonical events, without a network.

The payloads are the ones the fake Discord would send (built by its world methods with no
client connected), parsed by discord.py's own gateway parsers into discord.py objects, which
the translation functions then read, so these tests see exactly what the adapter sees.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from adapters.discord.adapter import INTENTS
from adapters.discord.permissions import hierarchy_refusal, is_admin_member, matches_role
from adapters.discord.translate import (
    automod_event,
    button_event,
    canonical_user,
    emoji_name,
    guild_channel,
    join_event,
    leave_event,
    media_kind,
    message_event,
    parse_command,
    reaction_event,
)
from bot.actions import ActionKind
from bot.adapter import Failure
from bot.events import ButtonPress, Command, ForwardInfo, MediaKind, Message, User
from tests.fakes.discord_api import FakeDiscord, FakeGuild, Json, Permission

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class _Capture(discord.Client):
    """A client that is never connected: its parsers fill `seen` instead of dispatching."""

    def __init__(self) -> None:
        super().__init__(intents=INTENTS, max_messages=None)
        self.seen: list[tuple[str, tuple[Any, ...]]] = []

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        self.seen.append((event, args))


class World:
    """The fake's world, and a discord.py state that knows its guild."""

    def __init__(self) -> None:
        self.api = FakeDiscord(now=lambda: NOW)
        self.owner = self.api.user("olga")
        self.fake_guild: FakeGuild = self.api.guild("Test guild", owner=self.owner)
        self.mallory = self.api.user("mallory")
        self.api.add_member(self.fake_guild.id, self.mallory)
        self.client = _Capture()
        self.state = self.client._connection
        self.state.user = discord.ClientUser(state=self.state, data=self.api.bot)  # type: ignore[arg-type]
        self.guild = self.state._add_guild_from_data(self._guild_payload())  # type: ignore[arg-type]
        self.channel = self.fake_guild.general.id

    def _guild_payload(self) -> Json:
        guild = self.fake_guild
        return {
            **guild.json(),
            "member_count": len(guild.members),
            "members": [m.json() for m in guild.members.values()],
            "channels": [self.api.channels[c].json() for c in guild.channel_ids],
            "threads": [],
        }

    def parse(self, event: str, payload: Json) -> tuple[Any, ...]:
        self.client.seen.clear()
        self.state.parsers[event](payload)
        assert self.client.seen, f"discord.py dispatched nothing for {event}"
        return self.client.seen[0][1]

    def message(self, payload: Json) -> discord.Message:
        (message,) = self.parse("MESSAGE_CREATE", payload)
        assert isinstance(message, discord.Message)
        return message

    def say(self, content: str = "", **options: Any) -> discord.Message:
        return self.message(self.api.say(self.channel, self.mallory, content, **options))


@pytest.fixture
def world() -> World:
    return World()


def translated(world: World, message: discord.Message, *, edited: bool = False) -> Any:
    return message_event(message, edited=edited, now=NOW, me=world.api.bot_id)


# -- messages ---------------------------------------------------------------------------------


def test_a_message_keeps_its_snowflake_time_and_guild(world: World) -> None:
    event = translated(world, world.say("hello there"))
    assert isinstance(event, Message)
    assert event.platform == "discord"
    assert event.text == "hello there"
    assert event.chat.id == str(world.channel)
    assert event.chat.space == str(world.fake_guild.id)
    assert event.chat.scope == str(world.fake_guild.id)
    assert event.chat.title == "Test guild"
    assert event.actor == User(world.mallory["id"], "Mallory", "mallory", False)
    assert event.at == NOW
    assert event.id == event.message_id
    assert not event.edited


def test_attachments_become_media_kinds(world: World) -> None:
    message = world.say("look", attachments=["cat.png", "clip.mp4", "loop.gif", "notes.pdf"])
    event = translated(world, message)
    assert event.media == frozenset(
        {MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.ANIMATION, MediaKind.DOCUMENT}
    )


@pytest.mark.parametrize(
    ("content_type", "filename", "voice", "kind"),
    [
        ("image/png", "a.png", False, MediaKind.PHOTO),
        ("image/gif", "a.gif", False, MediaKind.ANIMATION),
        ("video/mp4", "a.mp4", False, MediaKind.VIDEO),
        ("audio/mpeg", "a.mp3", False, MediaKind.AUDIO),
        ("audio/ogg", "voice-message.ogg", True, MediaKind.VOICE),
        ("application/zip", "a.zip", False, MediaKind.DOCUMENT),
        (None, "photo.JPG", False, MediaKind.PHOTO),
        (None, "unknown", False, MediaKind.DOCUMENT),
    ],
)
def test_media_kind_by_content_type(
    content_type: str | None, filename: str, voice: bool, kind: MediaKind
) -> None:
    assert media_kind(content_type, filename, voice=voice) is kind


def test_embed_urls_are_reported_as_links(world: World) -> None:
    embeds = [{"type": "link", "url": "https://evil.example/login"}]
    event = translated(world, world.say("[free nitro](https://evil.example/login)", embeds=embeds))
    assert event.links == ("https://evil.example/login",)


def test_mentions_are_ids_and_everyone(world: World) -> None:
    bob = world.api.user("bob")
    world.api.add_member(world.fake_guild.id, bob)
    event = translated(world, world.say(f"hey <@{bob['id']}> and @everyone", mentions=[bob]))
    assert event.mentions == (bob["id"], "everyone")


def test_a_reply_names_the_message_and_its_author(world: World) -> None:
    bob = world.api.user("bob")
    original = world.api.say(world.channel, bob, "first")
    event = translated(world, world.say("answer", reply_to=original))
    assert event.reply_to_message == original["id"]
    assert event.reply_to_user is not None and event.reply_to_user.id == bob["id"]


def test_a_forward_is_judged_by_its_snapshot(world: World) -> None:
    bob = world.api.user("bob")
    original = world.api.say(
        world.channel, bob, "free crypto at scam.example", attachments=["x.png"]
    )
    event = translated(world, world.say("", forward=original))
    assert event.forward == ForwardInfo()
    assert "free crypto" in event.text
    assert MediaKind.PHOTO in event.media


def test_an_edit_has_its_own_id_and_no_command(world: World) -> None:
    original = world.api.say(world.channel, world.mallory, "/ban everyone")
    later = NOW + timedelta(minutes=3)
    world.api.now = lambda: later
    payload = world.api.edit(world.channel, int(original["id"]), "/ban everyone now")
    (raw,) = world.parse("MESSAGE_UPDATE", payload)
    assert isinstance(raw, discord.RawMessageUpdateEvent)
    event = translated(world, raw.message, edited=True)
    assert isinstance(event, Message)
    assert event.edited
    assert event.id == f"edit:{original['id']}:{later.isoformat()}"
    assert event.message_id == original["id"]
    assert event.at == later


def test_bots_and_steward_itself_are_ignored(world: World) -> None:
    robot = world.api.user("robot", bot=True)
    assert translated(world, world.message(world.api.say(world.channel, robot, "beep"))) is None
    own = world.message(world.api.say(world.channel, world.api.bot, "I am Steward"))
    assert translated(world, own) is None


# -- text commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/warn be nice", ("warn", ("be", "nice"))),
        ("/MUTE 1h spam", ("mute", ("1h", "spam"))),
        ("!mute 1h spam", None),  # other bots' prefix: their `!ban` is not Steward's
        ("/free crypto for everyone", None),  # not a command of Steward's: a message
        ("/shrug", None),
        ("  /rules", ("rules", ())),
        ("/usr/bin/python", None),
        ("/ shrug", None),
        ("hello /warn", None),
        ("/", None),
    ],
)
def test_parse_command(text: str, parsed: tuple[str, tuple[str, ...]] | None) -> None:
    assert parse_command(text) == parsed


def test_a_command_by_reply_targets_the_replied_author(world: World) -> None:
    bob = world.api.user("bob")
    original = world.api.say(world.channel, bob, "rude")
    event = translated(world, world.say("/warn stop it", reply_to=original))
    assert isinstance(event, Command)
    assert (event.name, event.args) == ("warn", ("stop", "it"))
    assert event.target is not None and event.target.id == bob["id"]
    assert event.reply_to_message == original["id"]
    assert event.message_id == event.id


def test_a_command_naming_a_member_by_mention_targets_them(world: World) -> None:
    bob = world.api.user("bob")
    world.api.add_member(world.fake_guild.id, bob)
    event = translated(world, world.say(f"/mute <@{bob['id']}> 1h flooding", mentions=[bob]))
    assert isinstance(event, Command)
    assert event.target is not None and event.target.id == bob["id"]
    assert event.args == ("1h", "flooding")


# -- members, reactions, interactions, AutoMod --------------------------------------------


def test_join_and_leave_happen_in_the_first_text_channel(world: World) -> None:
    newcomer = world.api.user("newcomer")
    (member,) = world.parse("GUILD_MEMBER_ADD", world.api.join(world.fake_guild.id, newcomer))
    join = join_event(member, NOW)
    assert join.chat.id == str(guild_channel(world.guild)) == str(world.channel)
    assert join.actor.id == newcomer["id"]
    assert join.id == f"join:{newcomer['id']}:{NOW.isoformat()}"
    removed = world.api.leave(world.fake_guild.id, int(newcomer["id"]))
    (raw,) = next(a for e, a in _all(world, "GUILD_MEMBER_REMOVE", removed) if e.startswith("raw"))
    leave = leave_event(world.guild, raw.user, NOW + timedelta(microseconds=5), mark="s1:42")
    assert leave.chat == join.chat
    assert leave.at == NOW + timedelta(microseconds=5)
    assert leave.id == f"leave:{newcomer['id']}:s1:42"


def test_a_reaction_names_the_message_author(world: World) -> None:
    bob = world.api.user("bob")
    world.api.add_member(world.fake_guild.id, bob)
    message = world.api.say(world.channel, world.mallory, "nice")
    (raw,) = world.parse(
        "MESSAGE_REACTION_ADD", world.api.react(world.channel, int(message["id"]), bob, "🔥")
    )
    actor = canonical_user(raw.member)
    event = reaction_event(raw, world.guild, actor, NOW, mark="s1:7")
    assert event.id == f"reaction:{message['id']}:{bob['id']}:🔥:add:s1:7"
    assert event.emoji == ("🔥",)
    assert event.message_id == message["id"]
    assert event.target_user == User(world.mallory["id"])
    assert not event.removed


def test_custom_emoji_are_named_by_id() -> None:
    assert emoji_name(discord.PartialEmoji(name="party", id=42)) == "custom:42"
    assert emoji_name(discord.PartialEmoji(name="👍")) == "👍"


def test_a_button_press(world: World) -> None:
    sent = world.api.say(world.channel, world.api.bot, "Appeal", components=[])
    payload = world.api.press(world.channel, int(sent["id"]), world.owner, "steward:appeal:1")
    interaction = next(
        a[0] for e, a in _all(world, "INTERACTION_CREATE", payload) if e == "interaction"
    )
    press = button_event(interaction, NOW)
    assert isinstance(press, ButtonPress)
    assert press.data == "steward:appeal:1"
    assert press.message_id == sent["id"]
    assert press.id == payload["id"]
    assert press.actor.id == world.owner["id"]


def test_an_automod_block_is_a_blocked_message_of_its_author(world: World) -> None:
    payload = world.api.automod(
        world.fake_guild.id,
        world.mallory,
        world.channel,
        "buy cheap pills",
        keyword="pills",
        rule_id=77,
    )
    (execution,) = world.parse("AUTO_MODERATION_ACTION_EXECUTION", payload)
    offender = User(world.mallory["id"], "Mallory", "mallory")
    event = automod_event(execution, world.guild, offender, "automod:1", NOW)
    assert isinstance(event, Message)
    assert event.actor == offender
    assert event.text == "buy cheap pills"
    assert event.blocked_by == "Discord AutoMod rule 77, matched “pills”"
    assert event.chat.id == str(world.channel)
    assert event.chat.space == str(world.fake_guild.id)


# -- permissions ------------------------------------------------------------------------------


def test_admins_are_owner_administrator_manage_server_and_moderator_roles(world: World) -> None:
    api, gid = world.api, world.fake_guild.id
    admin_role = api.role(gid, "Admins", permissions=Permission.ADMINISTRATOR)
    mods = api.role(gid, "Mods", permissions=Permission.KICK_MEMBERS)
    managers = api.role(gid, "Managers", permissions=Permission.MANAGE_GUILD)
    people = {}
    for name, roles in (("ann", [admin_role.id]), ("mo", [mods.id]), ("max", [managers.id])):
        people[name] = api.user(name)
        api.add_member(gid, people[name], roles=roles)
    guild = world.state._add_guild_from_data(world._guild_payload())  # type: ignore[arg-type]

    def admin(user: Json, roles: list[str]) -> bool:
        member = guild.get_member(int(user["id"]))
        assert member is not None
        return is_admin_member(member, guild, roles)

    assert admin(world.owner, [])
    assert admin(people["ann"], [])
    assert admin(people["max"], [])
    assert not admin(people["mo"], [])
    assert admin(people["mo"], ["mods"])
    assert admin(people["mo"], [str(mods.id)])
    assert not admin(world.mallory, ["Mods"])
    assert matches_role(guild.get_role(mods.id), ["@Mods"])  # type: ignore[arg-type]


def test_members_above_the_bot_and_the_owner_are_never_acted_on(world: World) -> None:
    api, gid = world.api, world.fake_guild.id
    high = api.role(gid, "Senior", above_bot=True)
    senior = api.user("senior")
    api.add_member(gid, senior, roles=[high.id])
    guild = world.state._add_guild_from_data(world._guild_payload())  # type: ignore[arg-type]
    me = guild.me

    def refusal(user: Json) -> Any:
        member = guild.get_member(int(user["id"]))
        assert member is not None
        return hierarchy_refusal(guild, me, member, ActionKind.BAN)

    owner = refusal(world.owner)
    assert owner is not None and owner.failure is Failure.NOT_ALLOWED
    assert "owner" in owner.reason
    above = refusal(senior)
    assert above is not None and above.failure is Failure.NOT_ALLOWED
    assert "Senior" in above.reason and "Steward" in above.reason
    assert refusal(world.mallory) is None


def _all(world: World, event: str, payload: Json) -> list[tuple[str, tuple[Any, ...]]]:
    world.client.seen.clear()
    world.state.parsers[event](payload)
    return list(world.client.seen)


def test_text_starting_with_an_unknown_verb_is_a_message_with_all_it_holds(world: World) -> None:
    bob = world.api.user("bob")
    world.api.add_member(world.fake_guild.id, bob)
    for text in (f"/free crypto <@{bob['id']}>", f"!ban <@{bob['id']}> another bot's command"):
        event = translated(world, world.say(text, mentions=[bob]))
        assert isinstance(event, Message)
        assert event.text == text
        assert event.mentions == (bob["id"],)


def test_a_button_pressed_in_an_owners_direct_messages_comes_back_to_its_channel(
    world: World,
) -> None:
    from adapters.discord.translate import dm_button_data, dm_button_press
    from bot.events import ButtonPress, Chat

    data = dm_button_data(str(world.channel), "steward:appeal:pardon:7")
    assert len(data) <= 100  # Discord's limit for a custom id
    press = ButtonPress(
        platform="discord", chat=Chat("555"), actor=User("1"), at=NOW, id="9", data=data
    )
    placed = dm_button_press(press, world.guild)
    assert placed is not None
    assert placed.chat.id == str(world.channel) and placed.chat.space == str(world.guild.id)
    assert placed.data == "steward:appeal:pardon:7"
    assert dm_button_press(press, None) is None
    other = ButtonPress(
        platform="discord", chat=Chat("555"), actor=User("1"), at=NOW, id="9", data="x"
    )
    assert dm_button_press(other, world.guild) is None
