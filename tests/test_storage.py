"""The SQLite store (bot/storage): migrations, bad files, locks and round trips of every record."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.actions import (
    Action,
    Ban,
    Button,
    Delete,
    DirectMessage,
    Kick,
    Mute,
    NotifyAdmins,
    Permission,
    Restrict,
    Send,
    Unban,
    Unmute,
    Warn,
)
from bot.storage import (
    ActionStatus,
    CaseStatus,
    EventKey,
    MemberKey,
    MemberRecord,
    NewCase,
    SqliteStore,
    StorageError,
)
from bot.storage.migrations import LATEST, MIGRATIONS
from bot.storage.sqlite import AUTOCHECKPOINT_PAGES
from bot.testing import StewardHarness
from rules.ladder import StrikeEntry

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ALICE = MemberKey("telegram", "-100123", "42")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "steward.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


def new_case(**changes: Any) -> NewCase:
    fields: dict[str, Any] = {
        "member": ALICE,
        "chat": "-100123",
        "user_name": "Alice",
        "source": "rule",
        "created_at": T0,
        "rule_id": "scam",
        "actor_id": "steward",
        "reason": "No scams",
        "evidence": ("scam: keyword 'free crypto'", "scam: second line"),
        "excerpt": "free crypto for all",
        "message_id": "m-7",
        "event_id": "e-7",
        "points": 2,
        "strikes_before": 1,
        "strikes_after": 3,
        "step": "mute for 1d",
    }
    fields.update(changes)
    return NewCase(**fields)


# -- migrations and schema version --------------------------------------------------------------


async def test_a_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.close()

    with sqlite3.connect(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert (version, mode) == (LATEST, "wal")
    assert tables >= {
        "chats",
        "members",
        "cases",
        "strikes",
        "actions",
        "processed_events",
        "jobs",
        "plugin_data",
    }


async def test_members_written_by_schema_1_survive_the_move_to_a_table_without_rowid(
    tmp_path: Path,
) -> None:
    path = tmp_path / "steward.sqlite3"
    with sqlite3.connect(path) as db:  # a database as Steward's first schema left it
        db.executescript(MIGRATIONS[0][1])
        db.execute(
            "INSERT INTO members (platform, scope, user_id, name, username, first_seen,"
            " last_seen, joined_at, message_count, level, level_locked)"
            " VALUES ('telegram', '-100123', '42', 'Alice', 'alice', ?, ?, NULL, 17, 2, 1)",
            (T0.isoformat(), (T0 + timedelta(days=1)).isoformat()),
        )
        db.execute("PRAGMA user_version = 1")
    db.close()

    store = SqliteStore(path)
    await store.open()
    try:
        record = await store.member(ALICE)
        found = await store.find_member("telegram", "-100123", "@ALICE")
    finally:
        await store.close()
    assert record is not None and found is not None
    assert (record.name, record.username, record.message_count, record.level) == (
        "Alice",
        "alice",
        17,
        2,
    )
    assert record.level_locked and record.last_seen == T0 + timedelta(days=1)
    assert found.key.user_id == "42"
    with sqlite3.connect(path) as db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'members'").fetchone()[0]
        indexes = db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'members'")
        names = {row[0] for row in indexes}
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert "WITHOUT ROWID" in sql
    assert names == {"members"}  # the table alone: no rowid key index, no username index
    assert version == LATEST


async def test_buffered_batches_are_checkpointed_into_the_database_file_in_the_background(
    store: SqliteStore,
) -> None:
    database = Path(store.path)
    before = database.stat().st_size  # until a checkpoint, new pages live in the WAL only
    members = [
        MemberRecord(key=MemberKey("telegram", "-100123", str(n)), first_seen=T0, last_seen=T0)
        for n in range(3000)
    ]
    await store.save_members(members)
    assert store._checkpointing is not None
    await store._checkpointing
    assert database.stat().st_size > before + 100_000
    with sqlite3.connect(database) as db:  # and the WAL has nothing left to copy
        busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    db.close()
    assert (busy, copied) == (0, frames)


async def test_a_failed_checkpoint_is_logged_and_loses_nothing(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_checkpoint", refuse)
    record = MemberRecord(key=ALICE, first_seen=T0, last_seen=T0, message_count=3)
    await store.save_members([record])
    assert store._checkpointing is not None
    await asyncio.gather(store._checkpointing, return_exceptions=True)
    await asyncio.sleep(0)  # the done callback runs on the next turn of the loop
    assert f"checkpoint of database {store.path} failed: disk I/O error" in caplog.text
    saved = await store.member(ALICE)
    assert saved is not None and saved.message_count == 3


async def test_opening_again_keeps_the_data_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    first = SqliteStore(path)
    await first.open()
    await first.kv_set("plugin", "scope", "key", {"kept": True}, T0)
    await first.close()

    second = SqliteStore(path)
    await second.open()
    try:
        assert await second.kv_get("plugin", "scope", "key") == {"kept": True}
    finally:
        await second.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST


async def test_a_database_from_a_newer_steward_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")

    with pytest.raises(StorageError) as caught:
        await SqliteStore(path).open()

    assert str(caught.value) == (
        f"database {path} was written by a newer Steward (schema {LATEST + 1}; "
        f"this version knows up to {LATEST}); upgrade Steward or use another file"
    )
    with sqlite3.connect(path) as db:  # left untouched
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST + 1
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


async def test_the_runtime_does_not_start_on_a_newer_database(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 5}")
    harness = StewardHarness(database=path)

    try:
        with pytest.raises(StorageError, match="newer Steward"):
            await harness.start()
    finally:
        await harness.close()


# -- files that cannot be used ------------------------------------------------------------------


async def test_a_path_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be", encoding="utf-8")
    path = blocker / "steward.sqlite3"

    with pytest.raises(StorageError) as caught:
        await SqliteStore(path).open()

    message = str(caught.value)
    assert message.startswith(f"cannot create the directory for database {path}: ")
    assert message.endswith("; choose another `storage.path`")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_a_read_only_directory_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(StorageError) as caught:
            await SqliteStore(directory / "steward.sqlite3").open()
    finally:
        directory.chmod(0o700)

    assert "permission denied" in str(caught.value)


async def test_a_corrupt_file_is_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    garbage = b"this is not an SQLite database " * 200
    path.write_bytes(garbage)

    with pytest.raises(StorageError) as caught:
        await SqliteStore(path).open()

    assert str(caught.value) == (
        f"database {path} is damaged or not a Steward database (file is not a database); "
        "restore a backup or move the file away to start afresh"
    )
    assert path.read_bytes() == garbage


async def test_a_locked_database_is_a_clear_error_within_seconds(tmp_path: Path) -> None:
    """Both at start-up (a fresh file) and for a write while running (an opened store)."""
    fresh = tmp_path / "fresh.sqlite3"
    running = tmp_path / "running.sqlite3"
    opened = SqliteStore(running)
    await opened.open()
    holders = []
    for path in (fresh, running):
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("CREATE TABLE IF NOT EXISTS other (x)")
        holder.execute("BEGIN EXCLUSIVE")
        holders.append(holder)

    async def expect_locked(attempt: Any) -> str:
        with pytest.raises(StorageError) as caught:
            await asyncio.wait_for(attempt, timeout=15)
        return str(caught.value)

    began = time.monotonic()
    try:
        at_start, while_running = await asyncio.gather(
            expect_locked(SqliteStore(fresh).open()),
            expect_locked(opened.kv_set("plugin", "scope", "key", 1, T0)),
        )
    finally:
        for holder in holders:
            holder.execute("ROLLBACK")
            holder.close()
    elapsed = time.monotonic() - began

    assert at_start == (
        f"database {fresh} is locked by another process; "
        "is another Steward running with the same file?"
    )
    assert while_running == (
        f"database {running} is locked by another process; "
        "is another Steward running with the same file?"
    )
    assert elapsed < 10
    # Once the other process lets go, the running store works again.
    await opened.kv_set("plugin", "scope", "key", 1, T0)
    assert await opened.kv_get("plugin", "scope", "key") == 1
    await opened.close()


async def test_a_small_write_waits_its_turn_behind_a_batch_being_written(
    store: SqliteStore,
) -> None:
    """Small writes run in the event loop's thread only while the database thread is idle, so
    one issued during a buffered batch lands after it, as it would in the thread."""
    rows = [("p", "s", f"k{i}", '"batch"', "2026-03-01T09:30:00.000000+00:00") for i in range(5000)]
    batch = asyncio.ensure_future(
        store._run_many(
            "INSERT INTO plugin_data (plugin, scope, key, value, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    )
    await asyncio.sleep(0)  # the batch is with the database thread now
    await store._run("UPDATE plugin_data SET value = '\"small\"' WHERE key = 'k4999'")
    await batch
    assert await store.kv_get("p", "s", "k4999") == "small"
    assert await store.kv_get("p", "s", "k0") == "batch"


async def test_a_write_in_the_event_loop_leaves_the_connection_settings_as_they_were(
    store: SqliteStore,
) -> None:
    await store.kv_set("plugin", "scope", "key", 1, T0)  # idle database thread: run inline
    case_id, action_ids = await store.record_case(new_case(), [], None)
    assert case_id > 0 and action_ids == []
    assert await store._one("PRAGMA busy_timeout") == (5000,)
    assert await store._one("PRAGMA wal_autocheckpoint") == (AUTOCHECKPOINT_PAGES,)
    assert await store.kv_get("plugin", "scope", "key") == 1


async def test_a_small_write_that_finds_the_database_locked_waits_in_the_thread(
    store: SqliteStore, tmp_path: Path
) -> None:
    """The event loop never waits for another process's lock: the write goes to the database
    thread, which waits (busy timeout) while the loop keeps turning, and then succeeds."""
    holder = sqlite3.connect(tmp_path / "steward.sqlite3", isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    writing = asyncio.ensure_future(store.kv_set("plugin", "scope", "key", 2, T0))
    turns = 0
    for _ in range(20):  # the loop turns while the write waits for the lock
        await asyncio.sleep(0.01)
        turns += 1
    assert not writing.done()
    holder.execute("ROLLBACK")
    holder.close()
    await asyncio.wait_for(writing, timeout=5)
    assert turns == 20
    assert await store.kv_get("plugin", "scope", "key") == 2


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "steward.sqlite3")

    with pytest.raises(StorageError, match="the store is not open"):
        await store.seen(EventKey("p", "c", "e"))


async def test_an_in_memory_store_works_for_tests() -> None:
    store = SqliteStore(":memory:")
    await store.open()
    try:
        await store.kv_set("p", "s", "k", [1, 2], T0)
        assert await store.kv_get("p", "s", "k") == [1, 2]
    finally:
        await store.close()


# -- events -------------------------------------------------------------------------------------


async def test_processed_events_round_trip_and_age_out(store: SqliteStore) -> None:
    old = EventKey("telegram", "-100123", "1")
    new = EventKey("telegram", "-100123", "2")
    assert await store.seen(old) is False

    await store.mark_seen([(old, T0), (new, T0 + timedelta(days=2))])
    await store.mark_seen([(old, T0)])  # marking twice is harmless

    assert (await store.seen(old), await store.seen(new)) == (True, True)
    assert await store.seen(EventKey("telegram", "-100999", "1")) is False
    assert await store.forget_events_before(T0 + timedelta(days=1)) == 1
    assert (await store.seen(old), await store.seen(new)) == (False, True)


# -- chats and members --------------------------------------------------------------------------


async def test_chats_round_trip(store: SqliteStore) -> None:
    await store.upsert_chat("telegram", "-1", "-1", "Old title", T0)
    await store.upsert_chat("telegram", "-1", "-1", "", T0)  # an empty title keeps the old one
    assert await store.chat_active("telegram", "-1") is True

    await store.set_chat_active("telegram", "-1", False)
    assert await store.chat_active("telegram", "-1") is False
    await store.upsert_chat("telegram", "-1", "-1", "New title", T0)  # seen again: active
    assert await store.chat_active("telegram", "-1") is True
    assert await store.chat_active("telegram", "-404") is None


async def test_members_round_trip(store: SqliteStore) -> None:
    record = MemberRecord(
        key=ALICE,
        first_seen=T0,
        last_seen=T0 + timedelta(hours=5),
        name="Alice",
        username="Alice_W",
        joined_at=T0 - timedelta(days=3),
        message_count=17,
        level=2,
        level_locked=True,
    )
    never_joined = MemberRecord(
        key=MemberKey("telegram", "-100123", "7"), first_seen=T0, last_seen=T0
    )

    await store.save_members([record, never_joined])

    assert await store.member(ALICE) == record
    assert await store.member(never_joined.key) == never_joined
    assert await store.member(MemberKey("telegram", "-100123", "404")) is None
    assert await store.find_member("telegram", "-100123", "@alice_w") == record
    assert await store.find_member("telegram", "-100999", "@alice_w") is None

    record.message_count = 18
    record.last_seen = T0 + timedelta(hours=6)
    await store.save_members([record])
    assert await store.member(ALICE) == record


async def test_a_supergroup_migration_moves_the_history(store: SqliteStore) -> None:
    await store.upsert_chat("telegram", "-1", "-1", "Group", T0)
    key = MemberKey("telegram", "-1", "42")
    await store.save_members([MemberRecord(key=key, first_seen=T0, last_seen=T0)])
    await store.record_case(new_case(member=key, chat="-1"), [], None)

    await store.move_chat("telegram", "-1", "-100777")

    moved = MemberKey("telegram", "-100777", "42")
    assert await store.member(moved) is not None
    assert await store.strikes(moved) == [StrikeEntry(T0, 2)]
    [case] = await store.cases_for(moved)
    assert case.chat == "-100777"
    assert await store.chat_active("telegram", "-1") is False


# -- strikes and cases --------------------------------------------------------------------------


async def test_a_case_round_trips_with_its_strike(store: SqliteStore) -> None:
    case = new_case()

    case_id, action_ids = await store.record_case(case, [], EventKey("telegram", "-100123", "e-7"))

    assert action_ids == []
    stored = await store.case(case_id)
    assert stored is not None
    assert stored.id == case_id
    assert NewCase(**{f: getattr(stored, f) for f in NewCase.__dataclass_fields__}) == case
    assert (stored.status, stored.appeal, stored.resolved_at) == (CaseStatus.OPEN, "", None)
    assert await store.strikes(ALICE) == [StrikeEntry(T0, 2)]
    assert await store.seen(EventKey("telegram", "-100123", "e-7")) is True
    assert await store.case(case_id + 1) is None


async def test_a_case_without_points_adds_no_strike(store: SqliteStore) -> None:
    await store.record_case(new_case(points=0), [], None)

    assert await store.strikes(ALICE) == []


async def test_the_evidence_excerpt_is_kept_short(store: SqliteStore) -> None:
    case_id, _ = await store.record_case(new_case(excerpt="x" * 5000), [], None)

    stored = await store.case(case_id)
    assert stored is not None
    assert stored.excerpt == "x" * 200


async def test_times_are_stored_and_returned_in_utc(store: SqliteStore) -> None:
    berlin = timezone(timedelta(hours=1))
    case_id, _ = await store.record_case(
        new_case(created_at=datetime(2026, 3, 1, 10, 30, tzinfo=berlin)), [], None
    )

    stored = await store.case(case_id)
    assert stored is not None
    assert stored.created_at == T0
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_strikes_come_back_in_time_order_with_pardons(store: SqliteStore) -> None:
    await store.add_strike(ALICE, T0 + timedelta(days=2), -1, None, "pardon")
    await store.record_case(new_case(), [], None)
    await store.add_strike(ALICE, T0 + timedelta(days=1), 1, None, "admin warning")

    assert await store.strikes(ALICE) == [
        StrikeEntry(T0, 2),
        StrikeEntry(T0 + timedelta(days=1), 1),
        StrikeEntry(T0 + timedelta(days=2), -1),
    ]
    assert await store.strikes(MemberKey("telegram", "-100123", "other")) == []


async def test_cases_for_a_member_newest_first_with_a_limit(store: SqliteStore) -> None:
    ids = [(await store.record_case(new_case(points=0), [], None))[0] for _ in range(5)]
    await store.record_case(new_case(member=MemberKey("telegram", "-100123", "bob")), [], None)

    assert [c.id for c in await store.cases_for(ALICE)] == ids[::-1]
    assert [c.id for c in await store.cases_for(ALICE, limit=2)] == ids[:2:-1]


async def test_case_updates_round_trip(store: SqliteStore) -> None:
    case_id, _ = await store.record_case(new_case(), [], None)
    resolved = T0 + timedelta(hours=2)

    await store.update_case(case_id, status=CaseStatus.APPEALED.value, appeal="it was a joke")
    await store.update_case(
        case_id,
        status=CaseStatus.PARDONED.value,
        resolved_by="ada",
        resolved_at=resolved,
        resolution="pardoned",
    )

    stored = await store.case(case_id)
    assert stored is not None
    assert (stored.status, stored.appeal, stored.resolved_by) == (
        CaseStatus.PARDONED,
        "it was a joke",
        "ada",
    )
    assert (stored.resolved_at, stored.resolution) == (resolved, "pardoned")


async def test_case_fields_that_are_history_cannot_be_updated(store: SqliteStore) -> None:
    case_id, _ = await store.record_case(new_case(), [], None)

    with pytest.raises(ValueError, match="cannot update case fields"):
        await store.update_case(case_id, points=0)


async def test_recording_a_case_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    store = SqliteStore(path)
    await store.open()
    # Make the last part of the unit of work (its actions) fail, as a full disk would.
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER no_actions BEFORE INSERT ON actions "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    try:
        with pytest.raises(sqlite3.DatabaseError, match="disk full"):
            await store.record_case(
                new_case(), [Kick(chat="c", user="42")], EventKey("t", "c", "e")
            )

        assert await store.cases_for(ALICE) == []
        assert await store.strikes(ALICE) == []
        assert await store.seen(EventKey("t", "c", "e")) is False
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER no_actions")
        case_id, _ = await store.record_case(new_case(), [], None)  # still usable
        assert await store.case(case_id) is not None
    finally:
        await store.close()


# -- actions ------------------------------------------------------------------------------------

EVERY_ACTION: list[Action] = [
    Delete(chat="c", message_id="m1", reason="spam"),
    Warn(chat="c", user="42", user_name="Alice", text="careful", reason="r"),
    Mute(chat="c", user="42", until=T0 + timedelta(hours=1)),
    Mute(chat="c", user="42", until=None),
    Restrict(
        chat="c",
        user="42",
        denied=frozenset({Permission.SEND_MEDIA, Permission.SEND_LINKS}),
        until=T0 + timedelta(days=1),
    ),
    Kick(chat="c", user="42", user_name="Alice"),
    Ban(chat="c", user="42", until=T0 + timedelta(days=7), delete_recent_messages=True),
    Ban(chat="c", user="42"),
    Unmute(chat="c", user="42"),
    Unban(chat="c", user="42"),
    Send(
        chat="c",
        text="hello «world» ✓",
        reply_to="m1",
        buttons=(Button("Uphold", data="x:1"), Button("Docs", url="https://example.com")),
    ),
    DirectMessage(chat="c", user="42", text="psst"),
    NotifyAdmins(chat="c", text="look", buttons=(Button("Pardon", data="p:1"),)),
]


async def test_every_action_kind_round_trips_as_a_pending_action(store: SqliteStore) -> None:
    case_id, action_ids = await store.record_case(new_case(), EVERY_ACTION, None)

    pending = await store.pending_actions()

    assert [r.action for r in pending] == EVERY_ACTION
    assert [r.id for r in pending] == action_ids
    assert {(r.case_id, r.platform, r.status, r.created_at) for r in pending} == {
        (case_id, "telegram", ActionStatus.PENDING, T0)
    }
    assert [r.action for r in await store.actions_for_case(case_id)] == EVERY_ACTION


async def test_finishing_actions_records_status_reason_and_note(store: SqliteStore) -> None:
    case_id, (done, failed, skipped) = await store.record_case(new_case(), EVERY_ACTION[:3], None)
    later = T0 + timedelta(seconds=3)

    await store.finish_action(done, ActionStatus.DONE, later, note="clamped to 366d")
    await store.finish_action(failed, ActionStatus.FAILED, later, reason="missing right")
    await store.finish_action(skipped, ActionStatus.SKIPPED, later, reason="admin")

    assert await store.pending_actions() == []
    records = await store.actions_for_case(case_id)
    assert [(r.status, r.reason, r.note, r.finished_at) for r in records] == [
        (ActionStatus.DONE, "", "clamped to 366d", later),
        (ActionStatus.FAILED, "missing right", "", later),
        (ActionStatus.SKIPPED, "admin", "", later),
    ]


async def test_actions_without_a_case(store: SqliteStore) -> None:
    [action_id] = await store.add_actions(None, "discord", [Unban(chat="g", user="9")], T0)

    [record] = await store.pending_actions()

    assert (record.id, record.case_id, record.platform) == (action_id, None, "discord")


# -- jobs ---------------------------------------------------------------------------------------


async def test_jobs_round_trip(store: SqliteStore) -> None:
    trigger = {"cron": "0 9 * * mon", "timezone": "Europe/Berlin"}
    later = await store.add_job(
        "core.unban", "core", "discord", "g", {"user": "9"}, T0 + timedelta(days=7)
    )
    soon = await store.add_job("digest.weekly", "digest", "telegram", "-1", {}, T0, trigger)

    [due] = await store.due_jobs(T0)
    assert (due.id, due.kind, due.owner, due.platform, due.chat) == (
        soon,
        "digest.weekly",
        "digest",
        "telegram",
        "-1",
    )
    assert (due.payload, due.run_at, due.trigger) == ({}, T0, trigger)
    assert [j.id for j in await store.scheduled_jobs()] == [soon, later]

    await store.reschedule_job(soon, T0 + timedelta(days=14))
    assert [j.id for j in await store.scheduled_jobs()] == [later, soon]
    assert await store.due_jobs(T0 + timedelta(days=7)) != []

    await store.finish_job(later, T0 + timedelta(days=7))
    await store.finish_job(soon, T0 + timedelta(days=14), status="orphaned")
    assert await store.scheduled_jobs() == []


async def test_cancelling_jobs_matches_kind_place_and_payload(store: SqliteStore) -> None:
    mine = await store.add_job("core.unban", "core", "discord", "g", {"user": "9", "x": 1}, T0)
    await store.add_job("core.unban", "core", "discord", "g", {"user": "10"}, T0)
    await store.add_job("core.unban", "core", "discord", "other", {"user": "9"}, T0)
    await store.add_job("core.unmute", "core", "discord", "g", {"user": "9"}, T0)

    assert await store.cancel_jobs("core.unban", "discord", "g", {"user": "9"}) == 1

    remaining = await store.scheduled_jobs()
    assert mine not in [j.id for j in remaining]
    assert len(remaining) == 3


# -- plugin key-value data ----------------------------------------------------------------------


async def test_plugin_data_round_trips_namespaced_by_plugin_and_scope(store: SqliteStore) -> None:
    value = {"count": 3, "names": ["Ana", "Бо"], "nested": {"ok": True}, "none": None}
    await store.kv_set("welcome", "telegram:-1", "greeting", value, T0)
    await store.kv_set("welcome", "telegram:-2", "greeting", "other scope", T0)
    await store.kv_set("digest", "telegram:-1", "greeting", "other plugin", T0)

    assert await store.kv_get("welcome", "telegram:-1", "greeting") == value
    assert await store.kv_get("welcome", "telegram:-2", "greeting") == "other scope"
    assert await store.kv_get("digest", "telegram:-1", "greeting") == "other plugin"
    assert await store.kv_get("welcome", "telegram:-1", "missing") is None

    await store.kv_set("welcome", "telegram:-1", "greeting", 5, T0 + timedelta(hours=1))
    assert await store.kv_get("welcome", "telegram:-1", "greeting") == 5


async def test_plugin_data_keys_by_prefix_and_delete(store: SqliteStore) -> None:
    for key in ("user:1", "user:2", "user_3", "settings", "user:10"):
        await store.kv_set("p", "s", key, key, T0)
    await store.kv_set("p", "other", "user:99", 0, T0)

    assert await store.kv_keys("p", "s", "user:") == ["user:1", "user:10", "user:2"]
    assert await store.kv_keys("p", "s") == ["settings", "user:1", "user:10", "user:2", "user_3"]
    assert await store.kv_keys("p", "s", "user%") == []  # the prefix is literal text

    await store.kv_delete("p", "s", "user:1")
    await store.kv_delete("p", "s", "never-there")
    assert await store.kv_get("p", "s", "user:1") is None
    assert await store.kv_keys("p", "s", "user:") == ["user:10", "user:2"]
