"""The Discord adapter: discord.py's gateway client in, REST calls out.

Inbound, discord.py parses each gateway dispatch and calls `Client.dispatch`; the adapter's
client overrides it to translate the events Steward cares about *synchronously, in the order
they arrived*, and queue them (with host notices such as "admins changed") for one pump task
that hands them to the host. Raw events are used where discord.py's cache would otherwise drop
them (edits of uncached messages, members who leave, reactions on old messages). Interactions
(slash commands, buttons) must be answered within three seconds, so they are acknowledged first
(a deferred response) and then submitted; a slash command's replies go back as follow-ups of
that interaction (ephemeral for what concerns the member alone, and when a non-admin tries an
admin command). Events Discord gives no id (reactions, leaves) are identified by their place in
the gateway session (`_gateway_mark`). If the gateway connection ends for good after start-up,
the adapter logs an ERROR saying what to do and reports itself down (`down`, `wait_lost`).

Outbound, actions are checked and performed by `outbound.py`; the adapter gives it the client,
the channel → guild map and the slash commands waiting for their answer.

Admin status (`admins`) is per guild: the owner, Administrator, Manage Server, and configured
`moderator_roles`, computed from the member cache once; a member whose roles change (or who
joins or leaves) is checked alone and the list patched, and it is recomputed only when a role's
admin-relevant settings, the owner or the session change (the host's per-channel cache is told
for every channel of the guild).

Options: `shards` starts an `AutoShardedClient`; `api_url` replaces `discord.http.Route.BASE`
and `gateway_url` `DiscordWebSocket.DEFAULT_GATEWAY` (both are class attributes of discord.py,
so they hold for the whole process; they are restored on stop). Without `gateway_url` but with
`api_url`, the gateway URL is asked from `GET /gateway/bot` through that base, which is what a
REST proxy such as nirn-proxy forwards to Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.common import remember as _remember
from adapters.discord import commands as slash
from adapters.discord.outbound import Outbound
from adapters.discord.permissions import is_admin_member, matches_role
from adapters.discord.translate import (
    DM_BUTTON_PREFIX,
    PLATFORM,
    automod_event,
    button_event,
    canonical_user,
    dm_button_press,
    join_event,
    leave_event,
    message_event,
    reaction_event,
    slash_event,
)
from bot.actions import (
    Action,
    ActionKind,
)
from bot.adapter import Failure, Host, Outcome
from bot.capabilities import DISCORD, Capabilities
from bot.clock import Clock
from bot.commands import ADMIN
from bot.config import DiscordConfig
from bot.events import AnyEvent, ButtonPress, User

log = logging.getLogger("steward.discord")

INTENTS = discord.Intents(
    guilds=True,
    members=True,
    messages=True,
    message_content=True,
    reactions=True,
    auto_moderation_execution=True,
)
REMEMBERED = 10_000
# Slash commands awaiting the core's answer: each holds a live interaction (its token answers
# for 15 minutes), so fewer are kept than plain ids.
INTERACTIONS = 1_000
# The executions of one blocked message (one per AutoMod rule that blocked it) arrive within
# moments; a member sending the same blocked text again a few seconds later is a new attempt.
AUTOMOD_GROUPING = timedelta(seconds=2)
AUTOMOD_BLOCKS = frozenset(
    {
        discord.AutoModRuleActionType.block_message,
        discord.AutoModRuleActionType.block_member_interactions,
    }
)
MESSAGE_EVENTS = frozenset({"message", "raw_message_edit"})
# Slash commands answered privately (ephemeral) whoever uses them.
PRIVATE_ANSWERS = frozenset({"report", "appeal", "strikes", "help"})

Thunk = Callable[[], Awaitable[None]]


class DiscordAdapter:
    platform = PLATFORM

    def __init__(
        self,
        config: DiscordConfig,
        clock: Clock,
        *,
        retries: int = 1,
        backoff: float = 0.5,
        ready_timeout: float = 60.0,
        guild_ready_timeout: float = 2.0,
        sync_commands: bool = True,
    ) -> None:
        if not config.token:
            raise ValueError("the Discord adapter needs a bot token (DISCORD_BOT_TOKEN)")
        if isinstance(config.shards, int) and config.shards < 1:
            raise ValueError("adapters.discord.shards is a number of shards (1 or more) or auto")
        self.config = config
        self.clock = clock
        self.ready_timeout = ready_timeout
        self.guild_ready_timeout = guild_ready_timeout
        self.sync_commands = sync_commands
        self.capabilities: Capabilities = (
            # A mute role has no duration of its own: Steward schedules its end, for any length.
            dataclasses.replace(
                DISCORD,
                max_mute=None,
                renews_mutes=False,
                untimed=DISCORD.untimed | {ActionKind.MUTE},
            )
            if config.mute_role
            else DISCORD
        )
        self.client: discord.Client | None = None
        self.tree: app_commands.CommandTree[discord.Client] | None = None
        self.host: Host | None = None
        self._me = User("", "Steward", "", is_bot=True)
        self._inbox: asyncio.Queue[Thunk] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Slash commands between their arrival and the end of their callback (see `handed_over`).
        self._pending_slash: dict[int, asyncio.Future[None]] = {}
        self._interactions: OrderedDict[str, tuple[discord.Interaction, bool]] = OrderedDict()
        self._automod_seen: OrderedDict[tuple[int, int, str], tuple[datetime, str]] = OrderedDict()
        # Channels (and threads) seen per guild: chat ids are channels, admin status and
        # notices are per guild, so "the guild's admins changed" concerns all of these.
        self._channel_guild: dict[str, int] = {}
        self._admins: dict[int, frozenset[str]] = {}
        self._synced: set[int] = set()
        self._local_marks = 0  # see `_gateway_mark`
        # Why the gateway connection ended for good after start-up (see `_gateway_ended`).
        self.down: str | None = None
        self._stopping = False
        self._lost = asyncio.Event()
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._outbound = Outbound(self, config, clock, retries=retries, backoff=backoff)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self.host = host
        self.down, self._stopping = None, False
        self._lost.clear()
        self._apply_endpoints()
        client = self._make_client()
        self.client = client
        tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
        for command in slash.build(self._slash):
            tree.add_command(command)
        tree.on_error = self._tree_error  # type: ignore[method-assign]
        self.tree = tree
        self._pump = asyncio.create_task(self._run_pump(), name="steward-discord-pump")
        try:
            await self._connect(client)
        except discord.LoginFailure:
            await self.stop()
            raise ConnectionError(
                "Discord refused the bot token: copy it again from the Developer Portal "
                "(Applications → your application → Bot → Reset Token) into DISCORD_BOT_TOKEN"
            ) from None
        except discord.PrivilegedIntentsRequired:
            await self.stop()
            raise ConnectionError(
                "Discord refused the privileged intents Steward needs: turn on Message Content "
                "Intent and Server Members Intent in the Developer Portal (Applications → your "
                "application → Bot → Privileged Gateway Intents)"
            ) from None
        except BaseException:
            await self.stop()
            raise
        assert client.user is not None
        self._me = User(str(client.user.id), client.user.display_name, client.user.name, True)
        log.info("connected to Discord as %s in %d guild(s)", client.user.name, len(client.guilds))

    async def _connect(self, client: discord.Client) -> None:
        await client.login(self.config.token or "")
        await self._discover_gateway(client)
        self._runner = asyncio.create_task(
            client.connect(reconnect=True), name="steward-discord-gateway"
        )
        ready = asyncio.ensure_future(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._runner}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if self._runner in done and ready not in done:
            ready.cancel()
            self._runner.result()  # the reason it stopped (bad token, intents …)
            raise ConnectionError("the connection to Discord's gateway ended at start-up")
        # From now on the gateway's end is news: see `_gateway_ended`.
        self._runner.add_done_callback(self._gateway_ended)
        if ready in done:
            return
        # Still connecting (a bot in many guilds waits for all of them): carry on, events flow
        # as they come, and actions report TEMPORARY until discord.py is ready.
        ready.add_done_callback(_log_ready)
        log.warning("Discord is not ready after %.0f s; continuing to connect", self.ready_timeout)

    def _gateway_ended(self, runner: asyncio.Task[None]) -> None:
        """The gateway connection ended while Steward was running, not because it stopped.

        discord.py reconnects and resumes by itself after network trouble, so its connection
        ends only for good: the token was reset (close code 4004), intents or sharding were
        refused, or an error nobody handled. Nothing on Discord is moderated any more, so this
        must not go unnoticed: an ERROR in the log says why and what to do, every action
        reports the reason (`down`), and `wait_lost` returns it, for whoever runs the adapter
        to stop the process with a failure status so that a supervisor restarts it (a restart
        with a bad token then fails at start-up, with the same explanation).
        """
        if self._stopping:
            return
        exc = None if runner.cancelled() else runner.exception()
        reason = gateway_failure(exc)
        self.down = reason
        log.error("Steward is no longer connected to Discord: %s", reason)
        self._lost.set()

    async def wait_lost(self) -> str:
        """Return once the gateway connection has ended for good (see `_gateway_ended`),
        with the reason and what to do."""
        await self._lost.wait()
        return self.down or ""

    def _make_client(self) -> discord.Client:
        options: dict[str, Any] = {
            "intents": INTENTS,
            "max_messages": None,  # raw events make the message cache unnecessary
            "guild_ready_timeout": self.guild_ready_timeout,
            "allowed_mentions": discord.AllowedMentions(everyone=False, roles=False, users=True),
        }
        shards = self.config.shards
        if shards is None:
            return _Client(self, **options)
        count = shards if isinstance(shards, int) else None
        return _ShardedClient(self, shard_count=count, **options)

    def _apply_endpoints(self) -> None:
        if self.config.api_url or self.config.gateway_url:
            self._saved_endpoints = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self.config.api_url:
            Route.BASE = self.config.api_url.rstrip("/")
        if self.config.gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    async def _discover_gateway(self, client: discord.Client) -> None:
        """The gateway a REST base points to, and the shard count Discord recommends.

        A plain `Client` never asks (it connects to `DEFAULT_GATEWAY`); `AutoShardedClient`
        asks only without a shard count and then ignores `gateway_url`. So Steward asks once
        itself when it must, and gives discord.py both answers.
        """
        need_url = bool(self.config.api_url) and not self.config.gateway_url
        auto = self.config.shards == "auto"
        if not need_url and not auto:
            return
        shards, url, _ = await client.http.get_bot_gateway()
        if need_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        if auto and isinstance(client, discord.AutoShardedClient):
            client.shard_count = shards

    async def stop(self) -> None:
        self._stopping = True
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(BaseException):
                await self._runner
            self._runner = None
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._inbox.join(), timeout=5)
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        for task in list(self._tasks):
            task.cancel()
        for future in self._pending_slash.values():
            if not future.done():
                future.cancel()
        self._pending_slash.clear()
        if self._saved_endpoints is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    def me(self) -> User:
        return self._me

    def scope_of(self, chat: str) -> str:
        """The guild of a channel: admin notices and admin lists are per guild."""
        guild = self._guild_id(chat)
        return str(guild) if guild is not None else chat

    async def handed_over(self) -> None:
        """Wait until every dispatch discord.py has parsed so far reached the host (tests)."""
        while True:
            await self._inbox.join()
            waiting: list[asyncio.Future[Any]] = [t for t in self._tasks if not t.done()]
            waiting += [f for f in self._pending_slash.values() if not f.done()]
            if not waiting:
                if self._inbox.empty():
                    return
                continue
            await asyncio.gather(*waiting, return_exceptions=True)

    # -- inbound ----------------------------------------------------------------------------

    def on_dispatch(self, event: str, args: tuple[Any, ...]) -> None:
        """Called by the client for every dispatch, in gateway order, before any await."""
        try:
            self._route(event, args)
        except Exception:  # a malformed event must not stop the others
            log.exception("could not read the %s event; skipped", event)

    def _route(self, event: str, args: tuple[Any, ...]) -> None:
        client = self.client
        if client is None or self.host is None:
            return
        me = client.user.id if client.user is not None else 0
        now = self.clock.now()
        if event in MESSAGE_EVENTS:
            edited = event == "raw_message_edit"
            message: discord.Message = args[0].message if edited else args[0]
            if edited and message.edited_at is None:
                return  # an embed resolved, a pin: nobody edited anything
            if message.guild is None:
                return  # direct messages are not moderated
            self._note_channel(message.channel.id, message.guild.id)
            found = message_event(message, edited=edited, now=now, me=me)
            if found is not None:
                self._submit(found)
        elif event == "member_join":
            member: discord.Member = args[0]
            if is_admin_member(member, member.guild, self.config.moderator_roles):
                self._member_admin(member.guild.id, member.id, admin=True)
            if member.id != me and not member.bot:
                self._submit(join_event(member, now))
        elif event == "raw_member_remove":
            payload: discord.RawMemberRemoveEvent = args[0]
            if str(payload.user.id) in self._admins.get(payload.guild_id, frozenset()):
                self._member_admin(payload.guild_id, payload.user.id, admin=False)
            guild = client.get_guild(payload.guild_id)
            if guild is not None and payload.user.id != me and not payload.user.bot:
                mark = self._gateway_mark(payload.guild_id, now)
                self._submit(leave_event(guild, payload.user, now, mark=mark))
        elif event in ("raw_reaction_add", "raw_reaction_remove"):
            self._reaction(args[0], me, now)
        elif event == "interaction":
            self._interaction(args[0])
        elif event == "automod_action":
            self._automod(args[0], now)
        elif event == "member_update":
            before, after = args
            if before.roles != after.roles:
                moderators = self.config.moderator_roles
                admin = is_admin_member(after, after.guild, moderators)
                if admin != is_admin_member(before, after.guild, moderators):
                    self._member_admin(after.guild.id, after.id, admin=admin)
        elif event == "guild_role_update":
            before, after = args
            if self._admin_bits(before) != self._admin_bits(after):
                self._admins_changed(after.guild.id)  # rare: recomputed once, when next asked
        elif event == "guild_role_delete":
            if any(self._admin_bits(args[0])):
                self._admins_changed(args[0].guild.id)
        # guild_role_create: a new role has no members yet; they get it by a member_update.
        elif event == "guild_update":
            before, after = args
            if before.owner_id != after.owner_id:
                self._admins_changed(after.id)
        elif event == "guild_join":
            self._spawn(self._sync_guild(args[0]))
        elif event == "ready":  # a new session: whatever was cached may have changed
            for guild_id in list(self._admins):
                self._admins_changed(guild_id)
            self._spawn(self._sync_all())
        elif event == "guild_remove":
            self._guild_gone(args[0])
        elif event == "guild_channel_delete":
            channel = args[0]
            self._queue(lambda: self.chat_gone(str(channel.id)))

    def _submit(self, event: AnyEvent) -> None:
        host = self.host
        if host is None:
            return
        if event.chat.space:
            self._note_channel(int(event.chat.id), int(event.chat.space))
        self._queue(lambda: host.submit(event))

    def _queue(self, thunk: Thunk) -> None:
        self._inbox.put_nowait(thunk)

    async def _run_pump(self) -> None:
        while True:
            thunk = await self._inbox.get()
            try:
                await thunk()
            except Exception:
                log.exception("handing a Discord event to Steward failed")
            finally:
                self._inbox.task_done()

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _note_channel(self, channel: int, guild: int) -> None:
        self._channel_guild[str(channel)] = guild

    def _gateway_mark(self, guild_id: int | None, now: datetime) -> str:
        """Where the dispatch being parsed stands in its gateway session: the session id and
        the sequence number, which a RESUME replays unchanged and no other dispatch shares. It
        identifies events Discord gives no id (reactions, leaves): a replayed one is recognised
        by the pipeline, and add/remove/add within a second are three events.

        discord.py sets the sequence before it parses a dispatch, and the adapter is called
        synchronously by the parser (see `on_dispatch`), so the websocket's state is this
        dispatch's. Without it (not connected), a number unique in this process stands in.
        """
        client = self.client
        session: str | None = None
        sequence: int | None = None
        if client is not None:
            with contextlib.suppress(Exception):
                ws = client._get_websocket(guild_id)  # the guild's shard's connection
                session, sequence = ws.session_id, ws.sequence
        if session and sequence is not None:
            return f"{session}:{sequence}"
        self._local_marks += 1
        return f"local:{now.isoformat()}:{self._local_marks}"

    def _reaction(self, payload: discord.RawReactionActionEvent, me: int, now: datetime) -> None:
        client = self.client
        if client is None or payload.guild_id is None or payload.user_id == me:
            return
        guild = client.get_guild(payload.guild_id)
        person: discord.abc.User | None = payload.member
        if person is None and guild is not None:
            person = guild.get_member(payload.user_id)
        if person is None:
            person = client.get_user(payload.user_id)
        if person is not None and person.bot:
            return
        actor = canonical_user(person) if person is not None else User(str(payload.user_id))
        mark = self._gateway_mark(payload.guild_id, now)
        self._submit(reaction_event(payload, guild, actor, now, mark=mark))

    def _interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.application_command:
            # The command tree runs its callback in a task of its own; remember it until then.
            loop = asyncio.get_running_loop()
            self._pending_slash[interaction.id] = loop.create_future()
            return
        if interaction.type is not discord.InteractionType.component:
            return
        press = button_event(interaction, self.clock.now())
        if press is not None and interaction.guild_id is None:
            press = self._dm_press(press)  # a button of an admin notice sent to the owner
        if press is None:
            return

        async def acknowledge() -> None:
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.defer()  # "the button worked"; nothing is edited
            self._submit(press)

        self._spawn(acknowledge())

    def _dm_press(self, press: ButtonPress) -> ButtonPress | None:
        chat = press.data.removeprefix(DM_BUTTON_PREFIX).partition(":")[0]
        guild_id = self._guild_id(chat) if press.data.startswith(DM_BUTTON_PREFIX) else None
        client = self.client
        guild = client.get_guild(guild_id) if client is not None and guild_id else None
        return dm_button_press(press, guild)

    def _automod(self, execution: discord.AutoModAction, now: datetime) -> None:
        """A message AutoMod blocked becomes a blocked message (see `translate.automod_event`)."""
        if execution.action.type not in AUTOMOD_BLOCKS or self.client is None:
            return
        guild = self.client.get_guild(execution.guild_id)
        if guild is None:
            return
        event_id = self._automod_id(execution, now)
        member = guild.get_member(execution.user_id)
        if member is not None:
            if not member.bot:
                self._submit_automod(execution, guild, canonical_user(member), event_id, now)
            return

        async def look_up() -> None:  # not in the member cache: ask Discord who it was
            offender = User(str(execution.user_id))
            try:
                found = await guild.fetch_member(execution.user_id)
            except discord.HTTPException as exc:
                log.info("AutoMod acted on %s, who is not a member: %s", offender.id, exc)
            else:
                if found.bot:
                    return
                offender = canonical_user(found)
            self._submit_automod(execution, guild, offender, event_id, now)

        self._spawn(look_up())

    def _submit_automod(
        self,
        execution: discord.AutoModAction,
        guild: discord.Guild,
        offender: User,
        event_id: str,
        now: datetime,
    ) -> None:
        found = automod_event(execution, guild, offender, event_id, now)
        if found is not None:
            self._submit(found)

    def _automod_id(self, execution: discord.AutoModAction, now: datetime) -> str:
        """One id per blocked message: Discord gives an execution no id, and a blocked message
        has none either, so the channel, member and content identify it. One message blocked
        by several AutoMod rules comes as one execution per rule within moments; those (and a
        redelivery) reuse the first one's id."""
        digest = hashlib.sha256(execution.content.encode()).hexdigest()[:16]
        key = (execution.channel_id or 0, execution.user_id, digest)
        seen = self._automod_seen.get(key)
        if seen is not None and now - seen[0] <= AUTOMOD_GROUPING:
            return seen[1]
        event_id = f"automod:{execution.user_id}:{digest}:{now.isoformat()}"
        _remember(self._automod_seen, key, (now, event_id), REMEMBERED)
        return event_id

    # -- slash commands ---------------------------------------------------------------------

    async def _slash(
        self,
        interaction: discord.Interaction,
        name: str,
        args: tuple[str, ...],
        target: discord.abc.User | None,
        reply_to: str,
    ) -> None:
        """Acknowledge at once (Discord allows three seconds), then submit as a `Command`.

        Some answers are for the member's eyes only, decided here because the response's
        visibility is fixed when it is deferred: what concerns the member alone (`/report`,
        `/appeal`, `/strikes`, `/help`, the "Report to admins" menu: a report must not show
        who reported) and a non-admin's refused admin command. (Admins listed only in
        Steward's config are unknown to the adapter; their answers are then ephemeral too,
        which hides nothing from them.)
        """
        try:
            ephemeral = name in PRIVATE_ANSWERS or (
                name in ADMIN and not self._is_admin(interaction)
            )
            try:
                await interaction.response.defer(ephemeral=ephemeral, thinking=True)
            except discord.HTTPException as exc:
                log.warning(
                    "could not acknowledge /%s in server %s: %s", name, interaction.guild_id, exc
                )
                return
            _remember(
                self._interactions, str(interaction.id), (interaction, ephemeral), INTERACTIONS
            )
            event = slash_event(
                interaction,
                name,
                args,
                canonical_user(target) if target is not None else None,
                self.clock.now(),
                reply_to_message=reply_to,
            )
            if event is not None:
                self._submit(event)
        finally:
            self._slash_done(interaction.id)

    async def _tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.name if interaction.command is not None else "?"
        log.warning(
            "slash command /%s in server %s failed before reaching Steward: %s",
            command,
            interaction.guild_id,
            error,
        )
        self._slash_done(interaction.id)
        with contextlib.suppress(discord.HTTPException):
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    f"Steward could not read that command: {error}", ephemeral=True
                )

    def _slash_done(self, interaction_id: int) -> None:
        future = self._pending_slash.pop(interaction_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _is_admin(self, interaction: discord.Interaction) -> bool:
        user = interaction.user
        guild = interaction.guild
        if guild is None or not isinstance(user, discord.Member):
            return False
        return is_admin_member(user, guild, self.config.moderator_roles)

    async def _sync_all(self) -> None:
        client = self.client
        if client is None or not self.sync_commands:
            return
        for guild in list(client.guilds):
            await self._sync_guild(guild)

    async def _sync_guild(self, guild: discord.Guild) -> None:
        """Register the slash commands in one guild, once per process (a bulk overwrite, so
        a changed set replaces the old one)."""
        if self.tree is None or not self.sync_commands or guild.id in self._synced:
            return
        self._synced.add(guild.id)
        target = discord.Object(guild.id)
        self.tree.copy_global_to(guild=target)
        try:
            await self.tree.sync(guild=target)
        except discord.HTTPException as exc:
            self._synced.discard(guild.id)
            log.warning("could not register slash commands in guild %s: %s", guild.id, exc)

    # -- host notices -----------------------------------------------------------------------

    def _admin_bits(self, role: discord.Role) -> tuple[bool, bool, bool]:
        """What of a role decides who is an admin (see `is_admin_member`); a role update that
        changes none of it (a colour, another permission) changes nobody's status."""
        perms = role.permissions
        moderator = matches_role(role, self.config.moderator_roles)
        return perms.administrator, perms.manage_guild, moderator

    def _member_admin(self, guild: int, member: int, *, admin: bool) -> None:
        """One member became (or stopped being) an admin: the guild's list is patched, not
        recomputed over every member (113 ms at 20,000 members), and the host told."""
        cached = self._admins.get(guild)
        if cached is not None:
            self._admins[guild] = cached | {str(member)} if admin else cached - {str(member)}
        self._tell_admins_changed(guild)

    def _admins_changed(self, guild: int) -> None:
        """Anyone's status may have changed: recomputed over the members when next asked."""
        self._admins.pop(guild, None)
        self._tell_admins_changed(guild)

    def _tell_admins_changed(self, guild: int) -> None:
        host = self.host
        if host is None:
            return
        chats = [c for c, g in self._channel_guild.items() if g == guild] or [str(guild)]
        for chat in chats:
            self._queue(lambda chat=chat: host.admins_changed(PLATFORM, chat))  # type: ignore[misc]

    def _guild_gone(self, guild: discord.Guild) -> None:
        """Removed from a guild (kicked, banned, or the guild deleted): every channel of it."""
        self._admins.pop(guild.id, None)
        self._synced.discard(guild.id)
        chats = {str(c.id) for c in guild.channels}
        chats |= {c for c, g in self._channel_guild.items() if g == guild.id}
        for chat in sorted(chats):
            self._queue(lambda chat=chat: self.chat_gone(chat))  # type: ignore[misc]

    async def chat_gone(self, chat: str) -> None:
        self._channel_guild.pop(chat, None)
        if self.host is not None:
            await self.host.chat_gone(PLATFORM, chat)

    # -- admins -----------------------------------------------------------------------------

    async def admins(self, chat: str) -> frozenset[str]:
        """The owner, members with Administrator or Manage Server, and holders of a configured
        moderator role, computed from the member cache once per guild until something changes.
        """
        guild = await self.guild_of(chat)
        if guild is None:
            return frozenset()
        cached = self._admins.get(guild.id)
        if cached is not None:
            return cached
        if not guild.chunked:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(guild.chunk(), timeout=30)
        ids = {
            str(m.id)
            for m in guild.members
            if is_admin_member(m, guild, self.config.moderator_roles)
        }
        if guild.owner_id is not None:
            ids.add(str(guild.owner_id))
        result = frozenset(ids)
        self._admins[guild.id] = result
        return result

    def _guild_id(self, chat: str) -> int | None:
        known = self._channel_guild.get(chat)
        if known is not None:
            return known
        client = self.client
        if client is None or not chat.isdigit():
            return None
        channel = client.get_channel(int(chat))
        guild = getattr(channel, "guild", None)
        if isinstance(guild, discord.Guild):
            self._note_channel(int(chat), guild.id)
            return guild.id
        if client.get_guild(int(chat)) is not None:
            return int(chat)  # a guild-level chat (a guild without text channels)
        return None

    async def guild_of(self, chat: str) -> discord.Guild | None:
        client = self.client
        if client is None:
            return None
        guild_id = self._guild_id(chat)
        if guild_id is None and chat.isdigit():
            try:
                channel = await client.fetch_channel(int(chat))
            except discord.HTTPException:
                return None
            guild_id = getattr(getattr(channel, "guild", None), "id", None)
            if guild_id is not None:
                self._note_channel(int(chat), guild_id)
        return client.get_guild(guild_id) if guild_id is not None else None

    # -- outbound ---------------------------------------------------------------------------

    async def perform(self, action: Action) -> Outcome:
        if self.down is not None:
            return Outcome.failed(Failure.TEMPORARY, f"not connected to Discord: {self.down}")
        return await self._outbound.perform(action)

    def interaction(self, key: str) -> tuple[discord.Interaction, bool] | None:
        """A slash command this process deferred, by interaction id, with its visibility."""
        return self._interactions.get(key)


# Gateway close codes after which discord.py gives up, and what the person running Steward does.
GATEWAY_CLOSE_CODES = {
    4004: (
        "Discord refused the bot token (close code 4004: it was reset or revoked); copy the "
        "current one from the Developer Portal (Applications → your application → Bot → Reset "
        "Token) into DISCORD_BOT_TOKEN and restart Steward"
    ),
    4010: "Discord refused the shard settings (close code 4010); check adapters.discord.shards",
    4011: (
        "Discord requires sharding for this many servers (close code 4011); set "
        "adapters.discord.shards: auto and restart Steward"
    ),
    4012: "Discord refused the gateway version (close code 4012); upgrade Steward",
    4013: "Discord refused the gateway intents (close code 4013); upgrade Steward",
    4014: (
        "Discord refused the privileged intents Steward needs (close code 4014): turn on "
        "Message Content Intent and Server Members Intent in the Developer Portal "
        "(Applications → your application → Bot → Privileged Gateway Intents) and restart "
        "Steward"
    ),
}


def gateway_failure(exc: BaseException | None) -> str:
    """Why the gateway connection ended for good, and what to do about it, in one line."""
    code = getattr(exc, "code", None)
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        code = 4014
    if isinstance(code, int) and code in GATEWAY_CLOSE_CODES:
        return GATEWAY_CLOSE_CODES[code]
    if exc is None:
        what = "the gateway connection closed and discord.py did not reconnect"
    elif isinstance(code, int):
        what = f"the gateway closed the connection with code {code} ({exc})"
    else:
        what = f"the gateway connection failed: {type(exc).__name__}: {exc}"
    return f"{what}; restart Steward (under a supervisor, it restarts it), and check the log above"


def _log_ready(ready: asyncio.Future[None]) -> None:
    if not ready.cancelled():
        log.info("Discord is ready")


class _HandsOver(discord.Client):
    """discord.py's client, handing every dispatch to the adapter as it is parsed."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._steward = adapter

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        super().dispatch(event, *args, **kwargs)
        self._steward.on_dispatch(event, args)


class _Client(_HandsOver):
    """One gateway connection: what `steward run` starts without `shards`."""


class _ShardedClient(_HandsOver, discord.AutoShardedClient):
    """The same for bots in many guilds (`shards`): discord.py's sharded client."""
