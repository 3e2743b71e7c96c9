"""A small, stateful fake of Discord (gateway WebSocket + REST API), served by aiohttp on 127.0.0.1.

The real `discord.Client` of discord.py talks to it exactly as it talks to Discord: JSON REST
calls under `/api/v10` with `Authorization: Bot <token>`, and a gateway WebSocket speaking the
Discord protocol (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME, RECONNECT,
INVALID_SESSION, REQUEST_GUILD_MEMBERS) with zlib-stream transport compression, which is what
discord.py asks for by default. It keeps the state a moderation test needs to check (who is
timed out until when, who is banned, which messages exist or were deleted, what the bot sent,
which roles a member has) and records every REST call.

Pointing discord.py at it: discord.py has no per-client setting for its URLs, so `install()`
(called by `start()`, hence by `async with FakeDiscord() as api:`) sets two class attributes:
`discord.http.Route.BASE` (REST, `http://127.0.0.1:PORT/api/v10`) and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (`ws://127.0.0.1:PORT/`). `stop()` restores
them. Being process-wide, only one fake can serve discord.py at a time. A plain `Client` (and
an `AutoShardedClient` given `shard_count`) never asks `GET /gateway/bot`: it connects to
DEFAULT_GATEWAY, then resumes at READY's `resume_gateway_url` (`ws://127.0.0.1:PORT/resume`).

    async with FakeDiscord() as api:
        owner = api.user("olga")
        guild = api.guild("Test guild", owner=owner)   # @everyone, the bot's role, #general
        mallory = api.user("mallory")
        api.add_member(guild.id, mallory)
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        await client.login(api.token)        # `start` = `login` + `connect`; after `login`,
        task = asyncio.create_task(client.connect())    # `wait_until_ready` may be awaited
        await client.wait_until_ready()
        api.say(guild.general.id, mallory, "free crypto")    # MESSAGE_CREATE
        await api.synced()                                   # the client has parsed it
        ...
        assert api.is_timed_out(guild.id, mallory["id"])

Things about discord.py worth knowing when driving it against this fake:

* `guild_ready_timeout` (default 2 s) is how long the client waits after the last GUILD_CREATE
  before `on_ready`: pass a small value (0.05) in tests.
* discord.py sleeps 5 s in `before_identify_hook` before every IDENTIFY but the first (each
  further shard of an `AutoShardedClient`; a `Client` after `invalidate()`): override that
  hook with a no-op in tests.
* The members cached at startup depend on intents as on Discord: with GUILD_MEMBERS, GUILD_CREATE
  lists every member (`full_member_list=False`: only the bot and the owner, and discord.py asks
  for the rest with REQUEST_GUILD_MEMBERS, answered by one GUILD_MEMBERS_CHUNK); without it,
  discord.py caches only the bot itself.
* `Member.timeout(timedelta)` computes the end from the real clock (`discord.utils.utcnow()`),
  while this fake judges `communication_disabled_until` against its injected `now`: with a
  virtual clock, pass an absolute `datetime`.
* A 429 is honoured only with a `Via` header (otherwise discord.py takes it for a Cloudflare
  ban): this fake sends one. discord.py sleeps `retry_after` real seconds: keep it tiny.

Public API (stable):

* `FakeDiscord(*, token, now, heartbeat_interval=45000, echo=True, shards=1, bot_name,
  full_member_list=True)`; `start()`,
  `stop()`, `install()`, `uninstall()`, `port`, `api_base`, `gateway_url`, `bot` (the bot's user
  JSON), `bot_id`, `application_id`. With `echo`, the bot's REST actions produce the gateway
  events Discord would send (MESSAGE_CREATE for its own messages, GUILD_MEMBER_UPDATE after a
  timeout or a role change, GUILD_MEMBER_REMOVE and GUILD_BAN_ADD after a ban, MESSAGE_DELETE…).
* The world: `snowflake(at=None)`, `user(name, *, id, bot, dms_open)`,
  `guild(name, *, owner, id, bot_permissions, everyone_permissions, channels)` → `FakeGuild`
  (with `.everyone`, `.bot_role`, `.general`), `role(guild_id, name, *, permissions, position,
  id)` → `FakeRole` (`position` defaults to just below the bot's role; `above_bot=True` puts it
  above), `channel(guild_id, name, *, id)` → `FakeChannel`, `add_member(guild_id, user, *,
  roles, joined_at)` → `FakeMember` (silently: for setup; `join` tells the client),
  `dm_channel(user)` → `FakeChannel` (`say` there is a DM to the bot), `set_permissions(guild_id,
  role_id, permissions)`. `role`, `channel` and `set_permissions` dispatch GUILD_ROLE_CREATE /
  GUILD_ROLE_UPDATE / CHANNEL_CREATE so that a connected client's cache knows them; `user`,
  `guild`, `add_member`, `dm_channel` send nothing.
* Events pushed to connected clients (each records the dispatch, sends it to every session
  that should see it — right shard, right intents, MESSAGE_CONTENT scrubbing — and returns the
  payload): `say(channel_id, author, content, *, attachments, embeds, mentions, reply_to,
  forward, components, timestamp)`, `edit(channel_id, message_id, content)`,
  `delete(channel_id, message_id)`, `join(guild_id, user, *, roles)`, `leave(guild_id,
  user_id)`, `update_member(guild_id, user_id, *, roles, nick)`, `react(channel_id, message_id,
  user, emoji)`, `slash(guild_id, channel_id, user, name, options, *, permissions)`,
  `press(channel_id, message_id, user, custom_id)`, `automod(guild_id, user, channel_id,
  content, *, keyword, ...)`, and the generic `dispatch(event, data, *, guild_id)`.
* Gateway: `sessions` (`GatewaySession`: `session_id`, `shard`, `intents`, `seq`, `identify`,
  `heartbeats`, `resumes`, `connected`), `dispatched` (every `Dispatch` pushed), `ready_count`,
  `wait_until(predicate)`, `wait_ready(count)`, `synced()` (asks each connected session for a
  heartbeat, op 1, and waits for one carrying the last sequence sent: once it returns, the
  client has parsed every dispatch sent so far and scheduled its listeners),
  `wait_heartbeats(count)`, `reconnect()` (op 7), `disconnect(code)`, `invalidate(resumable)`
  (all three take an optional `shard_id`); `connections` (the path of each WebSocket).
* REST: `calls` (`Call`: `method`, `path`, `route`, `params`, `query`, `json`, `headers`,
  `reason`, `status`), `calls_of(route)`, `wait_for(route, *, count, where)`, `fail(route,
  status, code, message, *, times, errors)`, `rate_limit(route, retry_after, *, times,
  is_global)`. Errors are Discord's `{"message", "code"}` JSON: 403 50013 Missing Permissions,
  404 10008/10007/10026/10011 Unknown Message/Member/Ban/Role, 403 50007 for DMs to a user who
  blocks them, 400 50035 Invalid Form Body (e.g. a timeout beyond 28 days). A
  route is written as in discord.py: `"PATCH /guilds/{guild_id}/members/{user_id}"`, or
  without the method to match any method; `ROUTES` lists them all.
* State: `guilds`, `channels`, `users`, `member(guild_id, user_id)`, `is_member(...)`,
  `is_timed_out(guild_id, user_id)`, `timed_out_until(...)`, `is_banned(...)`, `ban_of(...)`
  (`Ban` with `reason`, `delete_message_seconds`), `messages(channel_id)` (not deleted),
  `message(channel_id, message_id)`, `deleted` ((channel_id, message_id) pairs), `sent` (every
  message the bot created, channels and DMs), `dms(user_id)`, `interactions`,
  `interaction_responses`, `followups`, `commands(guild_id=None)`, `permissions(guild_id,
  user_id)`, `top_position(guild_id, user_id)`.
* Constants: `Permission` (bits, `Permission.ALL`), `Intent` (bits), `BOT_PERMISSIONS` (the bot
  role's default: everyone's plus kick, ban, manage messages, manage roles, moderate members),
  `EVERYONE_PERMISSIONS`, `ROUTES`, `Json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

Json = dict[str, Any]
DISCORD_EPOCH_MS = 1420070400000
API_VERSION = 10
MAX_TIMEOUT = timedelta(days=28)


class Permission:
    """Discord permission bits (the ones a moderation bot meets)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MODERATE_MEMBERS = 1 << 40
    ALL = (1 << 51) - 1


EVERYONE_PERMISSIONS = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
)
BOT_PERMISSIONS = (
    EVERYONE_PERMISSIONS
    | Permission.KICK_MEMBERS
    | Permission.BAN_MEMBERS
    | Permission.MANAGE_MESSAGES
    | Permission.MANAGE_ROLES
    | Permission.MODERATE_MEMBERS
)


