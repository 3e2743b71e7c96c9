"""The contract between the core and a platform adapter.

Adapters translate; they never decide. Inbound they hand canonical events to an `EventSink`;
outbound they perform canonical actions and say, in an `Outcome`, whether it worked and if not
why, so the executor can record it and tell the admins. Everything above this interface is
platform-neutral and testable with the fake adapter in `bot.testing`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.actions import Action
from bot.capabilities import Capabilities
from bot.events import AnyEvent, User

EventSink = Callable[[AnyEvent], Awaitable[None]]


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

    async def start(self, sink: EventSink) -> None:
        """Connect and begin delivering events to `sink`; returns once running."""
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
