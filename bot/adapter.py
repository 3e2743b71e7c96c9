"""The contract between the core and a platform adapter.

Adapters translate; they never decide. Inbound they hand canonical events to their `Host` (and
tell it about platform facts that are not events: admin lists changed, the bot was removed from
a chat, a group moved to a new id); outbound they perform canonical actions and say, in an
`Outcome`, whether it worked and if not why, so the executor can record it and tell the admins.
Everything above this interface is platform-neutral and testable with the in-memory platform
in `bot.local`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.actions import Action
from bot.capabilities import Capabilities
from bot.events import AnyEvent, User


class Host(Protocol):
    """What an adapter may tell the core. The runtime implements it."""

    async def submit(self, event: AnyEvent) -> None:
        """A canonical event, queued for the pipeline in its scope's order."""
        ...

    async def admins_changed(self, platform: str, chat: str) -> None:
        """Someone became or stopped being an admin: cached admin lists are stale."""
        ...

    async def chat_gone(self, platform: str, chat: str) -> None:
        """The bot was removed from the chat (or it was deleted): stop acting there."""
        ...

    async def chat_moved(self, platform: str, old: str, new: str) -> None:
        """The chat continues under a new id (a Telegram group became a supergroup)."""
        ...


class Failure(StrEnum):
    """Why an action failed, in categories the executor treats differently."""

    MISSING_RIGHT = "missing_right"  # the bot lacks a permission: tell the admins
    NOT_ALLOWED = "not_allowed"  # the target is protected (owner, higher role)
    NOT_FOUND = "not_found"  # message or member gone: nothing to do
    UNREACHABLE = "unreachable"  # direct message refused, user never started the bot
    TEMPORARY = "temporary"  # network or rate limit after the adapter's own retries
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    failure: Failure | None = None
    reason: str = ""
    # What the platform really applied when it differs (a clamped duration, a renewed timeout).
    note: str = ""

    @classmethod
    def done(cls, note: str = "") -> Outcome:
        return cls(True, note=note)

    @classmethod
    def failed(cls, failure: Failure, reason: str) -> Outcome:
        return cls(False, failure, reason)


class Adapter(Protocol):
    """One connected platform account."""

    platform: str
    capabilities: Capabilities

    async def start(self, host: Host) -> None:
        """Connect and begin delivering events to `host`; returns once running."""
        ...

    async def stop(self) -> None:
        """Stop receiving; pending deliveries are finished first."""
        ...

    async def perform(self, action: Action) -> Outcome:
        """Carry out one action; never raises for platform errors, reports them instead."""
        ...

    async def admins(self, chat: str) -> frozenset[str]:
        """Ids of the chat's admins and owner (the caller caches this)."""
        ...

    def me(self) -> User:
        """The bot's own account, which is never punished."""
        ...


@runtime_checkable
class ScopedChats(Protocol):
    """An adapter whose chats live inside larger spaces (Discord channels in a guild).

    Optional: the core asks it where a chat belongs when something is per space rather than
    per chat, such as the hourly notice about a missing permission (a bot without Ban
    Members lacks it in every channel of the guild, and the admins need to hear it once).
    """

    def scope_of(self, chat: str) -> str:
        """The space `chat` belongs to (the chat itself when it belongs to none)."""
        ...


@runtime_checkable
class Connection(Protocol):
    """An adapter whose connection to its platform can end for good while Steward runs (a
    reset bot token closes Discord's gateway for ever).

    Optional: `steward run` waits on it and stops with a non-zero status, so a supervisor
    restarts Steward (or the owner sees it) instead of it running on without moderating.
    """

    async def wait_lost(self) -> str:
        """Return, with the reason, once the connection is gone for good."""
        ...
