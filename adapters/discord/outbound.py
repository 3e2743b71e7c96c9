"""Canonical actions → Discord REST calls, checked first against permissions and hierarchy.

Each action is checked against the bot's guild (or channel) permissions and the role hierarchy
before the call: Discord answers both "the bot lacks the permission" and "the member outranks
the bot" with the same 403, and only the first is something the admins can fix, so the check
is what lets the outcome say which. A member whose highest role is not below the bot's, or the
owner, is never acted on. The call goes through discord.py's HTTP client, which waits out 429s
itself; server errors and network failures are retried a bounded number of times; everything
else comes back as an `Outcome` naming the missing permission or the reason.

What Steward does on Discord, concretely: a mute is a timeout (`communication_disabled_until`,
at most 28 days; the executor renews longer ones) or, with `mute_role`, that role; a
restriction is the `restrict_role`; an unmute undoes whichever of those the member has and
nothing else; a ban purges a day of messages when the rule deleted spam, and a temporary ban is
a ban plus the executor's persisted unban job (Discord bans have no duration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

import aiohttp
import discord
from discord.http import handle_message_parameters

from adapters.discord.permissions import (
    PERMISSION_NAMES,
    Refusal,
    hierarchy_refusal,
    matches_role,
)
from adapters.discord.translate import INTERACTION_PREFIX
from bot.actions import (
    Action,
    Ban,
    Button,
    Delete,
    DirectMessage,
    Kick,
    MemberAction,
    Mute,
    NotifyAdmins,
    Restrict,
    Send,
    Unban,
    Unmute,
    Warn,
)
from bot.adapter import Failure, Outcome
from bot.clock import Clock
from bot.config import DiscordConfig

# Discord's longest timeout; the executor renews longer mutes (Capabilities.max_mute).
MAX_TIMEOUT = timedelta(days=28)
# A ban's purge window when the rule asks to delete the member's recent messages.
BAN_PURGE_SECONDS = 24 * 60 * 60
# Interactions can be followed up for 15 minutes after they were created.
INTERACTION_LIFETIME = timedelta(minutes=15)


class Connection(Protocol):
    """What the outbound side needs from the adapter that owns the gateway connection."""

    client: discord.Client | None

    async def guild_of(self, chat: str) -> discord.Guild | None: ...

    def interaction(self, key: str) -> tuple[discord.Interaction, bool] | None: ...

    async def chat_gone(self, chat: str) -> None: ...


class Outbound:
    def __init__(
        self,
        connection: Connection,
        config: DiscordConfig,
        clock: Clock,
        *,
        retries: int,
        backoff: float,
    ) -> None:
        self.connection = connection
        self.config = config
        self.clock = clock
        self.retries = retries
        self.backoff = backoff

    async def perform(self, action: Action) -> Outcome:
        client = self.connection.client
        if client is None or not client.is_ready():
            return Outcome.failed(Failure.TEMPORARY, "not connected to Discord")
        if isinstance(action, DirectMessage):
            return await self._attempt(action, lambda: self._direct_message(action))
        if isinstance(action, Send) and action.reply_to.startswith(INTERACTION_PREFIX):
            answered = await self._answer_interaction(action)
            if answered is not None:
                return answered
        guild = await self.connection.guild_of(action.chat)
        if guild is None:
            return Outcome.failed(
                Failure.NOT_FOUND, f"Steward is not in a Discord server with channel {action.chat}"
            )
        try:
            refusal = await self._check(guild, action)
        except discord.HTTPException as exc:
            return await self._failed(action, exc)
        if refusal is not None:
            return Outcome.failed(refusal.failure, refusal.reason)
        return await self._attempt(action, lambda: self._call(guild, action))

    async def _attempt(self, action: Action, call: Callable[[], Awaitable[str]]) -> Outcome:
        for attempt in range(self.retries + 1):
            try:
                note = await call()
            except (discord.DiscordServerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                if attempt == self.retries:
                    return Outcome.failed(
                        Failure.TEMPORARY, f"Discord did not answer ({_describe(exc)})"
                    )
                await asyncio.sleep(self.backoff * 2**attempt)
                continue
            except discord.HTTPException as exc:
                return await self._failed(action, exc)
            except _GoneError as exc:
                return Outcome.failed(Failure.NOT_FOUND, str(exc))
            except _RefusedError as exc:
                return Outcome.failed(exc.refusal.failure, exc.refusal.reason)
            return Outcome.done(note)
        return Outcome.failed(Failure.TEMPORARY, "gave up after retries")  # pragma: no cover

    async def _check(self, guild: discord.Guild, action: Action) -> Refusal | None:
        """Permissions and hierarchy, before the call: Discord's own 403 does not say which.

        An unmute is checked as it goes (`_unmute`): what it needs depends on what the member
        has, a timeout (Timeout Members) or a role (Manage Roles).
        """
        me = guild.me
        if me is None or isinstance(action, Unmute):
            return None  # not cached yet: let Discord decide
        perms = me.guild_permissions
        channel = guild.get_channel_or_thread(int(action.chat)) if action.chat.isdigit() else None
        here = channel.permissions_for(me) if channel is not None else perms
        if isinstance(action, Delete):
            return _needs(here.manage_messages, "manage_messages")
        if isinstance(action, Send | Warn | NotifyAdmins):
            return _needs(here.send_messages and here.view_channel, "send_messages")
        if not isinstance(action, MemberAction):
            return None
        if isinstance(action, Mute | Restrict):
            role_name = self._role_option(action)
            if role_name == "":
                return Refusal(
                    Failure.MISSING_RIGHT,
                    "Steward needs a role to restrict members with on Discord: create one that "
                    "denies what your rules take away and name it in "
                    "adapters.discord.restrict_role",
                )
            if role_name is not None:
                role = _find_role(guild, role_name)
                if role is None:
                    return Refusal(
                        Failure.MISSING_RIGHT,
                        f"Steward needs a role named {role_name} (adapters.discord."
                        f"{'mute' if isinstance(action, Mute) else 'restrict'}_role): "
                        "create it or fix the setting",
                    )
                missing = _needs(perms.manage_roles, "manage_roles")
                if missing is not None:
                    return missing
                if role >= me.top_role:
                    return Refusal(
                        Failure.MISSING_RIGHT,
                        f"Steward's role must be above the '{role.name}' role: move it higher "
                        "in Server Settings → Roles",
                    )
            else:
                missing = _needs(perms.moderate_members, "moderate_members")
                if missing is not None:
                    return missing
        elif isinstance(action, Kick):
            missing = _needs(perms.kick_members, "kick_members")
            if missing is not None:
                return missing
        elif isinstance(action, Ban | Unban):
            missing = _needs(perms.ban_members, "ban_members")
            if missing is not None:
                return missing
        if isinstance(action, Mute | Restrict | Kick | Ban):
            member = await self._member(guild, action.user)
            if member is not None:
                return hierarchy_refusal(guild, me, member, action.kind)
        return None

    def _role_option(self, action: Mute | Restrict) -> str | None:
        """The role a mute or restriction gives; None: a timeout; "": none configured."""
        if isinstance(action, Mute):
            return self.config.mute_role
        return self.config.restrict_role or ""

    async def _member(self, guild: discord.Guild, user: str) -> discord.Member | None:
        if not user.isdigit():
            return None
        member = guild.get_member(int(user))
        if member is not None:
            return member
        try:
            return await guild.fetch_member(int(user))
        except discord.NotFound:
            return None

    async def _call(self, guild: discord.Guild, action: Action) -> str:
        http = self._http()
        reason = action.reason[:512] or None
        if isinstance(action, Delete):
            await http.delete_message(int(action.chat), int(action.message_id), reason=reason)
        elif isinstance(action, Send):
            await self._send(
                int(action.chat), guild.id, action.text, action.reply_to, action.buttons
            )
        elif isinstance(action, Warn):
            await self._send(int(action.chat), guild.id, action.text, "", ())
        elif isinstance(action, NotifyAdmins):
            return await self._notify(guild, action)
        elif isinstance(action, Mute):
            return await self._mute(guild, action, reason)
        elif isinstance(action, Restrict):
            role = _find_role(guild, self.config.restrict_role or "")
            assert role is not None  # `_check` refused otherwise
            await http.add_role(guild.id, int(action.user), role.id, reason=reason)
            if action.until is not None:
                return "Discord roles have no duration; Steward lifts it when due"
        elif isinstance(action, Unmute):
            return await self._unmute(guild, action, reason)
        elif isinstance(action, Kick):
            await http.kick(int(action.user), guild.id, reason=reason)
        elif isinstance(action, Ban):
            purge = BAN_PURGE_SECONDS if action.delete_recent_messages else 0
            await http.ban(int(action.user), guild.id, delete_message_seconds=purge, reason=reason)
            if action.until is not None:  # the executor schedules unbans; this is a safeguard
                return "Discord bans have no duration; Steward lifts it when due"
        elif isinstance(action, Unban):
            try:
                await http.unban(int(action.user), guild.id, reason=reason)
            except discord.NotFound:
                return "was not banned"
        else:
            raise discord.DiscordException(f"unsupported action {action.kind.value}")
        return ""

    async def _mute(self, guild: discord.Guild, action: Mute, reason: str | None) -> str:
        http = self._http()
        if self.config.mute_role:
            role = _find_role(guild, self.config.mute_role)
            assert role is not None  # `_check` refused otherwise
            await http.add_role(guild.id, int(action.user), role.id, reason=reason)
            return ""
        now = self.clock.now()
        until = action.until
        note = ""
        if until is None or until - now > MAX_TIMEOUT:
            # The executor renews long mutes; only a mute "for good" gets here.
            until = now + MAX_TIMEOUT
            note = (
                "Discord timeouts last at most 28 days; set adapters.discord.mute_role "
                "for mutes without an end"
            )
        await http.edit_member(
            guild.id,
            int(action.user),
            communication_disabled_until=until.isoformat(),
            reason=reason,
        )
        return note

    async def _unmute(self, guild: discord.Guild, action: Unmute, reason: str | None) -> str:
        """Undo what a mute or a restriction did: the timeout, the mute role, the restrict
        role, whichever the member has; other roles are left alone."""
        http = self._http()
        try:  # asked afresh: the cache may lag behind the mute being undone
            member = await guild.fetch_member(int(action.user))
        except discord.NotFound:
            raise _GoneError("the member is no longer in the server") from None
        undone: list[str] = []
        me = guild.me
        perms = me.guild_permissions if me is not None else discord.Permissions.all()
        if member.timed_out_until is not None and member.timed_out_until > self.clock.now():
            _require(perms.moderate_members, "moderate_members")
            await http.edit_member(
                guild.id, member.id, communication_disabled_until=None, reason=reason
            )
            undone.append("timeout")
        for option in (self.config.mute_role, self.config.restrict_role):
            role = _find_role(guild, option) if option else None
            if role is not None and member.get_role(role.id) is not None:
                _require(perms.manage_roles, "manage_roles")
                await http.remove_role(guild.id, member.id, role.id, reason=reason)
                undone.append(f"role {role.name}")
        return "" if undone else "was not muted"

    async def _send(
        self, channel: int, guild: int, text: str, reply_to: str, buttons: tuple[Button, ...]
    ) -> None:
        client = self.connection.client
        assert client is not None
        target = client.get_partial_messageable(channel, guild_id=guild)
        reference = (
            discord.MessageReference(
                message_id=int(reply_to), channel_id=channel, fail_if_not_exists=False
            )
            if reply_to.isdigit()
            else None
        )
        view = _view(buttons)
        if view is not None:
            await target.send(text[:2000], reference=reference, view=view)  # type: ignore[arg-type]
        else:
            await target.send(text[:2000], reference=reference)  # type: ignore[arg-type]

    async def _notify(self, guild: discord.Guild, action: NotifyAdmins) -> str:
        """In the moderators-only channel of a Community server when Steward may post there,
        otherwise in the channel where it happened (a group's `log_chat` is used before this,
        by the core)."""
        channel = guild.public_updates_channel
        me = guild.me
        if channel is not None and me is not None and channel.permissions_for(me).send_messages:
            await self._send(channel.id, guild.id, action.text, "", action.buttons)
            return f"posted in #{channel.name}"
        await self._send(int(action.chat), guild.id, action.text, "", action.buttons)
        return ""

    async def _direct_message(self, action: DirectMessage) -> str:
        http = self._http()
        channel = await http.start_private_message(int(action.user))
        params = handle_message_parameters(content=action.text[:2000])
        await http.send_message(int(channel["id"]), params=params)
        return ""

    async def _answer_interaction(self, action: Send) -> Outcome | None:
        """A reply to a slash command goes back as its response; None when it cannot (too late,
        or not this process's interaction) and the reply should be an ordinary message."""
        entry = self.connection.interaction(action.reply_to[len(INTERACTION_PREFIX) :])
        if entry is None:
            return None
        interaction, ephemeral = entry
        if self.clock.now() - interaction.created_at > INTERACTION_LIFETIME:
            return None
        view = _view(action.buttons)
        try:
            if view is not None:
                await interaction.followup.send(action.text[:2000], ephemeral=ephemeral, view=view)
            else:
                await interaction.followup.send(action.text[:2000], ephemeral=ephemeral)
        except discord.NotFound:
            return None  # the token expired: say it in the channel instead
        except discord.HTTPException as exc:
            return await self._failed(action, exc)
        return Outcome.done("ephemeral reply" if ephemeral else "")

    async def _failed(self, action: Action, exc: discord.HTTPException) -> Outcome:
        code = exc.code
        refused = code == 50007 or isinstance(exc, discord.Forbidden)
        if isinstance(action, DirectMessage) and refused:
            return Outcome.failed(
                Failure.UNREACHABLE, "the member does not accept direct messages from Steward"
            )
        if isinstance(exc, discord.Forbidden):
            if code == 50001:
                return Outcome.failed(
                    Failure.MISSING_RIGHT, f"Steward needs access to this channel ({exc.text})"
                )
            needed = _NEEDED.get(type(action), "")
            name = PERMISSION_NAMES.get(needed, "a permission it lacks")
            return Outcome.failed(Failure.MISSING_RIGHT, f"Steward needs {name} ({exc.text})")
        if isinstance(exc, discord.NotFound):
            if code in (10003, 10004):  # Unknown Channel / Unknown Guild: we are not there
                await self.connection.chat_gone(action.chat)
                return Outcome.failed(Failure.NOT_FOUND, f"the channel is gone ({exc.text})")
            return Outcome.failed(Failure.NOT_FOUND, exc.text or "not found")
        if exc.status == 429:
            return Outcome.failed(Failure.TEMPORARY, f"rate limited by Discord ({exc.text})")
        return Outcome.failed(Failure.OTHER, f"Discord refused: {exc.text or exc.status}")

    def _http(self) -> discord.http.HTTPClient:
        if self.connection.client is None:
            raise aiohttp.ClientConnectionError("not connected to Discord")
        return self.connection.client.http


_NEEDED: dict[type[Action], str] = {
    Delete: "manage_messages",
    Send: "send_messages",
    Warn: "send_messages",
    NotifyAdmins: "send_messages",
    Mute: "moderate_members",
    Unmute: "moderate_members",
    Restrict: "manage_roles",
    Kick: "kick_members",
    Ban: "ban_members",
    Unban: "ban_members",
}


def _needs(has: bool, permission: str) -> Refusal | None:
    if has:
        return None
    return Refusal(Failure.MISSING_RIGHT, f"Steward needs {PERMISSION_NAMES[permission]}")


def _find_role(guild: discord.Guild, wanted: str) -> discord.Role | None:
    if not wanted:
        return None
    return next((r for r in guild.roles if matches_role(r, [wanted])), None)


def _view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """Buttons as a view that discord.py does not keep: presses arrive as interactions the
    adapter turns into `ButtonPress` events, so no callback needs to live in memory."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:25]:
        if button.url:
            view.add_item(discord.ui.Button(label=button.text[:80], url=button.url))
        else:
            custom_id = (button.data or button.text)[:100]
            view.add_item(discord.ui.Button(label=button.text[:80], custom_id=custom_id))
    view.stop()  # finished views are not stored by discord.py (see Messageable.send)
    return view


def _describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"{exc.status} {exc.text}".strip()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _GoneError(Exception):
    """What an action was about no longer exists (found out before calling Discord)."""


class _RefusedError(Exception):
    """An action found half-way that Steward lacks a permission it needs."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


def _require(has: bool, permission: str) -> None:
    refusal = _needs(has, permission)
    if refusal is not None:
        raise _RefusedError(refusal)
