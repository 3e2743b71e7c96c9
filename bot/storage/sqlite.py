"""The embedded store: one SQLite file through aiosqlite, WAL mode, a single writer.

All writes go through one connection and one lock, each unit of work in its own `BEGIN
IMMEDIATE` transaction, so a crash leaves either all of it or none. Failures to open the file
become `StorageError`s that say which file and what to do.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.actions import Action, action_from_dict, action_to_dict
from bot.storage.base import (
    EXCERPT_LIMIT,
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
)
from bot.storage.migrations import LATEST, MIGRATIONS
from rules.ladder import StrikeEntry

MEMORY = ":memory:"
T = TypeVar("T")


def ts(moment: datetime) -> str:
    """Timestamps are stored as fixed-width UTC ISO strings, so they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _ts_required(text: str) -> datetime:
    return datetime.fromisoformat(text)


class KeyFilter:
    """The member keys the database may hold: a Bloom filter, so that "certainly not" is free.

    A member seen for the first time in this run is looked up (member row, strike ledger); most of
    them are new to the database too (a new member, or everyone on a fresh install), and asking
    SQLite about each costs two trips to its thread. The filter answers those without a query. A
    false "maybe" only costs the query that would have been made anyway; a false "no" cannot
    happen, because the store adds every key it writes before the write commits.

    16 bits per expected key and 4 probes: under 0.3 % false "maybe" at the expected load, and
    2 MiB for up to a million members (it degrades gracefully beyond, it never becomes wrong).
    """

    PROBES = 4

    def __init__(self, expected: int = 0) -> None:
        bits = 1 << 24
        while bits < 16 * expected:
            bits <<= 1
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    def _positions(self, key: tuple[str, str, str]) -> list[int]:
        digest = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        first, step = digest, (digest >> 32) | 1
        return [(first + i * step) & self._mask for i in range(self.PROBES)]

    def add(self, key: tuple[str, str, str]) -> None:
        bits = self._bits
        for position in self._positions(key):
            bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))


def _member_tuple(key: MemberKey) -> tuple[str, str, str]:
    return (key.platform, key.scope, key.user_id)


