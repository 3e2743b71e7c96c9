"""The embedded store: one SQLite file through aiosqlite, WAL mode, a single writer.

All work goes through one connection, whose one thread (aiosqlite's) runs it in order; each unit
of work is one function run there in its own transaction (see `_transaction`), so a crash leaves
either all of it or none, and units never interleave. Failures to open the file become
`StorageError`s that say which file and what to do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from operator import itemgetter
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
log = logging.getLogger("steward.storage")
T = TypeVar("T")


def ts(moment: datetime) -> str:
    """Timestamps are stored as fixed-width UTC ISO strings, so they sort as text."""
    if moment.tzinfo is not UTC:  # event times already are UTC: skip a conversion per row
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


# `ts` for the write-behind batches, which format the same moments again and again: an event's
# time is its id's and then its member's `last_seen`, a newcomer's join is their `first_seen` and
# `joined_at`. `isoformat` costs over a microsecond, and formatting was a fifth of the event
# loop's share of writing a batch. Since a flush can hold 16,384 events (bot.pipeline), many
# moments are forgotten before their second use: 8,192 entries save ~10 % of the formatting
# of such a flush; 32,768 would save ~28 % but raised bench/pipeline.py's peak RSS by 9 MB.
_batch_ts = lru_cache(maxsize=8192)(ts)


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

    def __init__(self, expected: int = 0) -> None:
        bits = 1 << 24
        while bits < 16 * expected:
            bits <<= 1
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    def _positions(self, key: tuple[str, str, str]) -> tuple[int, int, int, int]:
        """Four bit positions by double hashing (hash + i * step) of Python's 64-bit hash."""
        digest = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        step = (digest >> 32) | 1
        mask = self._mask
        return (
            digest & mask,
            (digest + step) & mask,
            (digest + 2 * step) & mask,
            (digest + 3 * step) & mask,
        )

    def add(self, key: tuple[str, str, str]) -> None:
        bits = self._bits
        for position in self._positions(key):
            bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        bits = self._bits
        a, b, c, d = self._positions(key)  # unrolled, not all(<generator>): asked per member
        return bool(
            bits[a >> 3] & (1 << (a & 7))
            and bits[b >> 3] & (1 << (b & 7))
            and bits[c >> 3] & (1 << (c & 7))
            and bits[d >> 3] & (1 << (d & 7))
        )


# Units of work return plain values, never a cursor: a cursor freed in the event loop's thread
# resets its statement there while the database thread runs the next one (SQLITE_MISUSE).
# (`_statement` and `_in_transaction` follow the same rule.)


def _execute_many(sql: str, rows: Sequence[Sequence[Any]], db: sqlite3.Connection) -> None:
    db.executemany(sql, rows)