class Intent:
    """Gateway intent bits."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    MESSAGE_CONTENT = 1 << 15
    AUTO_MODERATION_EXECUTION = 1 << 21


# Which intent a dispatch needs: (in a guild, in a DM). None: always sent.
_EVENT_INTENTS: dict[str, tuple[int | None, int | None]] = {
    "GUILD_CREATE": (Intent.GUILDS, None),
    "GUILD_UPDATE": (Intent.GUILDS, None),
    "GUILD_DELETE": (Intent.GUILDS, None),
    "GUILD_ROLE_CREATE": (Intent.GUILDS, None),
    "GUILD_ROLE_UPDATE": (Intent.GUILDS, None),
    "GUILD_ROLE_DELETE": (Intent.GUILDS, None),
    "CHANNEL_CREATE": (Intent.GUILDS, None),
    "CHANNEL_UPDATE": (Intent.GUILDS, None),
    "CHANNEL_DELETE": (Intent.GUILDS, None),
    "GUILD_MEMBER_ADD": (Intent.GUILD_MEMBERS, None),
    "GUILD_MEMBER_UPDATE": (Intent.GUILD_MEMBERS, None),
    "GUILD_MEMBER_REMOVE": (Intent.GUILD_MEMBERS, None),
    "GUILD_BAN_ADD": (Intent.GUILD_MODERATION, None),
    "GUILD_BAN_REMOVE": (Intent.GUILD_MODERATION, None),
    "GUILD_AUDIT_LOG_ENTRY_CREATE": (Intent.GUILD_MODERATION, None),
    "MESSAGE_CREATE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_DELETE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_DELETE_BULK": (Intent.GUILD_MESSAGES, None),
    "MESSAGE_REACTION_ADD": (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (
        Intent.GUILD_MESSAGE_REACTIONS,
        Intent.DIRECT_MESSAGE_REACTIONS,
    ),
    "AUTO_MODERATION_ACTION_EXECUTION": (Intent.AUTO_MODERATION_EXECUTION, None),
}


class DiscordError(Exception):
    """An error answer: HTTP `status` with Discord's JSON body `{"message", "code"}`."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: Json | None = None,
        retry_after: float | None = None,
        is_global: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.retry_after = retry_after
        self.is_global = is_global


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


def invalid_form(fieldname: str, code: str, message: str) -> DiscordError:
    return DiscordError(
        400,
        50035,
        "Invalid Form Body",
        errors={fieldname: {"_errors": [{"code": code, "message": message}]}},
    )


@dataclass
class Call:
    """One REST call as the fake received it."""

    method: str
    path: str  # after /api/v10, e.g. /guilds/1/members/2
    route: str  # the template, e.g. "PATCH /guilds/{guild_id}/members/{user_id}"
    params: dict[str, str]  # the template's values
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 0

    @property
    def reason(self) -> str | None:
        """The audit log reason (X-Audit-Log-Reason), decoded."""
        raw = self.headers.get("X-Audit-Log-Reason")
        return None if raw is None else unquote(raw)


@dataclass
class Dispatch:
    """One gateway event the fake pushed (or echoed), before per-session filtering."""

    event: str
    data: Any
    guild_id: int | None
    sessions: list[str]  # ids of the sessions it was sent to


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int
    position: int
    managed: bool = False
    bot_id: int | None = None
    color: int = 0
    hoist: bool = False
    mentionable: bool = False

    def json(self) -> Json:
        role: Json = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            role["tags"] = {"bot_id": str(self.bot_id)}
        return role


@dataclass
class FakeMember:
    user: Json
    roles: list[int] = field(default_factory=list)
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    nick: str | None = None
    communication_disabled_until: datetime | None = None

    @property
    def id(self) -> int:
        return int(self.user["id"])

    def json(self, *, with_user: bool = True) -> Json:
        member: Json = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at.isoformat(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": (
                None
                if self.communication_disabled_until is None
                else self.communication_disabled_until.isoformat()
            ),
        }
        if with_user:
            member["user"] = self.user
        return member


@dataclass
class Ban:
    user: Json
    reason: str | None
    delete_message_seconds: int
    at: datetime


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM
    guild_id: int | None = None
    position: int = 0
    recipient: Json | None = None  # of a DM channel
    messages: dict[int, Json] = field(default_factory=dict)  # every message, deleted or not

    def json(self) -> Json:
        if self.type == 1:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.recipient],
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, FakeMember] = field(default_factory=dict)
    bans: dict[int, Ban] = field(default_factory=dict)
    commands: list[Json] = field(default_factory=list)
    bot_role_id: int = 0
    fake: FakeDiscord | None = None

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def bot_role(self) -> FakeRole:
        return self.roles[self.bot_role_id]

    @property
    def general(self) -> FakeChannel:
        """The first text channel."""
        assert self.fake is not None
        return self.fake.channels[self.channel_ids[0]]

    def json(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.json() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
        }


@dataclass(eq=False)
class GatewaySession:
    """A gateway session: created by IDENTIFY, kept across RESUMEs, ended by a clean close."""

    session_id: str
    token: str
    intents: int
    shard: tuple[int, int]
    identify: Json
    seq: int = 0
    backlog: list[Json] = field(default_factory=list)  # every dispatch frame sent, for RESUME
    heartbeats: list[int | None] = field(default_factory=list)  # the `d` of each heartbeat
    acked_seq: int = 0  # the highest sequence a heartbeat reported
    resumes: int = 0
    ended: bool = False  # closed cleanly (1000/1001) or invalidated: no more events
    connection: _Connection | None = None
    members_requests: list[Json] = field(default_factory=list)  # op 8 payloads

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.ws.closed

    def wants(self, event: str, guild_id: int | None) -> bool:
        if self.ended:
            return False
        shard_id, count = self.shard
        if guild_id is not None and (guild_id >> 22) % count != shard_id:
            return False
        if guild_id is None and shard_id != 0:
            return False  # DMs go to shard 0
        needed = _EVENT_INTENTS.get(event)
        if needed is None:
            return True
        intent = needed[0] if guild_id is not None else needed[1]
        return intent is None or bool(self.intents & intent)


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    path: str
    compressor: Any  # zlib compressobj, or None
    queue: asyncio.Queue[Json | None] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    writer: asyncio.Task[None] | None = None
    closed_by_server: bool = False

    async def close(self, code: int, message: str = "") -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=message.encode())


# Every REST route the fake answers, as discord.py writes them.
ROUTES: tuple[str, ...] = (
    "GET /users/@me",
    "GET /users/{user_id}",
    "POST /users/@me/channels",
    "GET /oauth2/applications/@me",
    "GET /applications/@me",
    "GET /gateway",
    "GET /gateway/bot",
    "GET /channels/{channel_id}",
    "GET /channels/{channel_id}/messages",
    "POST /channels/{channel_id}/messages",
    "POST /channels/{channel_id}/messages/bulk-delete",
    "GET /channels/{channel_id}/messages/{message_id}",
    "PATCH /channels/{channel_id}/messages/{message_id}",
    "DELETE /channels/{channel_id}/messages/{message_id}",
    "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
    "POST /channels/{channel_id}/typing",
    "GET /guilds/{guild_id}",
    "GET /guilds/{guild_id}/channels",
    "GET /guilds/{guild_id}/roles",
    "GET /guilds/{guild_id}/members",
    "GET /guilds/{guild_id}/members/{user_id}",
    "PATCH /guilds/{guild_id}/members/{user_id}",
    "DELETE /guilds/{guild_id}/members/{user_id}",
    "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    "DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    "GET /guilds/{guild_id}/bans",
    "GET /guilds/{guild_id}/bans/{user_id}",
    "PUT /guilds/{guild_id}/bans/{user_id}",
    "DELETE /guilds/{guild_id}/bans/{user_id}",
    "GET /guilds/{guild_id}/auto-moderation/rules",
    "POST /interactions/{interaction_id}/{token}/callback",
    "POST /webhooks/{application_id}/{token}",
    "GET /webhooks/{application_id}/{token}/messages/{message_id}",
    "PATCH /webhooks/{application_id}/{token}/messages/{message_id}",
    "DELETE /webhooks/{application_id}/{token}/messages/{message_id}",
    "GET /applications/{application_id}/commands",
    "PUT /applications/{application_id}/commands",
    "GET /applications/{application_id}/guilds/{guild_id}/commands",
    "PUT /applications/{application_id}/guilds/{guild_id}/commands",
)
_UNAUTHENTICATED = ("/interactions/", "/webhooks/")


def _compile(route: str) -> tuple[str, re.Pattern[str]]:
    method, template = route.split(" ", 1)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return method, re.compile(f"^{pattern}$")


_COMPILED = [(route, *_compile(route)) for route in ROUTES]


@dataclass
class _Request:
    call: Call
    params: dict[str, str]
    body: Any
    query: dict[str, str]
    files: list[Json]

    def id(self, name: str) -> int:
        return int(self.params[name])


