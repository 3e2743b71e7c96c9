"""Canonical actions → Discord REST calls, checked first against permissions and hierarchy.

Each action is checked against the bot's guild (or channel) permissions and the role hierarchy
before the call: Discord answers both "the bot lacks the permission" and "the member outranks
the bot" with the same 403, and only the first is something the admins can fix, so the check
is what lets the outcome say which. A member whose highest role is not below the bot's, or the
owner, is never acted on. The call goes through discord.py's HTTP client, which waits out 429s
and retries server errors itself; only a failed connection is tried once more here; everything
else comes back as an `Outcome` naming the missing permission or the reason.

What Steward does on Discord, concretely: a mute is a timeout (`communication_disabled_until`,
at most 28 days, asked a few minutes short of that so a clock ahead of Discord's is not refused;
the executor renews longer ones a day before they end) or, with `mute_role`, that role; a
restriction is the `restrict_role`; an unmute lifts the timeout and the mute role, whichever the
member has, and at a mute's timed end only what Steward's mutes apply (so it leaves alone a
timeout a moderator or AutoMod gave); an unrestriction takes the restrict role back and nothing
else; a ban purges a day of messages when the rule deleted spam, and a temporary ban is a ban
plus the executor's persisted unban job (Discord bans have no duration). Member actions accept
a server id as their chat as well as a channel id: the executor's timed jobs act on the server,
which outlives the channel the punishment was given in.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

import aiohttp
import discord
from discord.http import handle_message_parameters

from adapters.common import with_retries
from adapters.discord.permissions import (
    PERMISSION_NAMES,
    Refusal,
    hierarchy_refusal,
    matches_role,
)
from adapters.discord.translate import INTERACTION_PREFIX, dm_button_data
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
    Unrestrict,
    Warn,
)
from bot.adapter import Failure, Outcome
from bot.clock import Clock
from bot.config import DiscordConfig

log = logging.getLogger("steward.discord")

# Discord's longest timeout; the executor renews longer mutes (Capabilities.max_mute).
MAX_TIMEOUT = timedelta(days=28)
# Timeouts ask for this much less than 28 days: Discord refuses anything beyond 28 days by its
# own clock, and ours may be a little ahead.
TIMEOUT_MARGIN = timedelta(minutes=5)
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
        # Servers whose admin notices could not be delivered (logged once, see `_notify`).
        self._owner_unreachable: set[int] = set()

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
                Failure.NOT_FOUND,
                f"Steward is not in a Discord server with channel or id {action.chat}",
            )
        try:
            refusal = await self._check(guild, action)
        except discord.HTTPException as exc:
            return await self._failed(action, exc)
        if refusal is not None:
            return Outcome.failed(refusal.failure, refusal.reason)
        return await self._attempt(action, lambda: self._call(guild, action))

    async def _attempt(self, action: Action, call: Callable[[], Awaitable[str]]) -> Outcome:
        """The call, repeated only after a connection-level failure (`retries` times, once by
        default): the request may not have reached Discord. A server error is not repeated
        here: discord.py already retries 500, 502, 504 and 524 five times over 25 s, and a loop
        around that multiplied it into more than a minute per action during an outage, with
        the guild's other events waiting behind it. The executor decides what a TEMPORARY
        failure leads to."""
        try:
            note = await with_retries(
                call,
                retries=self.retries,
                backoff=self.backoff,
                transient=lambda exc: isinstance(exc, _CONNECTION_ERRORS),
            )
        except discord.DiscordServerError as exc:
            return Outcome.failed(Failure.TEMPORARY, f"Discord did not answer ({_describe(exc)})")
        except discord.HTTPException as exc:
            return await self._failed(action, exc)
        except _CONNECTION_ERRORS as exc:
            return Outcome.failed(
                Failure.TEMPORARY, f"Discord could not be reached ({_describe(exc)})"
            )
        except aiohttp.ClientError as exc:  # a broken answer: the call may have worked
            return Outcome.failed(
                Failure.TEMPORARY, f"Discord's answer was unreadable ({_describe(exc)})"
            )
        except _GoneError as exc:
            return Outcome.failed(Failure.NOT_FOUND, str(exc))
        except _RefusedError as exc:
            return Outcome.failed(exc.refusal.failure, exc.refusal.reason)
        return Outcome.done(note)

    async def _check(self, guild: discord.Guild, action: Action) -> Refusal | None:
        """Permissions and hierarchy, before the call: Discord's own 403 does not say which.

        An unmute or unrestriction is checked as it goes (`_unmute`, `_unrestrict`): what it
        needs depends on what the member has, a timeout (Timeout Members) or a role (Manage
        Roles).
        """
        me = guild.me
        if me is None or isinstance(action, Unmute | Unrestrict):
            return None  # not cached yet: let Discord decide
        perms = me.guild_permissions
        channel = guild.get_channel_or_thread(int(action.chat)) if action.chat.isdigit() else None
        thread = isinstance(channel, discord.Thread)
        if isinstance(channel, discord.Thread) and channel.parent is None:
            # A thread's permissions are its parent channel's, which Steward cannot see
            # (discord.py would raise): say so rather than guess.
            return Refusal(
                Failure.MISSING_RIGHT,
                f"Steward cannot see the channel that thread {channel.name} belongs to "
                f"(id {channel.parent_id}): give it View Channel there",
            )
        here = channel.permissions_for(me) if channel is not None else perms
        if isinstance(action, Delete):
            return _needs(here.manage_messages, "manage_messages")
        if isinstance(action, NotifyAdmins):
            return None  # it never goes to this channel (see `_notify`)
        if isinstance(action, Send | Warn):
            if thread:  # posting in a thread takes its own permission, not Send Messages
                allowed = here.send_messages_in_threads and here.view_channel
                return _needs(allowed, "send_messages_in_threads")
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
        elif isinstance(action, Unrestrict):
            return await self._unrestrict(guild, action, reason)
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
        longest = MAX_TIMEOUT - TIMEOUT_MARGIN
        if until is None or until - now > longest:
            # The executor renews long mutes; only a mute "for good" gets here.
            until = now + longest
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
        """Lift a mute: the timeout and the mute role, whichever the member has. At a mute's
        timed end (`expired`) only what Steward's mutes apply: the mute role when one is
        configured (then a timeout is someone else's), else the timeout. The restrict role
        and other roles are left alone."""
        http = self._http()
        member = await self._fresh_member(guild, action.user)
        undone: list[str] = []
        me = guild.me
        perms = me.guild_permissions if me is not None else discord.Permissions.all()
        timeout = not (action.expired and self.config.mute_role)
        if (
            timeout
            and member.timed_out_until is not None
            and member.timed_out_until > self.clock.now()
        ):
            _require(perms.moderate_members, "moderate_members")
            await http.edit_member(
                guild.id, member.id, communication_disabled_until=None, reason=reason
            )
            undone.append("timeout")
        role = _find_role(guild, self.config.mute_role or "")
        if role is not None and member.get_role(role.id) is not None:
            _require(perms.manage_roles, "manage_roles")
            await http.remove_role(guild.id, member.id, role.id, reason=reason)
            undone.append(f"role {role.name}")
        return "" if undone else "was not muted"

    async def _unrestrict(
        self, guild: discord.Guild, action: Unrestrict, reason: str | None
    ) -> str:
        """Take the restrict role back; a mute (timeout or mute role) stays."""
        member = await self._fresh_member(guild, action.user)
        role = _find_role(guild, self.config.restrict_role or "")
        if role is None or member.get_role(role.id) is None:
            return "was not restricted"
        me = guild.me
        perms = me.guild_permissions if me is not None else discord.Permissions.all()
        _require(perms.manage_roles, "manage_roles")
        await self._http().remove_role(guild.id, member.id, role.id, reason=reason)
        return ""

    async def _fresh_member(self, guild: discord.Guild, user: str) -> discord.Member:
        """The member asked afresh: the cache may lag behind the punishment being undone."""
        if not user.isdigit():
            raise _GoneError(f"{user} is not a Discord member id")
        try:
            return await guild.fetch_member(int(user))
        except discord.NotFound:
            raise _GoneError("the member is no longer in the server") from None

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
        """For the admins' eyes only (a group's `log_chat` is used before this, by the core):
        the moderators-only channel of a Community server when Steward may post there,
        otherwise a direct message to the server's owner. Never the channel where it happened:
        an appeal quotes the deleted message and carries the Uphold/Pardon buttons, a report
        names the reporter. When the owner does not accept direct messages either, the log
        says so once per server and the outcome asks for a `log_chat`."""
        channel = guild.public_updates_channel
        me = guild.me
        if channel is not None and me is not None and channel.permissions_for(me).send_messages:
            await self._send(channel.id, guild.id, action.text, "", action.buttons)
            return f"posted in #{channel.name}"
        if guild.owner_id is None:
            raise _RefusedError(_NO_ADMIN_CHANNEL)
        # Buttons pressed in a direct message come back without a server: they carry the
        # channel the notice is about (see `translate.dm_button_data`).
        buttons = tuple(
            dataclasses.replace(b, data=dm_button_data(action.chat, b.data)) if b.data else b
            for b in action.buttons
        )
        http = self._http()
        try:
            dm = await http.start_private_message(guild.owner_id)
            params = handle_message_parameters(content=action.text[:2000], view=_view(buttons))
            await http.send_message(int(dm["id"]), params=params)
        except discord.HTTPException as exc:
            if isinstance(exc, discord.DiscordServerError):
                raise
            if guild.id not in self._owner_unreachable:
                self._owner_unreachable.add(guild.id)
                log.warning(
                    "admin notices of server %s (%s) cannot be delivered: it has no log_chat, "
                    "and its owner does not accept direct messages from Steward (%s); set "
                    "log_chat in the group's config",
                    guild.name,
                    guild.id,
                    exc.text or exc.status,
                )
            raise _RefusedError(_NO_ADMIN_CHANNEL) from None
        self._owner_unreachable.discard(guild.id)
        return "sent to the server owner by direct message"

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


_NO_ADMIN_CHANNEL = Refusal(
    Failure.UNREACHABLE,
    "no log_chat is configured for this server and its owner does not accept direct messages "
    "from Steward: set log_chat in the group's config so admin notices have a private place",
)
# Failures before Discord answered: no connection, a reset, a timeout.
_CONNECTION_ERRORS = (aiohttp.ClientConnectionError, OSError, TimeoutError)

_NEEDED: dict[type[Action], str] = {
    Delete: "manage_messages",
    Send: "send_messages",
    Warn: "send_messages",
    NotifyAdmins: "send_messages",
    Mute: "moderate_members",
    Unmute: "moderate_members",
    Restrict: "manage_roles",
    Unrestrict: "manage_roles",
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