def _fetch_all(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return db.execute(sql, params).fetchall()


class DatabaseLockedError(StorageError):
    """Another process holds the database's write lock (longer than the busy timeout)."""


BUSY_TIMEOUT_MS = 5000


def _key_filter(keys: Sequence[tuple[str, str, str]]) -> KeyFilter:
    """A filter of the given (platform, scope, user) keys."""
    members = KeyFilter(len(keys))
    for key in keys:
        members.add(key)
    return members


def _member_tuple(key: MemberKey) -> tuple[str, str, str]:
    return (key.platform, key.scope, key.user_id)


# SQLite's page cache, in KiB when negative: 32 MiB instead of its default 2 MiB. Every event
# rewrites a member row and adds an event id at random places in their B-trees; with 100,000
# members a 2 MiB cache missed on most of those pages, and the write-behind batches kept the
# database thread busy a third of the time, so the writes an infraction waits for queued
# behind them. Measured with bench/pipeline.py: 4,700 → 6,800 events/s, peak RSS 220 → 252 MB
# (64 MiB: 7,100 events/s but 288 MB, too close to the 300 MB budget).
CACHE_PAGES = -32_768
# SQLite checkpoints by itself once the WAL holds this many pages (~160 MB). Steward's own
# checkpoints (`SqliteStore._checkpoint_soon`, after every buffered batch) normally come long
# before; this bounds the WAL should they fail or fall behind.
AUTOCHECKPOINT_PAGES = 40_000


class SqliteStore:
    """`Store` on an SQLite file (or `:memory:` for tests)."""

    def __init__(self, path: str | Path = MEMORY) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._members = KeyFilter()
        self._moving = 0  # chat moves in progress (see `move_chat`)
        # How many jobs of each kind are scheduled; the store is their only writer.
        self._scheduled: Counter[str] = Counter()
        self._checkpointing: asyncio.Future[None] | None = None
        # Units of work handed to the database thread and not yet answered (see `_inline`).
        self._queued = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        if self.path != MEMORY:
            self._prepare_directory()
        try:
            # The event loop's thread may use the connection too, while the database thread
            # has nothing to do (see `_inline`).
            db = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from None
        self._db = db
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != MEMORY:
                await db.execute("PRAGMA journal_mode = WAL")
                # Checkpoints (copying the WAL back into the database file, and syncing it) run
                # beside the writes, see `_checkpoint_soon`; SQLite's own, run by the commit
                # that crosses the threshold, is only the backstop.
                await db.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute(f"PRAGMA cache_size = {CACHE_PAGES}")
            await db.execute("PRAGMA foreign_keys = ON")
            await self._migrate()
            await self._load_member_filter()
            await self._count_scheduled_jobs()
        except sqlite3.DatabaseError as exc:
            await db.close()
            self._db = None
            raise self._explain(exc) from None

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
            self._checkpointing = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    # -- checkpoints ----------------------------------------------------------------------

    def _checkpoint_soon(self) -> None:
        """Copy the WAL back into the database file in a thread of its own, without waiting.

        Left to SQLite, the checkpoint runs inside whichever commit crosses the threshold, and
        on a disk it ends with an fsync of the database file: tens to hundreds of milliseconds
        during which the database thread runs nothing else, so the infraction that happened to
        commit then (or the next one in line) waited for it. A passive checkpoint on another
        connection runs beside the writer and blocks nobody. `_run_many` starts one after each
        buffered batch; never two at once.
        """
        if self.path == MEMORY or (
            self._checkpointing is not None and not self._checkpointing.done()
        ):
            return
        self._checkpointing = asyncio.ensure_future(asyncio.to_thread(self._checkpoint))
        self._checkpointing.add_done_callback(self._checkpoint_done)

    def _checkpoint(self) -> None:
        """(In a worker thread.) One passive checkpoint on a short-lived connection."""
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            connection.execute("PRAGMA busy_timeout = 5000")
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def _checkpoint_done(self, done: asyncio.Future[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            # Nothing is lost: the WAL keeps the data, and the next checkpoint (or SQLite's
            # own, at the threshold) copies it.
            log.warning("checkpoint of database %s failed: %s", self.path, done.exception())

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
            return DatabaseLockedError(
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

    def _maybe_stored(self, key: MemberKey) -> bool:
        """False when the database certainly has no member row and no strike for `key`."""
        return bool(self._moving) or _member_tuple(key) in self._members

    async def _count_scheduled_jobs(self) -> None:
        rows = await self._all(
            "SELECT kind, count(*) FROM jobs WHERE status = 'scheduled' GROUP BY kind"
        )
        self._scheduled = Counter({str(kind): int(n) for kind, n in rows})

    async def _load_member_filter(self) -> None:
        self._members = _key_filter(await self._all(_MEMBER_KEYS))

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("the store is not open")
        return self._db

    async def _transaction(
        self, work: Callable[[sqlite3.Connection], T], *, small: bool = False
    ) -> T:
        """Run `work` as one transaction in the database thread: one round trip in all.

        Every write is a plain sqlite3 function run here (or, for a lone statement, by `_run`).
        aiosqlite's single thread runs them one after another, which is what keeps Steward a
        single writer: a transaction can never interleave with another, and a read (queued on
        the same thread) never sees half of one. It is also what makes writing cheap for the
        event loop: `BEGIN`, each statement and `COMMIT` as separate awaits cost a trip to the
        thread and back per statement (eight for an infraction with three actions) plus a lock
        hand-over, and under load every trip waits for a turn of the busy event loop.

        A `small` one (a few rows: a case, a job) may instead run at once, see `_inline`: the
        event loop's thread then runs it while the database thread has nothing queued, so the
        two never interleave either.
        """
        if small:
            done: tuple[T] | None = self._inline(self._in_transaction, work)
            if done is not None:
                return done[0]
        return await self._on_thread(self._in_transaction, self._conn._conn, work)

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement (they are all small writes of a row or two) as a unit of work.

        SQLite makes a lone statement atomic by itself, so it runs without BEGIN and COMMIT:
        every statement costs the database thread a wait for the GIL when it finishes, and
        while the event loop is busy (three of these per infraction) those waits add up. When
        the database thread has nothing to do, it runs at once instead (see `_inline`).
        """
        if self._inline(self._statement, sql, params) is not None:
            return
        await self._on_thread(self._statement, self._conn._conn, sql, params)

    async def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in the database thread, counted in `_queued` until it answers.

        aiosqlite has no public way to run a function in its thread, so this uses `_execute`,
        which every aiosqlite method is built on.
        """
        self._queued += 1
        try:
            result: T = await self._conn._execute(function, *args)  # type: ignore[no-untyped-call]
        finally:
            self._queued -= 1
        return result

    def _inline(self, function: Callable[..., T], *args: Any) -> tuple[T] | None:
        """(In the event loop's thread.) `function(connection, *args)` right here, as a
        one-tuple of its result; None, having done nothing, when the database thread has work
        queued or the database is locked.

        Only when nothing is queued for the database thread (`_queued` is 0), so the thread is
        idle and the connection free, and the order of units of work is kept. A trip to that
        thread and back costs the event loop 60–100 µs on a 2-vCPU VM, and an infraction takes
        four (the case, then each action's outcome); the statements themselves take 5–30 µs
        (WAL with `synchronous = NORMAL`: a commit appends to the WAL, it does not sync). So
        small writes run here when they can, which blocks the loop only for that long, and
        never waits for a lock: the busy timeout is 0 meanwhile, and a unit of work that finds
        the database locked (another process holds it) is queued for the database thread,
        which waits and reports as before. Nor does it ever run SQLite's own checkpoint (the
        backstop of `_checkpoint_soon`, which a commit runs when the WAL has grown past
        `AUTOCHECKPOINT_PAGES`): that is left to the next commit in the database thread.
        Batches and reads always go to the thread.
        """
        if self._queued:
            return None
        connection = self._conn._conn
        connection.execute("PRAGMA busy_timeout = 0")
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            return (function(connection, *args),)
        except DatabaseLockedError:
            return None
        finally:
            connection.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    async def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """A write-behind batch: one statement for each row, as one unit of work, then a
        checkpoint beside it (batches are the bulk of what fills the WAL)."""
        await self._transaction(partial(_execute_many, sql, rows))
        self._checkpoint_soon()

    def _statement(self, connection: sqlite3.Connection, sql: str, params: Sequence[Any]) -> None:
        """(In the database thread.) One statement in autocommit mode."""
        try:
            connection.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._explain(exc) from None
            raise

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

    # Reads fetch every row in one trip to the connection's thread, not three (execute, fetch,
    # close), and every trip costs tens of microseconds of event-loop time.

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._on_thread(_fetch_all, self._conn._conn, sql, params)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._on_thread(_fetch_all, self._conn._conn, sql, params)
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

    # Buffered batches (`mark_seen`, `save_members`) are written in key order, so consecutive
    # rows land in the same B-tree pages: about a fifth less work per row with 100,000 members
    # in random order. Each batch is one transaction, however big: under load the batches
    # grow, and a bigger batch costs less per row (splitting it made the database thread wait
    # for the busy event loop between the parts, and fall behind).

    async def mark_seen(self, keys: Sequence[tuple[tuple[str, str, str], datetime]]) -> None:
        if keys:
            rows = sorted((*key, _batch_ts(at)) for key, at in keys)
            await self._run_many(_MARK_SEEN, rows)

    async def forget_events_before(self, moment: datetime) -> int:
        cutoff = (ts(moment),)
        return await self._transaction(
            lambda db: db.execute("DELETE FROM processed_events WHERE at < ?", cutoff).rowcount
        )

    # -- chats and members ----------------------------------------------------------------

    async def upsert_chat(
        self, platform: str, chat: str, scope: str, title: str, at: datetime
    ) -> None:
        params = (platform, chat, scope, title, ts(at))
        await self._run(
            """INSERT INTO chats (platform, chat_id, scope, title, first_seen)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (platform, chat_id) DO UPDATE SET
                     title = CASE WHEN excluded.title != ''
                                  THEN excluded.title ELSE chats.title END,
                     active = 1""",
            params,
        )

    async def set_chat_active(self, platform: str, chat: str, active: bool) -> None:
        params = (int(active), platform, chat)
        await self._run("UPDATE chats SET active = ? WHERE platform = ? AND chat_id = ?", params)

    async def chat_active(self, platform: str, chat: str) -> bool | None:
        row = await self._one(
            "SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (platform, chat)
        )
        return None if row is None else bool(row[0])

    async def move_chat(self, platform: str, old: str, new: str) -> None:
        """A Telegram group became a supergroup: its history continues under the new id."""

        def work(db: sqlite3.Connection) -> list[Any]:
            db.execute(
                "UPDATE chats SET active = 0, migrated_to = ? WHERE platform = ? AND chat_id = ?",
                (new, platform, old),
            )
            for table in ("members", "strikes", "cases"):
                db.execute(
                    f"UPDATE OR IGNORE {table} SET scope = ? WHERE platform = ? AND scope = ?",
                    (new, platform, old),
                )
            db.execute(
                "UPDATE cases SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                (new, platform, old),
            )
            return db.execute(_MEMBER_KEYS).fetchall()

        self._moving += 1  # until the filter knows the new scope, ask the database
        try:
            moved = await self._transaction(work)
        finally:
            self._moving -= 1
        for key in moved:
            self._members.add(key)

    async def member(self, key: MemberKey) -> MemberRecord | None:
        if not self._maybe_stored(key):
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
        stamp = _batch_ts
        rows = [
            (
                r.key.platform,
                r.key.scope,
                r.key.user_id,
                r.name,
                r.username,
                stamp(r.first_seen),
                stamp(r.last_seen),
                stamp(r.joined_at) if r.joined_at else None,
                r.message_count,
                r.level,
                int(r.level_locked),
            )
            for r in records
        ]
        rows.sort(key=_PRIMARY_KEY)
        for record in records:
            self._members.add(_member_tuple(record.key))
        await self._run_many(_SAVE_MEMBER, rows)

    # -- strikes and cases ----------------------------------------------------------------

    async def strikes(self, key: MemberKey) -> list[StrikeEntry]:
        if not self._maybe_stored(key):
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
        return await self._transaction(work, small=True)

    async def add_strike(
        self, key: MemberKey, at: datetime, points: int, case_id: int | None, note: str
    ) -> None:
        params = (key.platform, key.scope, key.user_id, ts(at), points, case_id, note)
        self._members.add(_member_tuple(key))
        await self._run(
            "INSERT INTO strikes (platform, scope, user_id, at, points, case_id, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            params,
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
        params = (*values.values(), case_id)
        await self._run(f"UPDATE cases SET {assignments} WHERE id = ?", params)

    # -- actions --------------------------------------------------------------------------

    async def add_actions(
        self, case_id: int | None, platform: str, actions: Sequence[Action], at: datetime
    ) -> list[int]:
        rows = _action_rows(platform, actions, at)
        return await self._transaction(lambda db: _insert_actions(db, case_id, rows), small=True)

    async def finish_action(
        self, action_id: int, status: ActionStatus, at: datetime, reason: str = "", note: str = ""
    ) -> None:
        params = (status.value, reason, note, ts(at), action_id)
        await self._run(
            "UPDATE actions SET status = ?, reason = ?, note = ?, finished_at = ? WHERE id = ?",
            params,
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
        params = (
            kind,
            owner,
            platform,
            chat,
            json.dumps(payload),
            json.dumps(trigger or {}),
            ts(run_at),
            ts(run_at),
        )

        def work(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                """INSERT INTO jobs (kind, owner, platform, chat_id, payload, trigger, run_at,
                                     created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                params,
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        job_id = await self._transaction(work, small=True)
        self._scheduled[kind] += 1
        return job_id

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

    async def reschedule_job(
        self, job_id: int, run_at: datetime, payload: dict[str, Any] | None = None
    ) -> None:
        if payload is None:
            await self._run("UPDATE jobs SET run_at = ? WHERE id = ?", (ts(run_at), job_id))
        else:
            await self._run(
                "UPDATE jobs SET run_at = ?, payload = ? WHERE id = ?",
                (ts(run_at), json.dumps(payload), job_id),
            )

    async def finish_job(
        self,
        job_id: int,
        at: datetime,
        status: str = "done",
        payload: dict[str, Any] | None = None,
    ) -> None:
        def work(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT kind FROM jobs WHERE id = ? AND status = 'scheduled'", (job_id,)
            ).fetchone()
            if row is None:
                return None  # a job cancelled while it ran stays cancelled
            db.execute(
                "UPDATE jobs SET status = ?, done_at = ? WHERE id = ?", (status, ts(at), job_id)
            )
            if payload is not None:
                db.execute(
                    "UPDATE jobs SET payload = ? WHERE id = ?", (json.dumps(payload), job_id)
                )
            return str(row[0])

        finished = await self._transaction(work, small=True)
        if finished is not None:
            self._scheduled[finished] -= 1

    async def cancel_jobs(self, kind: str, platform: str, chat: str, match: dict[str, Any]) -> int:
        """Cancel scheduled jobs of a kind whose payload contains every item of `match`.

        The executor asks this after every mute and ban (a new one supersedes the undo jobs of
        the last); where the platform times them itself there never are any, and then the
        answer costs no trip to the database.
        """
        if not self._scheduled[kind]:
            return 0

        def work(db: sqlite3.Connection) -> int:
            rows = db.execute(
                "SELECT id, payload FROM jobs"
                " WHERE status = 'scheduled' AND kind = ? AND platform = ? AND chat_id = ?",
                (kind, platform, chat),
            ).fetchall()
            chosen = [
                (job_id,)
                for job_id, payload in rows
                if all(json.loads(payload).get(k) == v for k, v in match.items())
            ]
            db.executemany("UPDATE jobs SET status = 'cancelled' WHERE id = ?", chosen)
            return len(chosen)

        cancelled = await self._transaction(work, small=True)
        self._scheduled[kind] -= cancelled
        return cancelled

    # -- plugin data ----------------------------------------------------------------------

    async def kv_get(self, plugin: str, scope: str, key: str) -> Any | None:
        row = await self._one(
            "SELECT value FROM plugin_data WHERE plugin = ? AND scope = ? AND key = ?",
            (plugin, scope, key),
        )
        return None if row is None else json.loads(row[0])

    async def kv_set(self, plugin: str, scope: str, key: str, value: Any, at: datetime) -> None:
        params = (plugin, scope, key, json.dumps(value, ensure_ascii=False), ts(at))
        await self._run(
            """INSERT INTO plugin_data (plugin, scope, key, value, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (plugin, scope, key) DO UPDATE SET
                     value = excluded.value, updated_at = excluded.updated_at""",
            params,
        )

    async def kv_delete(self, plugin: str, scope: str, key: str) -> None:
        params = (plugin, scope, key)
        await self._run(
            "DELETE FROM plugin_data WHERE plugin = ? AND scope = ? AND key = ?", params
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


_PRIMARY_KEY = itemgetter(0, 1, 2)


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
_MEMBER_KEYS = (
    "SELECT platform, scope, user_id FROM members"
    " UNION SELECT platform, scope, user_id FROM strikes"
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