class FakeDiscord:
    """The fake server. `async with FakeDiscord() as api:` starts it on a free local port and
    points discord.py at it."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token.discord.test",
        now: Callable[[], datetime] | None = None,
        heartbeat_interval: int = 45000,
        echo: bool = True,
        shards: int = 1,
        bot_name: str = "Steward",
        full_member_list: bool = True,
    ) -> None:
        self.token = token
        self.now = now or (lambda: datetime.now(UTC))
        self.heartbeat_interval = heartbeat_interval  # milliseconds, as in HELLO
        self.echo = echo
        self.recommended_shards = shards  # what GET /gateway/bot answers
        # GUILD_CREATE lists every member to a session with the GUILD_MEMBERS intent; if not
        # (as for Discord's large guilds), only the bot and the owner, and discord.py asks for
        # the others with REQUEST_GUILD_MEMBERS (op 8) when it chunks guilds at startup.
        self.full_member_list = full_member_list
        self._last_snowflake = 0
        self._increment = itertools.count()
        self.users: dict[int, Json] = {}
        self.dms_closed: set[int] = set()  # users who accept no DMs from the bot
        self.bot = self.user(bot_name, bot=True)
        self.bot_id = int(self.bot["id"])
        self.application_id = self.bot_id  # as for every bot made since 2019
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.sent: list[Json] = []
        self.reactions: list[Json] = []  # reactions the bot added
        self.global_commands: list[Json] = []
        self.interactions: dict[int, Json] = {}
        self.interaction_responses: list[Json] = []  # {"interaction_id", "type", "data"}
        self.followups: list[Json] = []
        self._responded: set[int] = set()
        self._originals: dict[int, int] = {}  # interaction id → message id of its response
        self.calls: list[Call] = []
        self.sessions: list[GatewaySession] = []
        self.connections: list[str] = []  # the path of every gateway connection, in order
        self.identifies: list[Json] = []
        self.dispatched: list[Dispatch] = []
        self.ready_count = 0
        self.heartbeat_count = 0
        self._failures: dict[str, list[DiscordError]] = {}
        self._changed: asyncio.Condition | None = None
        self._live: set[_Connection] = set()
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self.port = 0

    # -- server -----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, *, install: bool = True) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if install:
            self.install()

    async def stop(self) -> None:
        for connection in list(self._live):
            with contextlib.suppress(Exception):
                await connection.close(1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.uninstall()

    def install(self) -> None:
        """Point discord.py (process-wide) at this fake."""
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        if self._saved is None:
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def uninstall(self) -> None:
        """Give discord.py back its real URLs."""
        if self._saved is None:
            return
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        self._saved = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    async def _notify(self) -> None:
        if self._changed is None:
            return
        async with self._changed:
            self._changed.notify_all()

    def _poke(self) -> None:
        """Wake the waiters from synchronous code."""
        if self._changed is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(self._notify())

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds; it is checked after every gateway or REST event."""
        assert self._changed is not None, "the fake is not started"
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # -- the world --------------------------------------------------------------------------

    def snowflake(self, at: datetime | None = None) -> int:
        """A new id whose timestamp is `at` (default: the fake's now); without `at`, ids
        only grow."""
        moment = at or self.now()
        value = (int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22
        value |= next(self._increment) & 0xFFF
        if at is None:
            value = max(value, self._last_snowflake + 1)
            self._last_snowflake = value
        return value

    def user(
        self, name: str, *, id: int | None = None, bot: bool = False, dms_open: bool = True
    ) -> Json:
        """A Discord user (registered with the fake); `dms_open=False`: DMs to them fail."""
        user_id = id or self.snowflake()
        user: Json = {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": name.capitalize(),
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if bot:
            user["bot"] = True
            user["verified"] = True
            user["mfa_enabled"] = True
        self.users[user_id] = user
        if not dms_open:
            self.dms_closed.add(user_id)
        return user

    def guild(
        self,
        name: str,
        *,
        owner: Json,
        id: int | None = None,
        bot_permissions: int = BOT_PERMISSIONS,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
        channels: Sequence[str] = ("general",),
    ) -> FakeGuild:
        """A guild with @everyone, the bot's managed role (position 1) holding
        `bot_permissions`, text channels, the owner and the bot as members."""
        guild_id = id or self.snowflake()
        guild = FakeGuild(guild_id, name, int(owner["id"]), fake=self)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", everyone_permissions, 0)
        bot_role = FakeRole(
            self.snowflake(), self.bot["username"], bot_permissions, 1, True, self.bot_id
        )
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id
        self.guilds[guild_id] = guild
        for channel_name in channels:
            self.channel(guild_id, channel_name)
        now = self.now()
        self.users.setdefault(int(owner["id"]), owner)
        guild.members[int(owner["id"])] = FakeMember(owner, joined_at=now)
        guild.members[self.bot_id] = FakeMember(self.bot, [bot_role.id], joined_at=now)
        return guild

    def role(
        self,
        guild_id: int,
        name: str,
        *,
        permissions: int = 0,
        position: int | None = None,
        above_bot: bool = False,
        id: int | None = None,
    ) -> FakeRole:
        """A new role. By default it goes just below the bot's role (the bot can manage it);
        `above_bot=True` puts it above (the bot cannot act on members who have it)."""
        guild = self.guilds[guild_id]
        bot_position = guild.bot_role.position
        if position is None:
            position = bot_position + 1 if above_bot else bot_position
        moved = []
        for role in guild.roles.values():  # make room, as Discord does
            if role.id != guild.id and role.position >= position:
                role.position += 1
                moved.append(role)
        role = FakeRole(id or self.snowflake(), name, permissions, position)
        guild.roles[role.id] = role
        self._role_event("GUILD_ROLE_CREATE", guild, role)
        for other in moved:
            self._role_event("GUILD_ROLE_UPDATE", guild, other)
        return role

    def set_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        """Change a role's permissions (→ GUILD_ROLE_UPDATE)."""
        guild = self.guilds[guild_id]
        guild.roles[role_id].permissions = permissions
        self._role_event("GUILD_ROLE_UPDATE", guild, guild.roles[role_id])

    def _role_event(self, event: str, guild: FakeGuild, role: FakeRole) -> None:
        self.dispatch(event, {"guild_id": str(guild.id), "role": role.json()}, guild_id=guild.id)

    def channel(self, guild_id: int, name: str, *, id: int | None = None) -> FakeChannel:
        guild = self.guilds[guild_id]
        channel = FakeChannel(
            id or self.snowflake(), name, 0, guild_id, position=len(guild.channel_ids)
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        self.dispatch("CHANNEL_CREATE", channel.json(), guild_id=guild_id)
        return channel

    def dm_channel(self, user: Json) -> FakeChannel:
        """The DM channel between `user` and the bot (created if needed, no event): messages
        pushed there with `say` reach the client as DMs (shard 0, DIRECT_MESSAGES intent)."""
        for channel in self.channels.values():
            if channel.recipient is not None and channel.recipient["id"] == user["id"]:
                return channel
        self.users.setdefault(int(user["id"]), user)
        channel = FakeChannel(self.snowflake(), "", 1, recipient=user)
        self.channels[channel.id] = channel
        return channel

    def add_member(
        self,
        guild_id: int,
        user: Json,
        *,
        roles: Iterable[int] = (),
        joined_at: datetime | None = None,
    ) -> FakeMember:
        """Make `user` a member without telling the client (setup before it connects)."""
        self.users.setdefault(int(user["id"]), user)
        member = FakeMember(user, list(roles), joined_at=joined_at or self.now())
        self.guilds[guild_id].members[member.id] = member
        return member

    # -- state inspection -------------------------------------------------------------------

    def member(self, guild_id: int, user_id: int) -> FakeMember | None:
        return self.guilds[guild_id].members.get(user_id)

    def is_member(self, guild_id: int, user_id: int) -> bool:
        return user_id in self.guilds[guild_id].members

    def timed_out_until(self, guild_id: int, user_id: int) -> datetime | None:
        """When the member's timeout ends, if it has not ended yet (by the fake's clock)."""
        member = self.member(guild_id, user_id)
        if member is None or member.communication_disabled_until is None:
            return None
        if member.communication_disabled_until <= self.now():
            return None
        return member.communication_disabled_until

    def is_timed_out(self, guild_id: int, user_id: int) -> bool:
        return self.timed_out_until(guild_id, user_id) is not None

    def is_banned(self, guild_id: int, user_id: int) -> bool:
        return user_id in self.guilds[guild_id].bans

    def ban_of(self, guild_id: int, user_id: int) -> Ban | None:
        return self.guilds[guild_id].bans.get(user_id)

    def messages(self, channel_id: int) -> list[Json]:
        """The channel's messages that were not deleted, oldest first."""
        channel = self.channels[channel_id]
        return [m for i, m in channel.messages.items() if (channel_id, i) not in self.deleted]

    def message(self, channel_id: int, message_id: int) -> Json | None:
        """A message that exists (not deleted)."""
        if (channel_id, message_id) in self.deleted:
            return None
        return self.channels[channel_id].messages.get(message_id)

    def dms(self, user_id: int) -> list[Json]:
        """Messages the bot sent to `user_id` in DMs."""
        channels = {
            c.id
            for c in self.channels.values()
            if c.recipient is not None and int(c.recipient["id"]) == user_id
        }
        return [m for m in self.sent if int(m["channel_id"]) in channels]

    def commands(self, guild_id: int | None = None) -> list[Json]:
        """The application commands registered for a guild, or the global ones."""
        return self.global_commands if guild_id is None else self.guilds[guild_id].commands

    def permissions(self, guild_id: int, user_id: int) -> int:
        """The member's guild permissions (owner and Administrator: all; channel overwrites
        are not modelled)."""
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return Permission.ALL
        member = guild.members.get(user_id)
        if member is None:
            return 0
        value = guild.everyone.permissions
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return Permission.ALL if value & Permission.ADMINISTRATOR else value

    def top_position(self, guild_id: int, user_id: int) -> int:
        guild = self.guilds[guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        return max((guild.roles[r].position for r in member.roles if r in guild.roles), default=0)

    # -- REST controls ----------------------------------------------------------------------

    def fail(
        self,
        route: str,
        status: int,
        code: int = 0,
        message: str = "",
        *,
        times: int = 1,
        errors: Json | None = None,
    ) -> None:
        """The next `times` calls of `route` ("METHOD /template", or "/template" for any
        method, e.g. "PUT /guilds/{guild_id}/bans/{user_id}") answer with this error."""
        self._check_route(route)
        self._failures.setdefault(route, []).extend(
            DiscordError(status, code, message or _STATUS_TEXT.get(status, "Error"), errors=errors)
            for _ in range(times)
        )

    def rate_limit(
        self, route: str, retry_after: float = 0.01, *, times: int = 1, is_global: bool = False
    ) -> None:
        """The next `times` calls of `route` answer 429 with `retry_after` seconds (discord.py
        really sleeps that long, then retries)."""
        self._check_route(route)
        self._failures.setdefault(route, []).extend(
            DiscordError(
                429,
                0,
                "You are being rate limited.",
                retry_after=retry_after,
                is_global=is_global,
            )
            for _ in range(times)
        )

    def _check_route(self, route: str) -> None:
        known = set(ROUTES) | {r.split(" ", 1)[1] for r in ROUTES}
        if route not in known:
            raise ValueError(f"the fake knows no route {route!r}; see ROUTES")

    def calls_of(self, route: str) -> list[Call]:
        """The calls of a route ("METHOD /template" or "/template")."""
        return [c for c in self.calls if c.route == route or c.route.split(" ", 1)[1] == route]

    async def wait_for(
        self,
        route: str,
        *,
        count: int = 1,
        where: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[Call]:
        """The answered calls of `route` (matching `where`) once there are `count` of them."""

        def found() -> list[Call]:
            return [c for c in self.calls_of(route) if c.status and (where is None or where(c))]

        await self.wait_until(lambda: len(found()) >= count, timeout)
        return found()

    # -- gateway controls -------------------------------------------------------------------

    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if not s.ended]

    async def wait_ready(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` IDENTIFYs were answered with READY and the GUILD_CREATEs."""
        await self.wait_until(lambda: self.ready_count >= count, timeout)

    async def wait_heartbeats(self, count: int, timeout: float = 10.0) -> None:
        """Wait until the clients sent `count` heartbeats in all (each one was ACKed)."""
        await self.wait_until(lambda: self.heartbeat_count >= count, timeout)

    async def synced(self, timeout: float = 10.0) -> None:
        """Return once every connected session has parsed every dispatch sent to it so far.

        Sends each connected session a HEARTBEAT request (op 1); discord.py answers at once
        with a heartbeat carrying the last sequence it handled, and handles gateway messages
        in order, so a heartbeat carrying the last sequence sent proves that every earlier
        dispatch went through discord.py's parsers (its `on_*` listeners are scheduled then,
        not necessarily finished)."""
        targets = [(s, s.seq) for s in self.sessions if s.connected and not s.ended]
        for session, _ in targets:
            assert session.connection is not None
            session.connection.queue.put_nowait({"op": 1, "d": None})
        await self.wait_until(
            lambda: all(s.acked_seq >= seq or s.ended for s, seq in targets), timeout
        )

    async def reconnect(self, shard_id: int | None = None) -> None:
        """Send RECONNECT (op 7): the client closes and RESUMEs at `resume_gateway_url`."""
        for session in self._targets(shard_id):
            assert session.connection is not None
            session.connection.queue.put_nowait({"op": 7, "d": None})

    async def disconnect(self, shard_id: int | None = None, *, code: int = 4000) -> None:
        """Close the sessions' sockets with `code` (4000: the client resumes; 4004: it gives
        up with an authentication failure)."""
        for session in self._targets(shard_id):
            assert session.connection is not None
            await session.connection.close(code)

    async def invalidate(self, shard_id: int | None = None, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION (op 9); not resumable: the client IDENTIFYs anew."""
        for session in self._targets(shard_id):
            assert session.connection is not None
            if not resumable:
                session.ended = True
            session.connection.queue.put_nowait({"op": 9, "d": resumable})

    def _targets(self, shard_id: int | None) -> list[GatewaySession]:
        return [
            s
            for s in self.sessions
            if s.connected and not s.ended and (shard_id is None or s.shard[0] == shard_id)
        ]

    # -- events the tests push --------------------------------------------------------------

    def dispatch(self, event: str, data: Any, *, guild_id: int | None = None) -> Dispatch:
        """Send a dispatch (op 0) to every session that should see it, and record it."""
        sent: list[str] = []
        for session in self.sessions:
            if not session.wants(event, guild_id):
                continue
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
                payload = self._scrub(session, data)
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": payload}
            session.backlog.append(frame)
            if session.connection is not None:
                session.connection.queue.put_nowait(frame)
            sent.append(session.session_id)
        record = Dispatch(event, data, guild_id, sent)
        self.dispatched.append(record)
        self._poke()
        return record

    def say(
        self,
        channel_id: int,
        author: Json,
        content: str = "",
        *,
        attachments: Sequence[str | Json] = (),
        embeds: Sequence[Json] = (),
        mentions: Sequence[Json] = (),
        reply_to: Json | int | None = None,
        forward: Json | None = None,
        components: Sequence[Json] = (),
        timestamp: datetime | None = None,
    ) -> Json:
        """A message from `author` (made a member if needed) → MESSAGE_CREATE. Attachments are
        file names ("photo.png", the content type is guessed) or partial attachment objects;
        `reply_to` makes a reply (type 19, `message_reference` + `referenced_message`);
        `forward` makes a forward of that message (reference type 1, `message_snapshots`)."""
        channel = self.channels[channel_id]
        if channel.guild_id is not None and int(author["id"]) not in (
            self.guilds[channel.guild_id].members
        ):
            self.add_member(channel.guild_id, author)
        message = self._message(channel, author, content, timestamp=timestamp)
        message["attachments"] = [self._attachment(a) for a in attachments]
        message["embeds"] = list(embeds)
        message["components"] = list(components)
        message["mentions"] = [self._mention(channel, u) for u in mentions]
        if reply_to is not None:
            referenced = self._resolve(channel, reply_to)
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": str(channel.id),
                **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
                "fail_if_not_exists": False,
            }
            message["referenced_message"] = referenced
            if referenced["author"]["id"] not in [u["id"] for u in message["mentions"]]:
                message["mentions"].append(self._mention(channel, referenced["author"]))
        if forward is not None:
            message["message_reference"] = {
                "type": 1,
                "message_id": forward["id"],
                "channel_id": forward["channel_id"],
                **({"guild_id": forward["guild_id"]} if forward.get("guild_id") else {}),
            }
            message["message_snapshots"] = [
                {
                    "message": {
                        key: forward.get(key)
                        for key in (
                            "type",
                            "content",
                            "embeds",
                            "attachments",
                            "timestamp",
                            "edited_timestamp",
                            "flags",
                            "mentions",
                            "mention_roles",
                            "components",
                            "sticker_items",
                        )
                        if key in forward
                    }
                }
            ]
            message["flags"] = 1 << 14  # HAS_SNAPSHOT
        channel.messages[int(message["id"])] = message
        self.dispatch("MESSAGE_CREATE", message, guild_id=channel.guild_id)
        return message

    def edit(self, channel_id: int, message_id: int, content: str, **changes: Any) -> Json:
        """The author edits a message → MESSAGE_UPDATE (the full message, as Discord sends)."""
        channel = self.channels[channel_id]
        message = channel.messages[message_id]
        message.update(changes, content=content, edited_timestamp=self.now().isoformat())
        self.dispatch("MESSAGE_UPDATE", message, guild_id=channel.guild_id)
        return message

    def delete(self, channel_id: int, message_id: int) -> Json:
        """The author (or a moderator) deletes a message → MESSAGE_DELETE."""
        channel = self.channels[channel_id]
        self.deleted.add((channel_id, message_id))
        data = self._delete_event(channel, message_id)
        self.dispatch("MESSAGE_DELETE", data, guild_id=channel.guild_id)
        return data

    def join(self, guild_id: int, user: Json, *, roles: Iterable[int] = ()) -> Json:
        """`user` joins → GUILD_MEMBER_ADD."""
        member = self.add_member(guild_id, user, roles=roles)
        data = {**member.json(), "guild_id": str(guild_id)}
        self.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild_id)
        return data

    def leave(self, guild_id: int, user_id: int) -> Json:
        """The member leaves → GUILD_MEMBER_REMOVE."""
        member = self.guilds[guild_id].members.pop(user_id)
        data = {"guild_id": str(guild_id), "user": member.user}
        self.dispatch("GUILD_MEMBER_REMOVE", data, guild_id=guild_id)
        return data

    def update_member(
        self,
        guild_id: int,
        user_id: int,
        *,
        roles: Iterable[int] | None = None,
        nick: str | None = None,
    ) -> Json:
        """Someone else (an admin) changes the member's roles or nickname →
        GUILD_MEMBER_UPDATE."""
        member = self.guilds[guild_id].members[user_id]
        if roles is not None:
            member.roles = list(roles)
        if nick is not None:
            member.nick = nick
        return self._member_update(guild_id, member)

    def react(self, channel_id: int, message_id: int, user: Json, emoji: str = "👍") -> Json:
        """`user` reacts → MESSAGE_REACTION_ADD. `emoji` is a unicode emoji or "name:id"."""
        channel = self.channels[channel_id]
        message = channel.messages[message_id]
        name, _, emoji_id = emoji.partition(":")
        data: Json = {
            "type": 0,
            "user_id": user["id"],
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "message_author_id": message["author"]["id"],
            "emoji": {"id": emoji_id or None, "name": name},
            "burst": False,
            "burst_colors": [],
        }
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            member = self.guilds[channel.guild_id].members.get(int(user["id"]))
            if member is not None:
                data["member"] = member.json()
        self.dispatch("MESSAGE_REACTION_ADD", data, guild_id=channel.guild_id)
        return data

    def slash(
        self,
        guild_id: int,
        channel_id: int,
        user: Json,
        name: str,
        options: Mapping[str, Any] | Sequence[Json] | None = None,
        *,
        permissions: int | None = None,
    ) -> Json:
        """`user` runs the slash command `name` → INTERACTION_CREATE (type 2). `options` are
        raw option objects, or a mapping name → value (str, int, bool, float, or a user JSON
        for a USER option, resolved as Discord does). `permissions` overrides the member's
        computed permissions."""
        guild = self.guilds[guild_id]
        command = next((c for c in guild.commands if c["name"] == name), None) or next(
            (c for c in self.global_commands if c["name"] == name), None
        )
        resolved: Json = {}
        data: Json = {
            "id": command["id"] if command else str(self.snowflake()),
            "name": name,
            "type": 1,
            "guild_id": str(guild_id),
            "options": self._options(guild, options, resolved),
        }
        if resolved:
            data["resolved"] = resolved
        return self._interaction(2, guild_id, channel_id, user, data, permissions=permissions)

    def press(
        self,
        channel_id: int,
        message_id: int,
        user: Json,
        custom_id: str,
        *,
        permissions: int | None = None,
    ) -> Json:
        """`user` presses the button `custom_id` on a message → INTERACTION_CREATE (type 3)."""
        channel = self.channels[channel_id]
        message = channel.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interaction(
            3,
            channel.guild_id,
            channel_id,
            user,
            data,
            message=message,
            permissions=permissions,
        )

    def automod(
        self,
        guild_id: int,
        user: Json,
        channel_id: int,
        content: str,
        *,
        keyword: str,
        matched_content: str | None = None,
        rule_id: int | None = None,
        message_id: int | None = None,
        action_type: int = 1,
        trigger_type: int = 1,
    ) -> Json:
        """AutoMod acted on `user`'s message → AUTO_MODERATION_ACTION_EXECUTION. Action type 1
        (block message) has no message id: the message never existed."""
        action: Json = {"type": action_type, "metadata": {}}
        if action_type == 2:
            action["metadata"] = {"channel_id": str(channel_id)}
        elif action_type == 3:
            action["metadata"] = {"duration_seconds": 60}
        data: Json = {
            "guild_id": str(guild_id),
            "action": action,
            "rule_id": str(rule_id or self.snowflake()),
            "rule_trigger_type": trigger_type,
            "user_id": user["id"],
            "channel_id": str(channel_id),
            "content": content,
            "matched_keyword": keyword,
            "matched_content": matched_content if matched_content is not None else keyword,
        }
        if message_id is not None:
            data["message_id"] = str(message_id)
        self.dispatch("AUTO_MODERATION_ACTION_EXECUTION", data, guild_id=guild_id)
        return data

    # -- payload builders -------------------------------------------------------------------

    def _message(
        self,
        channel: FakeChannel,
        author: Json,
        content: str,
        *,
        timestamp: datetime | None = None,
    ) -> Json:
        moment = timestamp or self.now()
        message: Json = {
            "id": str(self.snowflake(timestamp)),
            "type": 0,
            "channel_id": str(channel.id),
            "author": author,
            "content": content,
            "timestamp": moment.isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": "@everyone" in content or "@here" in content,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
            member = self.guilds[channel.guild_id].members.get(int(author["id"]))
            if member is not None:
                message["member"] = member.json(with_user=False)
        return message

    def _mention(self, channel: FakeChannel, user: Json) -> Json:
        mention = dict(user)
        if channel.guild_id is not None:
            member = self.guilds[channel.guild_id].members.get(int(user["id"]))
            if member is not None:
                mention["member"] = member.json(with_user=False)
        return mention

    def _attachment(self, attachment: str | Json) -> Json:
        partial: Json = {"filename": attachment} if isinstance(attachment, str) else attachment
        filename = str(partial.get("filename", "file.bin"))
        attachment_id = self.snowflake()
        url = f"https://cdn.discordapp.com/attachments/0/{attachment_id}/{filename}"
        full: Json = {
            "id": str(attachment_id),
            "filename": filename,
            "size": 1024,
            "url": url,
            "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
            "content_type": _content_type(filename),
        }
        if full["content_type"].startswith("image/"):
            full.update(width=640, height=480)
        full.update(partial)
        return full

    def _resolve(self, channel: FakeChannel, message: Json | int) -> Json:
        message_id = int(message["id"]) if isinstance(message, dict) else message
        return channel.messages[message_id]

    def _member_update(self, guild_id: int, member: FakeMember) -> Json:
        data = {**member.json(), "guild_id": str(guild_id)}
        self.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=guild_id)
        return data

    def _delete_event(self, channel: FakeChannel, message_id: int) -> Json:
        data: Json = {"id": str(message_id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        return data

    def _scrub(self, session: GatewaySession, message: Json) -> Json:
        """Without the MESSAGE_CONTENT intent a bot sees no content of others' guild
        messages, unless they mention it."""
        if session.intents & Intent.MESSAGE_CONTENT or "guild_id" not in message:
            return message
        if message["author"]["id"] == self.bot["id"]:
            return message
        if any(u["id"] == self.bot["id"] for u in message.get("mentions", [])):
            return message
        scrubbed = {**message, "content": "", "embeds": [], "attachments": [], "components": []}
        if "message_snapshots" in scrubbed:
            scrubbed["message_snapshots"] = [
                {"message": {**s["message"], "content": "", "embeds": [], "attachments": []}}
                for s in scrubbed["message_snapshots"]
            ]
        return scrubbed

    def _options(
        self, guild: FakeGuild, options: Mapping[str, Any] | Sequence[Json] | None, resolved: Json
    ) -> list[Json]:
        if options is None:
            return []
        if not isinstance(options, Mapping):
            return list(options)
        built: list[Json] = []
        for name, value in options.items():
            if isinstance(value, dict) and "username" in value:
                resolved.setdefault("users", {})[value["id"]] = value
                member = guild.members.get(int(value["id"]))
                if member is not None:
                    resolved.setdefault("members", {})[value["id"]] = {
                        **member.json(with_user=False),
                        "permissions": str(self.permissions(guild.id, member.id)),
                    }
                built.append({"name": name, "type": 6, "value": value["id"]})
            elif isinstance(value, bool):
                built.append({"name": name, "type": 5, "value": value})
            elif isinstance(value, int):
                built.append({"name": name, "type": 4, "value": value})
            elif isinstance(value, float):
                built.append({"name": name, "type": 10, "value": value})
            else:
                built.append({"name": name, "type": 3, "value": str(value)})
        return built

    def _interaction(
        self,
        kind: int,
        guild_id: int | None,
        channel_id: int,
        user: Json,
        data: Json,
        *,
        message: Json | None = None,
        permissions: int | None = None,
    ) -> Json:
        channel = self.channels[channel_id]
        interaction_id = self.snowflake()
        token = f"interaction-token-{interaction_id}"
        interaction: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel_id": str(channel_id),
            "channel": {**channel.json()},
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10485760,
            "context": 0 if guild_id is not None else 1,
        }
        if guild_id is not None:
            guild = self.guilds[guild_id]
            member = guild.members.get(int(user["id"])) or self.add_member(guild_id, user)
            value = self.permissions(guild_id, member.id) if permissions is None else permissions
            interaction["guild_id"] = str(guild_id)
            interaction["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            interaction["guild_locale"] = "en-US"
            interaction["member"] = {**member.json(), "permissions": str(value)}
            interaction["app_permissions"] = str(self.permissions(guild_id, self.bot_id))
            interaction["authorizing_integration_owners"] = {"0": str(guild_id)}
        else:
            interaction["user"] = user
            interaction["app_permissions"] = str(EVERYONE_PERMISSIONS)
            interaction["authorizing_integration_owners"] = {"1": user["id"]}
        if message is not None:
            interaction["message"] = message
        self.interactions[interaction_id] = interaction
        self.dispatch("INTERACTION_CREATE", interaction, guild_id=guild_id)
        return interaction

    # -- gateway ----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            await ws.close(code=4000, message=f"unsupported compression {compress}".encode())
            return ws
        connection = _Connection(ws, request.path, zlib.compressobj() if compress else None)
        self._live.add(connection)
        self.connections.append(request.path)
        connection.writer = asyncio.get_running_loop().create_task(self._write(connection))
        connection.queue.put_nowait(
            {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}}
        )
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue  # discord.py sends text frames only
                await self._on_frame(connection, json.loads(frame.data))
        finally:
            self._live.discard(connection)
            session = connection.session
            if session is not None:
                if session.connection is connection:
                    session.connection = None
                if ws.close_code in (1000, 1001) and not connection.closed_by_server:
                    session.ended = True  # the client's clean close ends it, as on Discord
            connection.queue.put_nowait(None)
            if connection.writer is not None:
                connection.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connection.writer
            await self._notify()
        return ws

    async def _write(self, connection: _Connection) -> None:
        while True:
            frame = await connection.queue.get()
            if frame is None or connection.ws.closed:
                return
            text = json.dumps(frame)
            try:
                if connection.compressor is not None:
                    data = connection.compressor.compress(text.encode())
                    data += connection.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await connection.ws.send_bytes(data)
                else:
                    await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _on_frame(self, connection: _Connection, payload: Json) -> None:
        op = payload.get("op")
        data: Any = payload.get("d")
        if op == 1:
            self.heartbeat_count += 1
            session = connection.session
            if session is not None:
                session.heartbeats.append(data)
                if isinstance(data, int):
                    session.acked_seq = max(session.acked_seq, data)
            connection.queue.put_nowait({"op": 11})
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)
        elif op == 8:
            self._request_members(connection, data)
        await self._notify()

    async def _identify(self, connection: _Connection, data: Json) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        shard_id, shard_count = data.get("shard") or (0, 1)
        session = GatewaySession(
            session_id=f"session-{self.snowflake()}",
            token=data["token"],
            intents=int(data.get("intents", 0)),
            shard=(int(shard_id), int(shard_count)),
            identify=data,
        )
        session.connection = connection
        connection.session = session
        self.sessions.append(session)
        guilds = [g for g in self.guilds.values() if (g.id >> 22) % shard_count == shard_id]
        ready: Json = {
            "v": API_VERSION,
            "user": self.bot,
            "user_settings": {},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "shard": [shard_id, shard_count],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
        }
        self._send_to(session, "READY", ready)
        for guild in guilds:
            self._send_to(session, "GUILD_CREATE", self._guild_create(guild, session))
        self.ready_count += 1

    def _send_to(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.backlog.append(frame)
        if session.connection is not None:
            session.connection.queue.put_nowait(frame)

    def _guild_create(self, guild: FakeGuild, session: GatewaySession) -> Json:
        everyone = self.full_member_list and bool(session.intents & Intent.GUILD_MEMBERS)
        members = [
            m.json()
            for m in guild.members.values()
            if everyone or m.id in (self.bot_id, guild.owner_id)
        ]
        bot = guild.members[self.bot_id]
        return {
            **guild.json(),
            "joined_at": bot.joined_at.isoformat(),
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": members,
            "channels": [self.channels[c].json() for c in guild.channel_ids],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
        }

    async def _resume(self, connection: _Connection, data: Json) -> None:
        session = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        if session is None or session.ended or data.get("token") != session.token:
            connection.queue.put_nowait({"op": 9, "d": False})
            return
        old = session.connection
        if old is not None and old is not connection:
            old.session = None
            with contextlib.suppress(Exception):
                await old.close(4000)
        session.connection = connection
        connection.session = session
        session.resumes += 1
        last = int(data.get("seq") or 0)
        for frame in session.backlog:
            if frame["s"] > last:
                connection.queue.put_nowait(frame)
        self._send_to(session, "RESUMED", {"_trace": ["fake-discord-gateway"]})

    def _request_members(self, connection: _Connection, data: Json) -> None:
        session = connection.session
        if session is None:
            return
        session.members_requests.append(data)
        guild = self.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user["username"].startswith(data["query"])]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": [m.json() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._send_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- REST -------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        method = request.method
        body, files = await _body(request)
        headers = {
            name: request.headers[name] for name in _RECORDED_HEADERS if name in request.headers
        }
        route, params = _match(method, path)
        call = Call(
            method, path, route or f"{method} ?", params, dict(request.query), body, headers
        )
        self.calls.append(call)
        try:
            if route is None:
                raise DiscordError(404, 0, "404: Not Found")
            if not path.startswith(_UNAUTHENTICATED) and (
                request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                raise DiscordError(401, 0, "401: Unauthorized")
            injected = self._failures.get(route) or self._failures.get(route.split(" ", 1)[1])
            if injected:
                raise injected.pop(0)
            handler: Callable[[_Request], Awaitable[Any]] = getattr(self, _handler_name(route))
            result = await handler(_Request(call, params, body, dict(request.query), files))
        except DiscordError as exc:
            call.status = exc.status
            await self._notify()
            return _error(exc)
        except (KeyError, ValueError) as exc:
            call.status = 400
            await self._notify()
            return _error(DiscordError(400, 50035, f"Invalid Form Body ({exc})"))
        if result is None:
            call.status = 204
            await self._notify()
            return web.Response(status=204)
        call.status = 200
        await self._notify()
        return _json_response(result, 200)

    def _guild_of(self, request: _Request) -> FakeGuild:
        guild = self.guilds.get(request.id("guild_id"))
        if guild is None:
            raise unknown("Guild", 10004)
        return guild

    def _channel_of(self, request: _Request) -> FakeChannel:
        channel = self.channels.get(request.id("channel_id"))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def _member_of(self, guild: FakeGuild, user_id: int) -> FakeMember:
        member = guild.members.get(user_id)
        if member is None:
            raise unknown("Member", 10007)
        return member

    def _require(self, guild: FakeGuild, permission: int) -> None:
        if not self.permissions(guild.id, self.bot_id) & permission:
            raise missing_permissions()

    def _require_above(self, guild: FakeGuild, user_id: int) -> None:
        """The bot may act on a member only below its own highest role, never on the
        owner."""
        if user_id == guild.owner_id:
            raise missing_permissions()
        if user_id in guild.members and self.top_position(guild.id, user_id) >= self.top_position(
            guild.id, self.bot_id
        ):
            raise missing_permissions()

    async def _api_get_users_me(self, request: _Request) -> Json:
        return self.bot

    async def _api_get_users_user_id(self, request: _Request) -> Json:
        user = self.users.get(request.id("user_id"))
        if user is None:
            raise unknown("User", 10013)
        return user

    async def _api_get_oauth2_applications_me(self, request: _Request) -> Json:
        return {
            "id": str(self.application_id),
            "name": self.bot["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": self.bot,
            "owner": {**next(iter(self.users.values())), "flags": 0},
            "team": None,
            "rpc_origins": [],
            "redirect_uris": [],
            "tags": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    _api_get_applications_me = _api_get_oauth2_applications_me

    async def _api_get_gateway(self, request: _Request) -> Json:
        return {"url": self.gateway_url}

    async def _api_get_gateway_bot(self, request: _Request) -> Json:
        return {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": 1,
            },
        }

    async def _api_post_users_me_channels(self, request: _Request) -> Json:
        user_id = int(request.body["recipient_id"])
        user = self.users.get(user_id)
        if user is None:
            raise unknown("User", 10013)
        return self.dm_channel(user).json()

    async def _api_get_channels_channel_id(self, request: _Request) -> Json:
        return self._channel_of(request).json()

    async def _api_get_channels_channel_id_messages(self, request: _Request) -> list[Json]:
        channel = self._channel_of(request)
        limit = int(request.query.get("limit", 50))
        return list(reversed(self.messages(channel.id)))[:limit]

    async def _api_get_channels_channel_id_messages_message_id(self, request: _Request) -> Json:
        channel = self._channel_of(request)
        message = self.message(channel.id, request.id("message_id"))
        if message is None:
            raise unknown("Message", 10008)
        return message

    async def _api_post_channels_channel_id_messages(self, request: _Request) -> Json:
        channel = self._channel_of(request)
        body: Json = request.body or {}
        if channel.type == 1:
            assert channel.recipient is not None
            if int(channel.recipient["id"]) in self.dms_closed:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
        elif not self.permissions(channel.guild_id or 0, self.bot_id) & (Permission.SEND_MESSAGES):
            raise missing_permissions()
        content = str(body.get("content") or "")
        if not (content or body.get("embeds") or request.files or body.get("components")):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        if len(content) > 2000:
            raise invalid_form(
                "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
            )
        message = self._message(channel, self.bot, content)
        message["embeds"] = body.get("embeds") or []
        message["components"] = body.get("components") or []
        message["attachments"] = [self._attachment(f) for f in request.files]
        message["tts"] = bool(body.get("tts"))
        if body.get("flags"):
            message["flags"] = int(body["flags"])
        reference = body.get("message_reference")
        if reference:
            referenced = channel.messages.get(int(reference["message_id"]))
            exists = referenced is not None and (channel.id, int(referenced["id"])) not in (
                self.deleted
            )
            if exists:
                assert referenced is not None
                message["type"] = 19
                message["message_reference"] = {
                    "type": 0,
                    "message_id": referenced["id"],
                    "channel_id": str(channel.id),
                    **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
                }
                message["referenced_message"] = referenced
            elif reference.get("fail_if_not_exists", True):
                raise invalid_form(
                    "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
        return self._store_sent(channel, message)

    def _store_sent(self, channel: FakeChannel, message: Json) -> Json:
        channel.messages[int(message["id"])] = message
        self.sent.append(message)
        if self.echo:
            self.dispatch("MESSAGE_CREATE", message, guild_id=channel.guild_id)
        return message

    async def _api_patch_channels_channel_id_messages_message_id(self, request: _Request) -> Json:
        channel = self._channel_of(request)
        message = self.message(channel.id, request.id("message_id"))
        if message is None:
            raise unknown("Message", 10008)
        if message["author"]["id"] != self.bot["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body: Json = request.body or {}
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key] if body[key] is not None else message[key]
        message["edited_timestamp"] = self.now().isoformat()
        if self.echo:
            self.dispatch("MESSAGE_UPDATE", message, guild_id=channel.guild_id)
        return message

    async def _api_delete_channels_channel_id_messages_message_id(self, request: _Request) -> None:
        channel = self._channel_of(request)
        message_id = request.id("message_id")
        message = self.message(channel.id, message_id)
        if message is None:
            raise unknown("Message", 10008)
        if message["author"]["id"] != self.bot["id"]:
            if channel.guild_id is None:
                raise DiscordError(403, 50003, "Cannot execute action on a DM channel")
            self._require(self.guilds[channel.guild_id], Permission.MANAGE_MESSAGES)
        self.deleted.add((channel.id, message_id))
        if self.echo:
            self.dispatch(
                "MESSAGE_DELETE", self._delete_event(channel, message_id), guild_id=channel.guild_id
            )

    async def _api_post_channels_channel_id_messages_bulk_delete(self, request: _Request) -> None:
        channel = self._channel_of(request)
        if channel.guild_id is None:
            raise DiscordError(403, 50003, "Cannot execute action on a DM channel")
        self._require(self.guilds[channel.guild_id], Permission.MANAGE_MESSAGES)
        ids = [int(i) for i in request.body["messages"]]
        if not 2 <= len(ids) <= 100:
            raise invalid_form("messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100")
        oldest = self.now() - timedelta(days=14)
        for message_id in ids:
            moment = datetime.fromtimestamp(((message_id >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)
            if moment < oldest:
                raise DiscordError(
                    400, 50034, "You can only bulk delete messages that are under 14 days old."
                )
        self._bulk_delete(channel, ids)

    def _bulk_delete(self, channel: FakeChannel, ids: list[int]) -> None:
        gone = [i for i in ids if self.message(channel.id, i) is not None]
        self.deleted.update((channel.id, i) for i in gone)
        if self.echo and gone:
            self.dispatch(
                "MESSAGE_DELETE_BULK",
                {
                    "ids": [str(i) for i in gone],
                    "channel_id": str(channel.id),
                    "guild_id": str(channel.guild_id),
                },
                guild_id=channel.guild_id,
            )

    async def _api_put_channels_channel_id_messages_message_id_reactions_emoji_me(
        self, request: _Request
    ) -> None:
        channel = self._channel_of(request)
        if self.message(channel.id, request.id("message_id")) is None:
            raise unknown("Message", 10008)
        self.reactions.append(
            {
                "channel_id": channel.id,
                "message_id": request.id("message_id"),
                "emoji": unquote(request.params["emoji"]),
            }
        )

    async def _api_post_channels_channel_id_typing(self, request: _Request) -> None:
        self._channel_of(request)

    async def _api_get_guilds_guild_id(self, request: _Request) -> Json:
        guild = self._guild_of(request)
        return {
            **guild.json(),
            "approximate_member_count": len(guild.members),
            "approximate_presence_count": 0,
        }

    async def _api_get_guilds_guild_id_channels(self, request: _Request) -> list[Json]:
        guild = self._guild_of(request)
        return [self.channels[c].json() for c in guild.channel_ids]

    async def _api_get_guilds_guild_id_roles(self, request: _Request) -> list[Json]:
        return [r.json() for r in self._guild_of(request).roles.values()]

    async def _api_get_guilds_guild_id_members(self, request: _Request) -> list[Json]:
        guild = self._guild_of(request)
        after = int(request.query.get("after", 0))
        limit = int(request.query.get("limit", 1))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return [m.json() for m in members[:limit]]

    async def _api_get_guilds_guild_id_members_user_id(self, request: _Request) -> Json:
        guild = self._guild_of(request)
        return self._member_of(guild, request.id("user_id")).json()

    async def _api_patch_guilds_guild_id_members_user_id(self, request: _Request) -> Json:
        guild = self._guild_of(request)
        user_id = request.id("user_id")
        member = self._member_of(guild, user_id)
        body: Json = request.body or {}
        until: datetime | None = member.communication_disabled_until
        if "communication_disabled_until" in body:
            self._require(guild, Permission.MODERATE_MEMBERS)
            self._require_above(guild, user_id)
            if self.permissions(guild.id, user_id) & Permission.ADMINISTRATOR:
                raise missing_permissions()  # administrators cannot be timed out
            raw = body["communication_disabled_until"]
            until = None if raw is None else datetime.fromisoformat(raw)
            if until is not None and until.tzinfo is None:
                until = until.replace(tzinfo=UTC)
            if until is not None and until > self.now() + MAX_TIMEOUT:
                raise invalid_form(
                    "communication_disabled_until",
                    "INVALID_COMMUNICATION_DISABLED_TIMESTAMP",
                    "Invalid communication disabled timestamp",
                )
        roles = member.roles
        if "roles" in body:
            self._require(guild, Permission.MANAGE_ROLES)
            roles = [int(r) for r in body["roles"]]
            bot_top = self.top_position(guild.id, self.bot_id)
            for role_id in set(roles) ^ set(member.roles):
                role = guild.roles.get(role_id)
                if role is None:
                    raise unknown("Role", 10011)
                if role.position >= bot_top or role.managed:
                    raise missing_permissions()
        nick = member.nick
        if "nick" in body:
            if user_id != self.bot_id:
                self._require(guild, Permission.MANAGE_NICKNAMES)
                self._require_above(guild, user_id)
            nick = body["nick"]
        member.communication_disabled_until, member.roles, member.nick = until, roles, nick
        if self.echo:
            self._member_update(guild.id, member)
        return member.json()

    async def _api_delete_guilds_guild_id_members_user_id(self, request: _Request) -> None:
        guild = self._guild_of(request)
        user_id = request.id("user_id")
        self._require(guild, Permission.KICK_MEMBERS)
        member = self._member_of(guild, user_id)
        self._require_above(guild, user_id)
        del guild.members[user_id]
        if self.echo:
            self.dispatch(
                "GUILD_MEMBER_REMOVE",
                {"guild_id": str(guild.id), "user": member.user},
                guild_id=guild.id,
            )

    async def _role_change(self, request: _Request, add: bool) -> None:
        guild = self._guild_of(request)
        self._require(guild, Permission.MANAGE_ROLES)
        member = self._member_of(guild, request.id("user_id"))
        role = guild.roles.get(request.id("role_id"))
        if role is None:
            raise unknown("Role", 10011)
        if role.position >= self.top_position(guild.id, self.bot_id) or role.managed:
            raise missing_permissions()
        if add and role.id not in member.roles:
            member.roles.append(role.id)
        elif not add and role.id in member.roles:
            member.roles.remove(role.id)
        else:
            return
        if self.echo:
            self._member_update(guild.id, member)

    async def _api_put_guilds_guild_id_members_user_id_roles_role_id(
        self, request: _Request
    ) -> None:
        await self._role_change(request, add=True)

    async def _api_delete_guilds_guild_id_members_user_id_roles_role_id(
        self, request: _Request
    ) -> None:
        await self._role_change(request, add=False)

    async def _api_get_guilds_guild_id_bans(self, request: _Request) -> list[Json]:
        guild = self._guild_of(request)
        self._require(guild, Permission.BAN_MEMBERS)
        return [{"user": b.user, "reason": b.reason} for b in guild.bans.values()]

    async def _api_get_guilds_guild_id_bans_user_id(self, request: _Request) -> Json:
        guild = self._guild_of(request)
        self._require(guild, Permission.BAN_MEMBERS)
        ban = guild.bans.get(request.id("user_id"))
        if ban is None:
            raise unknown("Ban", 10026)
        return {"user": ban.user, "reason": ban.reason}

    async def _api_put_guilds_guild_id_bans_user_id(self, request: _Request) -> None:
        guild = self._guild_of(request)
        user_id = request.id("user_id")
        self._require(guild, Permission.BAN_MEMBERS)
        self._require_above(guild, user_id)
        body: Json = request.body if isinstance(request.body, dict) else {}
        raw: Any = request.query.get("delete_message_seconds")
        if raw is None:
            raw = body.get("delete_message_seconds")
        if raw is None and "delete_message_days" in body:
            raw = int(body["delete_message_days"]) * 86400
        seconds = int(raw or 0)
        if not 0 <= seconds <= 604800:
            raise invalid_form(
                "delete_message_seconds",
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 604800.",
            )
        user = self.users.get(user_id)
        if user is None:
            raise unknown("User", 10013)
        guild.bans[user_id] = Ban(user, request.call.reason, seconds, self.now())
        if seconds:
            since = self.now() - timedelta(seconds=seconds)
            for channel_id in guild.channel_ids:
                channel = self.channels[channel_id]
                ids = [
                    int(m["id"])
                    for m in self.messages(channel_id)
                    if int(m["author"]["id"]) == user_id
                    and datetime.fromisoformat(m["timestamp"]) >= since
                ]
                self._bulk_delete(channel, ids)
        member = guild.members.pop(user_id, None)
        if self.echo:
            if member is not None:
                self.dispatch(
                    "GUILD_MEMBER_REMOVE",
                    {"guild_id": str(guild.id), "user": user},
                    guild_id=guild.id,
                )
            self.dispatch(
                "GUILD_BAN_ADD", {"guild_id": str(guild.id), "user": user}, guild_id=guild.id
            )

    async def _api_delete_guilds_guild_id_bans_user_id(self, request: _Request) -> None:
        guild = self._guild_of(request)
        self._require(guild, Permission.BAN_MEMBERS)
        ban = guild.bans.pop(request.id("user_id"), None)
        if ban is None:
            raise unknown("Ban", 10026)
        if self.echo:
            self.dispatch(
                "GUILD_BAN_REMOVE", {"guild_id": str(guild.id), "user": ban.user}, guild_id=guild.id
            )

    async def _api_get_guilds_guild_id_auto_moderation_rules(self, request: _Request) -> list[Json]:
        self._require(self._guild_of(request), Permission.MANAGE_GUILD)
        return []

    def _interaction_of(self, interaction_id: int | None, token: str) -> Json:
        for interaction in self.interactions.values():
            if interaction["token"] == token and (
                interaction_id is None or int(interaction["id"]) == interaction_id
            ):
                return interaction
        raise unknown("interaction", 10062)

    async def _api_post_interactions_interaction_id_token_callback(
        self, request: _Request
    ) -> Json | None:
        interaction = self._interaction_of(request.id("interaction_id"), request.params["token"])
        interaction_id = int(interaction["id"])
        if interaction_id in self._responded:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        self._responded.add(interaction_id)
        body: Json = request.body or {}
        kind = int(body["type"])
        data: Json = body.get("data") or {}
        self.interaction_responses.append(
            {"interaction_id": interaction_id, "type": kind, "data": data}
        )
        channel = self.channels[int(interaction["channel_id"])]
        message: Json | None = None
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._message(channel, self.bot, str(data.get("content") or ""))
            message.update(
                embeds=data.get("embeds") or [],
                components=data.get("components") or [],
                flags=int(data.get("flags") or 0),
                interaction_metadata={
                    "id": interaction["id"],
                    "type": interaction["type"],
                    "user": interaction.get("member", {}).get("user") or interaction.get("user"),
                    "authorizing_integration_owners": interaction["authorizing_integration_owners"],
                },
            )
            if not message["flags"] & 64:  # ephemeral messages are not in the channel
                self._store_sent(channel, message)
            self._originals[interaction_id] = int(message["id"])
        elif kind == 7 and "message" in interaction:  # UPDATE_MESSAGE
            message = channel.messages[int(interaction["message"]["id"])]
            for key in ("content", "embeds", "components"):
                if key in data:
                    message[key] = data[key]
            message["edited_timestamp"] = self.now().isoformat()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return None
        answer: Json = {
            "interaction": {
                "id": interaction["id"],
                "type": interaction["type"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        else:
            answer["resource"] = {"type": kind}
        return answer

    async def _api_post_webhooks_application_id_token(self, request: _Request) -> Json | None:
        interaction = self._interaction_of(None, request.params["token"])
        if int(interaction["id"]) not in self._responded:
            raise unknown("Webhook", 10015)
        body: Json = request.body or {}
        channel = self.channels[int(interaction["channel_id"])]
        message = self._message(channel, self.bot, str(body.get("content") or ""))
        message.update(
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0),
            webhook_id=str(self.application_id),
            application_id=str(self.application_id),
        )
        self.followups.append(message)
        if not message["flags"] & 64:
            self._store_sent(channel, message)
        return message if request.query.get("wait") in ("1", "true", "True") else None

    def _webhook_message(self, request: _Request) -> tuple[FakeChannel, Json]:
        interaction = self._interaction_of(None, request.params["token"])
        channel = self.channels[int(interaction["channel_id"])]
        key = request.params["message_id"]
        if key == "@original":
            message_id = self._originals.get(int(interaction["id"]))
            if message_id is None:
                raise unknown("Message", 10008)
        else:
            message_id = int(key)
        message = channel.messages.get(message_id) or next(
            (m for m in self.followups if int(m["id"]) == message_id), None
        )
        if message is None:
            raise unknown("Message", 10008)
        return channel, message

    async def _api_get_webhooks_application_id_token_messages_message_id(
        self, request: _Request
    ) -> Json:
        return self._webhook_message(request)[1]

    async def _api_patch_webhooks_application_id_token_messages_message_id(
        self, request: _Request
    ) -> Json:
        _, message = self._webhook_message(request)
        body: Json = request.body or {}
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["edited_timestamp"] = self.now().isoformat()
        return message

    async def _api_delete_webhooks_application_id_token_messages_message_id(
        self, request: _Request
    ) -> None:
        channel, message = self._webhook_message(request)
        self.deleted.add((channel.id, int(message["id"])))

    def _command_list(self, request: _Request) -> list[Json]:
        if request.id("application_id") != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        if "guild_id" in request.params:
            return self._guild_of(request).commands
        return self.global_commands

    async def _api_get_applications_application_id_commands(self, request: _Request) -> list[Json]:
        return self._command_list(request)

    _api_get_applications_application_id_guilds_guild_id_commands = (
        _api_get_applications_application_id_commands
    )

    async def _api_put_applications_application_id_commands(self, request: _Request) -> list[Json]:
        current = self._command_list(request)
        guild_id = request.params.get("guild_id")
        known = {(c["name"], c["type"]): c["id"] for c in current}
        commands: list[Json] = []
        for raw in request.body:
            kind = int(raw.get("type", 1))
            command = {
                "id": known.get((raw["name"], kind)) or str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
                "type": kind,
                "name": raw["name"],
                "description": raw.get("description", ""),
                "options": raw.get("options", []),
                "default_member_permissions": raw.get("default_member_permissions"),
                "dm_permission": raw.get("dm_permission", True),
                "nsfw": raw.get("nsfw", False),
                "contexts": raw.get("contexts"),
                "integration_types": raw.get("integration_types", [0]),
                "name_localizations": raw.get("name_localizations"),
                "description_localizations": raw.get("description_localizations"),
            }
            if guild_id is not None:
                command["guild_id"] = guild_id
            commands.append(command)
        current[:] = commands
        return commands

    _api_put_applications_application_id_guilds_guild_id_commands = (
        _api_put_applications_application_id_commands
    )


_RECORDED_HEADERS = ("Authorization", "X-Audit-Log-Reason", "Content-Type", "User-Agent")
_STATUS_TEXT = {
    400: "Bad Request",
    401: "401: Unauthorized",
    403: "Missing Permissions",
    404: "404: Not Found",
    429: "You are being rate limited.",
    500: "500: Internal Server Error",
}


def _handler_name(route: str) -> str:
    method, template = route.split(" ", 1)
    words = re.sub(r"[{}@]", "", template).replace("-", "_").strip("/").replace("/", "_")
    return f"_api_{method.lower()}_{words}"


def _match(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    for route, route_method, pattern in _COMPILED:
        if route_method != method:
            continue
        found = pattern.match(path)
        if found:
            return route, found.groupdict()
    return None, {}


async def _body(request: web.Request) -> tuple[Any, list[Json]]:
    """The JSON body (also from multipart's `payload_json`) and any uploaded files."""
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        body: Any = None
        files: list[Json] = []
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue  # discord.py sends no nested multiparts
            if part.name == "payload_json":
                body = json.loads(await part.text())
            else:
                data = await part.read()
                filename = part.filename or "file"
                files.append(
                    {
                        "filename": filename,
                        "size": len(data),
                        "content_type": part.headers.get("Content-Type") or _content_type(filename),
                    }
                )
        return body, files
    text = await request.text()
    return (json.loads(text) if text else None), []


def _error(exc: DiscordError) -> web.Response:
    body: Json = {"message": exc.message, "code": exc.code}
    if exc.errors:
        body["errors"] = exc.errors
    headers: dict[str, str] = {}
    if exc.status == 429:
        retry = exc.retry_after or 0.0
        body["retry_after"] = retry
        body["global"] = exc.is_global
        headers = {
            "Via": "1.1 google",  # without it discord.py takes a 429 for a Cloudflare ban
            "Retry-After": str(max(1, round(retry))),
            "X-RateLimit-Scope": "global" if exc.is_global else "user",
        }
        if exc.is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry:.3f}",
                    "X-RateLimit-Bucket": "fake-bucket",
                }
            )
    return _json_response(body, exc.status, headers)


def _json_response(
    body: Any, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    """discord.py parses a body as JSON only if the content type is exactly
    `application/json` (aiohttp would add `; charset=utf-8` to a text body)."""
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _content_type(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "webp": "image/webp",
        "mp4": "video/mp4",
        "mp3": "audio/mpeg",
        "ogg": "audio/ogg",
        "pdf": "application/pdf",
        "txt": "text/plain; charset=utf-8",
        "zip": "application/zip",
        "exe": "application/x-msdownload",
    }.get(extension, "application/octet-stream")
