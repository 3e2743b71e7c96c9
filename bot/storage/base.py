"""What Steward persists, and the interface every store implements.

The pipeline, commands and plugins talk to a `Store`, never to SQLite directly, so a PostgreSQL
store can serve deployments that outgrow one machine. Records are frozen; times are aware UTC.
Message text is never stored, except a short excerpt as evidence of a violation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from bot.actions import Action
from rules.ladder import StrikeEntry

EXCERPT_LIMIT = 200


class StorageError(Exception):
    """A database that cannot be used: unwritable, locked, corrupt, or from a newer Steward."""


class ActionStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class CaseStatus(StrEnum):
    OPEN = "open"
    APPEALED = "appealed"
    UPHELD = "upheld"
    PARDONED = "pardoned"


class MemberKey(NamedTuple):
    """A member within a scope (a Telegram chat, a Discord guild).

    A named tuple: every event builds and hashes one (cache lookups, buffers), and a tuple
    hashes and compares in C where a frozen dataclass runs generated Python code.
    """

    platform: str
    scope: str
    user_id: str


@dataclass(slots=True)
class MemberRecord:
    """A member's stored facts. Mutable: the pipeline updates it in memory and writes it back."""

    key: MemberKey
    first_seen: datetime
    last_seen: datetime
    name: str = ""
    username: str = ""
    joined_at: datetime | None = None
    message_count: int = 0
    level: int = 0
    level_locked: bool = False


@dataclass(frozen=True, slots=True)
class NewCase:
    """A moderation case to record: an infraction found by a rule or an admin's action."""

    member: MemberKey
    chat: str
    user_name: str
    source: str  # "rule" or "admin"
    created_at: datetime
    rule_id: str = ""
    actor_id: str = ""
    actor_name: str = ""
    reason: str = ""
    evidence: tuple[str, ...] = ()
    excerpt: str = ""
    message_id: str = ""
    event_id: str = ""
    points: int = 0
    strikes_before: int = 0
    strikes_after: int = 0
    step: str = ""


@dataclass(frozen=True, slots=True)
class Case(NewCase):
    id: int = 0
    status: CaseStatus = CaseStatus.OPEN
    appeal: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = None
    resolution: str = ""


@dataclass(frozen=True, slots=True)
class ActionRecord:
    id: int
    case_id: int | None
    platform: str
    action: Action
    status: ActionStatus
    created_at: datetime
    reason: str = ""
    note: str = ""
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled piece of work, stored so it survives restarts (no pickled callables)."""

    id: int
    kind: str
    owner: str
    platform: str
    chat: str
    payload: dict[str, Any]
    run_at: datetime
    trigger: dict[str, Any] = field(default_factory=dict)


class EventKey(NamedTuple):
    """An event within a chat, for redelivery checks (a named tuple, as `MemberKey`)."""

    platform: str
    chat: str
    event_id: str


class Store(Protocol):
    """Steward's persistence. Every method is a complete, atomic unit of work."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # events
    async def seen(self, key: EventKey) -> bool: ...

    async def newest_event_at(self) -> datetime | None:
        """The time of the newest processed event: a later event cannot be a redelivery."""
        ...

    async def mark_seen(self, keys: Sequence[tuple[tuple[str, str, str], datetime]]) -> None:
        """Remember handled events: (platform, chat, event id) — an `EventKey` or a plain tuple
        (the pipeline buffers plain ones) — with the event's time."""

    async def forget_events_before(self, moment: datetime) -> int: ...

    # chats and members
    async def upsert_chat(
        self, platform: str, chat: str, scope: str, title: str, at: datetime
    ) -> None: ...

    async def set_chat_active(self, platform: str, chat: str, active: bool) -> None: ...

    async def move_chat(self, platform: str, old: str, new: str) -> None: ...

    async def member(self, key: MemberKey) -> MemberRecord | None: ...

    async def find_member(
        self, platform: str, scope: str, username: str
    ) -> MemberRecord | None: ...

    async def save_members(self, records: Sequence[MemberRecord]) -> None: ...

    # strikes and cases
    async def strikes(self, key: MemberKey) -> list[StrikeEntry]: ...

    async def record_case(
        self, case: NewCase, actions: Sequence[Action], event: EventKey | None
    ) -> tuple[int, list[int]]: ...

    async def add_strike(
        self, key: MemberKey, at: datetime, points: int, case_id: int | None, note: str
    ) -> None: ...

    async def case(self, case_id: int) -> Case | None: ...

    async def cases_for(self, key: MemberKey, limit: int = 20) -> list[Case]: ...

    async def update_case(self, case_id: int, **changes: Any) -> None: ...

    # actions
    async def add_actions(
        self, case_id: int | None, platform: str, actions: Sequence[Action], at: datetime
    ) -> list[int]: ...

    async def finish_action(
        self, action_id: int, status: ActionStatus, at: datetime, reason: str = "", note: str = ""
    ) -> None: ...

    async def pending_actions(self) -> list[ActionRecord]: ...

    async def actions_for_case(self, case_id: int) -> list[ActionRecord]: ...

    # jobs
    async def add_job(
        self,
        kind: str,
        owner: str,
        platform: str,
        chat: str,
        payload: dict[str, Any],
        run_at: datetime,
        trigger: dict[str, Any] | None = None,
    ) -> int: ...

    async def due_jobs(self, now: datetime) -> list[Job]: ...

    async def job_scheduled(self, job_id: int) -> bool: ...

    async def scheduled_jobs(self) -> list[Job]: ...

    async def reschedule_job(
        self, job_id: int, run_at: datetime, payload: dict[str, Any] | None = None
    ) -> None:
        """Move a job; with `payload`, replace its payload too (a retry's bookkeeping)."""
        ...

    async def finish_job(
        self,
        job_id: int,
        at: datetime,
        status: str = "done",
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Finish a scheduled job; with `payload`, keep that payload (a failure's reason)."""
        ...

    async def cancel_jobs(
        self, kind: str, platform: str, chat: str, match: dict[str, Any]
    ) -> int: ...

    # plugin key-value data
    async def kv_get(self, plugin: str, scope: str, key: str) -> Any | None: ...

    async def kv_set(self, plugin: str, scope: str, key: str, value: Any, at: datetime) -> None: ...

    async def kv_delete(self, plugin: str, scope: str, key: str) -> None: ...

    async def kv_keys(self, plugin: str, scope: str, prefix: str = "") -> list[str]: ...
