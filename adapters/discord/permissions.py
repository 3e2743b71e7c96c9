"""Who may do what on Discord: admin status, role hierarchy, and permission names for people.

Discord answers a forbidden call with 403 "Missing Permissions" whether the bot lacks the
permission or the member outranks it; checking first lets Steward say which, and never try to
act on a member above it (the owner, or anyone whose highest role is not below the bot's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import discord

from bot.actions import ActionKind
from bot.adapter import Failure

# discord.py's permission attributes → the names Discord's settings show.
PERMISSION_NAMES = {
    "manage_messages": "the Manage Messages permission",
    "send_messages": "the Send Messages permission in this channel",
    "send_messages_in_threads": "the Send Messages in Threads permission in this thread's channel",
    "moderate_members": "the Timeout Members permission",
    "manage_roles": "the Manage Roles permission",
    "kick_members": "the Kick Members permission",
    "ban_members": "the Ban Members permission",
}
_VERBS = {
    ActionKind.MUTE: "muted",
    ActionKind.RESTRICT: "restricted",
    ActionKind.KICK: "kicked",
    ActionKind.BAN: "banned",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    failure: Failure
    reason: str


def matches_role(role: discord.Role, entries: Iterable[str]) -> bool:
    """A configured role, written as its id or its name (case-insensitive, `@` optional)."""
    for entry in entries:
        wanted = entry.strip()
        if wanted.isdigit() and int(wanted) == role.id:
            return True
        if role.name.casefold() == wanted.lstrip("@").casefold():
            return True
    return False


def is_admin_member(
    member: discord.Member, guild: discord.Guild, moderator_roles: Iterable[str]
) -> bool:
    """The owner, Administrator, Manage Server, or a configured moderator role."""
    if member.id == guild.owner_id:
        return True
    perms = member.guild_permissions
    if perms.administrator or perms.manage_guild:
        return True
    roles = list(moderator_roles)
    return bool(roles) and any(matches_role(role, roles) for role in member.roles)


def hierarchy_refusal(
    guild: discord.Guild, me: discord.Member, member: discord.Member, kind: ActionKind
) -> Refusal | None:
    """Why Discord would not let Steward act on `member`, if it would not."""
    verb = _VERBS.get(kind, "acted on")
    if member.id == guild.owner_id:
        return Refusal(Failure.NOT_ALLOWED, f"the server owner cannot be {verb}")
    if member.top_role >= me.top_role:
        return Refusal(
            Failure.NOT_ALLOWED,
            f"{member.display_name}'s highest role '{member.top_role.name}' is not below "
            f"Steward's highest role '{me.top_role.name}', so Discord does not let Steward "
            f"act on them; move Steward's role higher if they should be {verb}",
        )
    if kind is ActionKind.MUTE and member.guild_permissions.administrator:
        return Refusal(Failure.NOT_ALLOWED, "Discord cannot time out an administrator")
    return None
