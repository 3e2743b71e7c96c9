"""Persistence: the `Store` interface and its embedded SQLite implementation."""

from bot.storage.base import (
    ActionRecord,
    ActionStatus,
    Case,
    CaseStatus,
    EventKey,
    Job,
    MemberKey,
    MemberRecord,
    NewCase,
    StorageError,
    Store,
)
from bot.storage.sqlite import SqliteStore

__all__ = [
    "ActionRecord",
    "ActionStatus",
    "Case",
    "CaseStatus",
    "EventKey",
    "Job",
    "MemberKey",
    "MemberRecord",
    "NewCase",
    "SqliteStore",
    "StorageError",
    "Store",
]
