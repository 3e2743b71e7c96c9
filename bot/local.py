"""An in-memory chat platform: the console chat and the test harness both run on it.

It behaves like a small, obedient platform: it remembers who is muted, restricted or banned and
until when, which messages were deleted, what was sent, and who the admins are. Tests can make
any action fail (a missing right, a network error) to check that Steward copes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.actions import (
    Action,
    ActionKind,
    Ban,
    Delete,
    DirectMessage,
    Kick,
    Mute,
    NotifyAdmins,
    Restrict,
    Send,
    Unban,
    Unmute,
    Unrestrict,
    Warn,
)
from bot.adapter import Failure, Host, Outcome
from bot.capabilities import CONSOLE, Capabilities
from bot.clock import Clock
from bot.events import User

STEWARD = User("steward", "Steward", "steward", is_bot=True)


@dataclass
class _Injected:
    outcome: Outcome
    times: int | None


@dataclass
class LocalState:
    """What the platform holds, keyed by (chat, user)."""

    admins: dict[str, set[str]] = field(default_factory=dict)
    muted: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    restricted: dict[tuple[str, str], tuple[frozenset[str], datetime | None]] = field(
        default_factory=dict
    )
    banned: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    kicked: list[tuple[str, str]] = field(default_factory=list)
    deleted: set[tuple[str, str]] = field(default_factory=set)
    sent: list[Send] = field(default_factory=list)
    direct: list[DirectMessage] = field(default_factory=list)
    notices: list[NotifyAdmins] = field(default_factory=list)
    warnings: list[Warn] = field(default_factory=list)


class LocalAdapter:
    """`Adapter` over `LocalState`; `platform` names it in events and storage."""

    def __init__(
        self,
        clock: Clock,
        *,
        platform: str = "console",
        capabilities: Capabilities = CONSOLE,
        me: User = STEWARD,
    ) -> None:
        self.platform = platform
        self.capabilities = capabilities
        self.clock = clock
        self.state = LocalState()
        self.performed: list[Action] = []
        self.host: Host | None = None
        self._me = me
        self._failures: dict[ActionKind, _Injected] = {}
        self.listeners: list[Callable[[Action, Outcome], None]] = []

    # -- Adapter ----------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self.host = host

    async def stop(self) -> None:
        self.host = None

    def me(self) -> User:
        return self._me

    async def admins(self, chat: str) -> frozenset[str]:
        return frozenset(self.state.admins.get(chat, set()))

    async def perform(self, action: Action) -> Outcome:
        outcome = self._injected(action) or self._apply(action)
        if outcome.ok:
            self.performed.append(action)
        for listener in self.listeners:
            listener(action, outcome)
        return outcome

    # -- test controls ----------------------------------------------------------------------

    def set_admin(self, chat: str, user: str, admin: bool = True) -> None:
        members = self.state.admins.setdefault(chat, set())
        if admin:
            members.add(user)
        else:
            members.discard(user)

    def fail(
        self, kind: ActionKind, failure: Failure, reason: str, *, times: int | None = None
    ) -> None:
        """Make actions of `kind` fail (`times` times, or until `heal`)."""
        self._failures[kind] = _Injected(Outcome.failed(failure, reason), times)

    def heal(self, kind: ActionKind | None = None) -> None:
        if kind is None:
            self._failures.clear()
        else:
            self._failures.pop(kind, None)

    def is_muted(self, chat: str, user: str) -> bool:
        return self._active(self.state.muted, (chat, user))

    def is_banned(self, chat: str, user: str) -> bool:
        return self._active(self.state.banned, (chat, user))

    def is_restricted(self, chat: str, user: str) -> bool:
        entry = self.state.restricted.get((chat, user))
        return entry is not None and (entry[1] is None or entry[1] > self.clock.now())

    def muted_until(self, chat: str, user: str) -> datetime | None:
        return self.state.muted.get((chat, user))

    def banned_until(self, chat: str, user: str) -> datetime | None:
        return self.state.banned.get((chat, user))

    # -- internals --------------------------------------------------------------------------

    def _active(self, table: dict[tuple[str, str], datetime | None], key: tuple[str, str]) -> bool:
        if key not in table:
            return False
        until = table[key]
        if until is not None and until <= self.clock.now():
            del table[key]
            return False
        return True

    def _injected(self, action: Action) -> Outcome | None:
        injected = self._failures.get(action.kind)
        if injected is None:
            return None
        if injected.times is not None:
            injected.times -= 1
            if injected.times <= 0:
                del self._failures[action.kind]
        return injected.outcome

    def _apply(self, action: Action) -> Outcome:
        state = self.state
        if isinstance(action, Delete):
            state.deleted.add((action.chat, action.message_id))
        elif isinstance(action, Send):
            state.sent.append(action)
        elif isinstance(action, DirectMessage):
            state.direct.append(action)
        elif isinstance(action, NotifyAdmins):
            state.notices.append(action)
        elif isinstance(action, Warn):
            state.warnings.append(action)
        elif isinstance(action, Mute):
            state.muted[(action.chat, action.user)] = action.until
        elif isinstance(action, Restrict):
            state.restricted[(action.chat, action.user)] = (frozenset(action.denied), action.until)
        elif isinstance(action, Ban):
            state.banned[(action.chat, action.user)] = action.until
        elif isinstance(action, Kick):
            state.kicked.append((action.chat, action.user))
        elif isinstance(action, Unmute):
            state.muted.pop((action.chat, action.user), None)
        elif isinstance(action, Unrestrict):
            state.restricted.pop((action.chat, action.user), None)
        elif isinstance(action, Unban):
            state.banned.pop((action.chat, action.user), None)
        return Outcome.done()