class SqliteStore:
    """`Store` on an SQLite file (or `:memory:` for tests)."""

    def __init__(self, path: str | Path = MEMORY) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._members = KeyFilter()

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        self._lock = asyncio.Lock()
        if self.path != MEMORY:
            self._prepare_directory()
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from None
        self._db = db
        try:
            await db.execute("PRAGMA busy_timeout = 5000")
            if self.path != MEMORY:
                await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await self._migrate()
            await self._load_member_filter()
        except sqlite3.DatabaseError as exc:
            await db.close()
            self._db = None
            raise self._explain(exc) from None

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _prepare_directory(self) -> None:
        directory = Path(self.path).expanduser().resolve().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the directory for database {self.path}: {exc.strerror}; "
                "choose another `storage.path`"
            ) from None
        target = Path(self.path)
        probe = target if target.exists() else directory
        if not os.access(probe, os.W_OK):
            raise StorageError(
                f"cannot write database {self.path}: permission denied; "
                "choose another `storage.path` or fix the permissions"
            )

    def _explain(self, exc: sqlite3.DatabaseError) -> StorageError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StorageError(
                f"database {self.path} is locked by another process; "
                "is another Steward running with the same file?"
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StorageError(
                f"database {self.path} is damaged or not a Steward database ({text}); "
                "restore a backup or move the file away to start afresh"
            )
        return StorageError(f"database {self.path}: {text}")

    async def _migrate(self) -> None:
        db = self._conn
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version > LATEST:
            raise StorageError(
                f"database {self.path} was written by a newer Steward (schema {version}; this "
                f"version knows up to {LATEST}); upgrade Steward or use another file"
            )
        for number, script in MIGRATIONS:
            if number <= version:
                continue
            statements = [s.strip() for s in script.split(";") if s.strip()]
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements:
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def _load_member_filter(self) -> None:
        """Every (platform, scope, user) with a member row or a strike, into the key filter."""
        keys = await self._all(
            "SELECT platform, scope, user_id FROM members"
            " UNION SELECT platform, scope, user_id FROM strikes"
        )
        members = KeyFilter(len(keys))
        for platform, scope, user_id in keys:
            members.add((platform, scope, user_id))
        self._members = members

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("the store is not open")
        return self._db

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one transaction in the database thread: one round trip in all.

        With `_write`, every statement is a trip to aiosqlite's thread and back (BEGIN, each
        INSERT, COMMIT), and each trip costs the event loop tens of microseconds; an infraction
        with three actions took eight. The units of work the pipeline runs on every infraction
        and flush (`record_case`, `finish_action`, `save_members`, `mark_seen`) are plain sqlite3
        code run here instead. aiosqlite has no public way to run a function in its thread, so
        this uses its `_execute`, which every aiosqlite method is built on. The lock keeps the
        store a single writer alongside units still written with `_write`.
        """
        db = self._conn
        connection: sqlite3.Connection = db._conn
        async with self._lock:
            result: T = await db._execute(  # type: ignore[no-untyped-call]
                self._in_transaction, connection, work
            )
            return result

    def _in_transaction(
        self, connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]
    ) -> T:
        """(In the database thread.) BEGIN IMMEDIATE, `work`, COMMIT; ROLLBACK if it raises."""
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._explain(exc) from None
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One atomic unit of work; the lock keeps Steward a single writer."""
        db = self._conn
        async with self._lock:
            try:
                await db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._explain(exc) from None
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    # Reads use `execute_fetchall`: one trip to the connection's thread instead of three
    # (execute, fetch, close), and every trip costs tens of microseconds of event-loop time.

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    # -- events ---------------------------------------------------------------------------

    async def seen(self, key: EventKey) -> bool:
        row = await self._one(
            "SELECT 1 FROM processed_events WHERE platform = ? AND chat_id = ? AND event_id = ?",
            (key.platform, key.chat, key.event_id),
        )
        return row is not None

    async def newest_event_at(self) -> datetime | None:
        row = await self._one("SELECT max(at) FROM processed_events")
        return parse_ts(row[0]) if row else None

    # Batches are written in key order: consecutive rows then land in the same B-tree pages,
    # which SQLite finds in its cache and writes to the WAL once per commit (with 100,000
    # members in random order, about a third less work per row).

    async def mark_seen(self, keys: Sequence[tuple[EventKey, datetime]]) -> None:
        if not keys:
            return
        rows = sorted((k.platform, k.chat, k.event_id, ts(at)) for k, at in keys)
        await self._transaction(lambda db: db.executemany(_MARK_SEEN, rows))

    async def forget_events_before(self, moment: datetime) -> int:
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM processed_events WHERE at < ?", (ts(moment),))
            return cursor.rowcount

    # -- chats and members ----------------------------------------------------------------

    async def upsert_chat(
        self, platform: str, chat: str, scope: str, title: str, at: datetime
    ) -> None:
        params = (platform, chat, scope, title, ts(at))
        await self._transaction(
            lambda db: db.execute(
                """INSERT INTO chats (platform, chat_id, scope, title, first_seen)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (platform, chat_id) DO UPDATE SET
                     title = CASE WHEN excluded.title != ''
                                  THEN excluded.title ELSE chats.title END,
                     active = 1""",
                params,
            )
        )

    async def set_chat_active(self, platform: str, chat: str, active: bool) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE chats SET active = ? WHERE platform = ? AND chat_id = ?",
                (int(active), platform, chat),
            )

    async def chat_active(self, platform: str, chat: str) -> bool | None:
        row = await self._one(
            "SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (platform, chat)
        )
        return None if row is None else bool(row[0])

    async def move_chat(self, platform: str, old: str, new: str) -> None:
        """A Telegram group became a supergroup: its history continues under the new id."""
        async with self._write() as db:
            await db.execute(
                "UPDATE chats SET active = 0, migrated_to = ? WHERE platform = ? AND chat_id = ?",
                (new, platform, old),
            )
            for table in ("members", "strikes", "cases"):
                await db.execute(
                    f"UPDATE OR IGNORE {table} SET scope = ? WHERE platform = ? AND scope = ?",
                    (new, platform, old),
                )
            await db.execute(
                "UPDATE cases SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                (new, platform, old),
            )
            await self._load_member_filter()  # the members now live under the new scope

    async def member(self, key: MemberKey) -> MemberRecord | None:
        if _member_tuple(key) not in self._members:
            return None
        row = await self._one(
            f"""SELECT {_MEMBER_COLUMNS}
               FROM members WHERE platform = ? AND scope = ? AND user_id = ?""",
            (key.platform, key.scope, key.user_id),
        )
        return None if row is None else _member(key, row)

    async def find_member(self, platform: str, scope: str, username: str) -> MemberRecord | None:
        row = await self._one(
            f"""SELECT {_MEMBER_COLUMNS}, user_id
               FROM members WHERE platform = ? AND scope = ? AND lower(username) = lower(?)
               ORDER BY last_seen DESC LIMIT 1""",
            (platform, scope, username.lstrip("@")),
        )
        return None if row is None else _member(MemberKey(platform, scope, row[8]), row)

    async def save_members(self, records: Sequence[MemberRecord]) -> None:
        if not records:
            return
        rows = [
            (
                r.key.platform,
                r.key.scope,
                r.key.user_id,
                r.name,
                r.username,
                ts(r.first_seen),
                ts(r.last_seen),
                ts(r.joined_at) if r.joined_at else None,
                r.message_count,
                r.level,
                int(r.level_locked),
            )
            for r in records
        ]
        rows.sort(key=_primary_key)
        for record in records:
            self._members.add(_member_tuple(record.key))
        await self._transaction(lambda db: db.executemany(_SAVE_MEMBER, rows))

    # -- strikes and cases ----------------------------------------------------------------

    async def strikes(self, key: MemberKey) -> list[StrikeEntry]:
        if _member_tuple(key) not in self._members:
            return []
        rows = await self._all(
            "SELECT at, points FROM strikes WHERE platform = ? AND scope = ? AND user_id = ?"
            " ORDER BY at, id",
            (key.platform, key.scope, key.user_id),
        )
        return [StrikeEntry(_ts_required(at), int(points)) for at, points in rows]

    async def record_case(
        self, case: NewCase, actions: Sequence[Action], event: EventKey | None
    ) -> tuple[int, list[int]]:
        """The case, its strike points, its planned actions and the event id: all or nothing."""
        case_row = _case_row(case)
        action_rows = _action_rows(case.member.platform, actions, case.created_at)
        at = ts(case.created_at)
        member = case.member

        def work(db: sqlite3.Connection) -> tuple[int, list[int]]:
            case_id = _insert_case(db, case_row)
            if case.points:
                db.execute(
                    "INSERT INTO strikes (platform, scope, user_id, at, points, case_id)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (member.platform, member.scope, member.user_id, at, case.points, case_id),
                )
            action_ids = _insert_actions(db, case_id, action_rows)
            if event is not None:
                db.execute(_MARK_SEEN, (event.platform, event.chat, event.event_id, at))
            return case_id, action_ids

        if case.points:
            self._members.add(_member_tuple(member))
        return await self._transaction(work)

    async def add_strike(
        self, key: MemberKey, at: datetime, points: int, case_id: int | None, note: str
    ) -> None:
        async with self._write() as db:
            self._members.add(_member_tuple(key))
            await db.execute(
                "INSERT INTO strikes (platform, scope, user_id, at, points, case_id, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key.platform, key.scope, key.user_id, ts(at), points, case_id, note),
            )

    async def case(self, case_id: int) -> Case | None:
        rows = await self._all(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,))
        return _case(rows[0]) if rows else None

    async def cases_for(self, key: MemberKey, limit: int = 20) -> list[Case]:
        rows = await self._all(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE platform = ? AND scope = ? AND user_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (key.platform, key.scope, key.user_id, limit),
        )
        return [_case(r) for r in rows]

    async def update_case(self, case_id: int, **changes: Any) -> None:
        allowed = {"status", "appeal", "resolved_by", "resolved_at", "resolution"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update case fields {sorted(unknown)}")
        values = {k: (ts(v) if isinstance(v, datetime) else str(v)) for k, v in changes.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        async with self._write() as db:
            await db.execute(
                f"UPDATE cases SET {assignments} WHERE id = ?", (*values.values(), case_id)
            )

    # -- actions --------------------------------------------------------------------------

    async def add_actions(
        self, case_id: int | None, platform: str, actions: Sequence[Action], at: datetime
    ) -> list[int]:
        rows = _action_rows(platform, actions, at)
        return await self._transaction(lambda db: _insert_actions(db, case_id, rows))

    async def finish_action(
        self, action_id: int, status: ActionStatus, at: datetime, reason: str = "", note: str = ""
    ) -> None:
        params = (status.value, reason, note, ts(at), action_id)
        await self._transaction(
            lambda db: db.execute(
                "UPDATE actions SET status = ?, reason = ?, note = ?, finished_at = ? WHERE id = ?",
                params,
            )
        )

    async def pending_actions(self) -> list[ActionRecord]:
        rows = await self._all(
            f"SELECT {_ACTION_COLUMNS} FROM actions WHERE status = 'pending' ORDER BY id"
        )
        return [_action(r) for r in rows]

    async def actions_for_case(self, case_id: int) -> list[ActionRecord]:
        rows = await self._all(
            f"SELECT {_ACTION_COLUMNS} FROM actions WHERE case_id = ? ORDER BY id", (case_id,)
        )
        return [_action(r) for r in rows]

    # -- jobs -----------------------------------------------------------------------------

    async def add_job(
        self,
        kind: str,
        owner: str,
        platform: str,
        chat: str,
        payload: dict[str, Any],
        run_at: datetime,
        trigger: dict[str, Any] | None = None,
    ) -> int:
        async with self._write() as db:
            cursor = await db.execute(
                """INSERT INTO jobs (kind, owner, platform, chat_id, payload, trigger, run_at,
                                     created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    kind,
                    owner,
                    platform,
                    chat,
                    json.dumps(payload),
                    json.dumps(trigger or {}),
                    ts(run_at),
                    ts(run_at),
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    async def due_jobs(self, now: datetime) -> list[Job]:
        rows = await self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'scheduled' AND run_at <= ?"
            " ORDER BY run_at, id",
            (ts(now),),
        )
        return [_job(r) for r in rows]

    async def job_scheduled(self, job_id: int) -> bool:
        row = await self._one("SELECT status FROM jobs WHERE id = ?", (job_id,))
        return row is not None and row[0] == "scheduled"

    async def scheduled_jobs(self) -> list[Job]:
        rows = await self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'scheduled' ORDER BY run_at, id"
        )
        return [_job(r) for r in rows]

    async def reschedule_job(self, job_id: int, run_at: datetime) -> None:
        async with self._write() as db:
            await db.execute("UPDATE jobs SET run_at = ? WHERE id = ?", (ts(run_at), job_id))

    async def finish_job(self, job_id: int, at: datetime, status: str = "done") -> None:
        async with self._write() as db:
            # A job cancelled while it ran stays cancelled.
            await db.execute(
                "UPDATE jobs SET status = ?, done_at = ? WHERE id = ? AND status = 'scheduled'",
                (status, ts(at), job_id),
            )

    async def cancel_jobs(self, kind: str, platform: str, chat: str, match: dict[str, Any]) -> int:
        """Cancel scheduled jobs of a kind whose payload contains every item of `match`."""
        cancelled = 0
        for job in await self.scheduled_jobs():
            if job.kind != kind or job.platform != platform or job.chat != chat:
                continue
            if all(job.payload.get(k) == v for k, v in match.items()):
                async with self._write() as db:
                    await db.execute("UPDATE jobs SET status = 'cancelled' WHERE id = ?", (job.id,))
                cancelled += 1
        return cancelled

    # -- plugin data ----------------------------------------------------------------------

    async def kv_get(self, plugin: str, scope: str, key: str) -> Any | None:
        row = await self._one(
            "SELECT value FROM plugin_data WHERE plugin = ? AND scope = ? AND key = ?",
            (plugin, scope, key),
        )
        return None if row is None else json.loads(row[0])

    async def kv_set(self, plugin: str, scope: str, key: str, value: Any, at: datetime) -> None:
        text = json.dumps(value, ensure_ascii=False)
        async with self._write() as db:
            await db.execute(
                """INSERT INTO plugin_data (plugin, scope, key, value, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (plugin, scope, key) DO UPDATE SET
                     value = excluded.value, updated_at = excluded.updated_at""",
                (plugin, scope, key, text, ts(at)),
            )

    async def kv_delete(self, plugin: str, scope: str, key: str) -> None:
        async with self._write() as db:
            await db.execute(
                "DELETE FROM plugin_data WHERE plugin = ? AND scope = ? AND key = ?",
                (plugin, scope, key),
            )

    async def kv_keys(self, plugin: str, scope: str, prefix: str = "") -> list[str]:
        rows = await self._all(
            "SELECT key FROM plugin_data WHERE plugin = ? AND scope = ?"
            " AND substr(key, 1, ?) = ? ORDER BY key",
            (plugin, scope, len(prefix), prefix),
        )
        return [str(r[0]) for r in rows]


_SAVE_MEMBER = """
    INSERT INTO members (platform, scope, user_id, name, username, first_seen, last_seen,
                         joined_at, message_count, level, level_locked)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (platform, scope, user_id) DO UPDATE SET
      name = excluded.name, username = excluded.username,
      last_seen = excluded.last_seen, joined_at = excluded.joined_at,
      message_count = excluded.message_count, level = excluded.level,
      level_locked = excluded.level_locked"""


def _primary_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:3]


def _case_row(case: NewCase) -> tuple[Any, ...]:
    return (
        case.member.platform,
        case.member.scope,
        case.chat,
        case.member.user_id,
        case.user_name,
        case.source,
        case.rule_id,
        case.actor_id,
        case.actor_name,
        case.reason,
        json.dumps(list(case.evidence), ensure_ascii=False),
        case.excerpt[:EXCERPT_LIMIT],
        case.message_id,
        case.event_id,
        case.points,
        case.strikes_before,
        case.strikes_after,
        case.step,
        ts(case.created_at),
    )


def _insert_case(db: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """(In the database thread.) The case's id."""
    cursor = db.execute(
        """INSERT INTO cases (platform, scope, chat_id, user_id, user_name, source, rule_id,
                              actor_id, actor_name, reason, evidence, excerpt, message_id,
                              event_id, points, strikes_before, strikes_after, step, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        row,
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _action_rows(
    platform: str, actions: Sequence[Action], at: datetime
) -> list[tuple[str, str, str, str]]:
    """Actions as (platform, kind, payload, created_at), serialised before the trip."""
    created = ts(at)
    return [
        (
            platform,
            action.kind.value,
            json.dumps(action_to_dict(action), ensure_ascii=False),
            created,
        )
        for action in actions
    ]


def _insert_actions(
    db: sqlite3.Connection, case_id: int | None, rows: Sequence[tuple[str, str, str, str]]
) -> list[int]:
    """(In the database thread.) The new actions' ids, in order."""
    ids = []
    for row in rows:
        cursor = db.execute(
            "INSERT INTO actions (case_id, platform, kind, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (case_id, *row),
        )
        assert cursor.lastrowid is not None
        ids.append(cursor.lastrowid)
    return ids


_CASE_COLUMNS = (
    "id, platform, scope, chat_id, user_id, user_name, source, rule_id, actor_id, actor_name, "
    "reason, evidence, excerpt, message_id, event_id, points, strikes_before, strikes_after, "
    "step, created_at, status, appeal, resolved_by, resolved_at, resolution"
)
_MEMBER_COLUMNS = (
    "name, username, first_seen, last_seen, joined_at, message_count, level, level_locked"
)
_MARK_SEEN = (
    "INSERT OR IGNORE INTO processed_events (platform, chat_id, event_id, at) VALUES (?, ?, ?, ?)"
)
_ACTION_COLUMNS = "id, case_id, platform, payload, status, created_at, reason, note, finished_at"
_JOB_COLUMNS = "id, kind, owner, platform, chat_id, payload, run_at, trigger"


def _member(key: MemberKey, row: Sequence[Any]) -> MemberRecord:
    return MemberRecord(
        key=key,
        name=row[0],
        username=row[1],
        first_seen=_ts_required(row[2]),
        last_seen=_ts_required(row[3]),
        joined_at=parse_ts(row[4]),
        message_count=int(row[5]),
        level=int(row[6]),
        level_locked=bool(row[7]),
    )


def _case(row: Sequence[Any]) -> Case:
    return Case(
        id=int(row[0]),
        member=MemberKey(row[1], row[2], row[4]),
        chat=row[3],
        user_name=row[5],
        source=row[6],
        rule_id=row[7],
        actor_id=row[8],
        actor_name=row[9],
        reason=row[10],
        evidence=tuple(json.loads(row[11])),
        excerpt=row[12],
        message_id=row[13],
        event_id=row[14],
        points=int(row[15]),
        strikes_before=int(row[16]),
        strikes_after=int(row[17]),
        step=row[18],
        created_at=_ts_required(row[19]),
        status=CaseStatus(row[20]),
        appeal=row[21],
        resolved_by=row[22],
        resolved_at=parse_ts(row[23]),
        resolution=row[24],
    )


def _action(row: Sequence[Any]) -> ActionRecord:
    return ActionRecord(
        id=int(row[0]),
        case_id=row[1],
        platform=row[2],
        action=action_from_dict(json.loads(row[3])),
        status=ActionStatus(row[4]),
        created_at=_ts_required(row[5]),
        reason=row[6],
        note=row[7],
        finished_at=parse_ts(row[8]),
    )


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=int(row[0]),
        kind=row[1],
        owner=row[2],
        platform=row[3],
        chat=row[4],
        payload=json.loads(row[5]),
        run_at=_ts_required(row[6]),
        trigger=json.loads(row[7]),
    )
