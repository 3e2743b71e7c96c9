"""Persisted jobs (bot/scheduler.py): re-armed after restarts, missed runs, failures, orphans.

The scheduler is driven by a virtual clock and `run_due()`, as the harness and the console do;
one test lets APScheduler fire a re-armed job in real time (a fraction of a second).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SystemClock, VirtualClock
from bot.scheduler import (
    FAILURE_KEY,
    GIVE_UP_AFTER,
    MAX_ATTEMPTS,
    RETRY_KEY,
    RETRY_LONGEST,
    JobFailedError,
    RetryLaterError,
    Scheduler,
)
from bot.storage.base import Job
from bot.storage.sqlite import SqliteStore

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday


class Rig:
    """A scheduler on an SQLite file that can be stopped and started again, like a process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = VirtualClock(T0)
        self.ran: list[tuple[str, datetime, dict[str, object]]] = []
        self.store: SqliteStore | None = None
        self.scheduler: Scheduler | None = None

    async def start(self, *, failing: frozenset[str] = frozenset()) -> Scheduler:
        self.store = SqliteStore(self.path)
        await self.store.open()
        scheduler = Scheduler(self.store, self.clock)
        for kind in ("test.remind", "test.digest", "test.other"):
            scheduler.register(kind, self._handler(kind, kind in failing))
        self.scheduler = scheduler
        await scheduler.start(real_time=False)
        return scheduler

    def _handler(self, kind: str, fail: bool):  # type: ignore[no-untyped-def]
        async def handle(job: Job) -> None:
            self.ran.append((kind, self.clock.now(), job.payload))
            if fail:
                raise RuntimeError(f"{kind} is broken")

        return handle

    async def stop(self) -> None:
        assert self.scheduler is not None and self.store is not None
        await self.scheduler.stop()
        await self.store.close()

    async def advance(self, delta: timedelta) -> int:
        assert self.scheduler is not None
        self.clock.advance(delta)
        return await self.scheduler.run_due()

    def statuses(self) -> dict[int, str]:
        with sqlite3.connect(self.path) as db:
            return dict(db.execute("SELECT id, status FROM jobs ORDER BY id").fetchall())


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path / "steward.sqlite3")
    await made.start()
    yield made
    if made.store is not None and made.store._db is not None:
        await made.stop()


def kinds_and_times(rig: Rig) -> list[tuple[str, datetime]]:
    return [(kind, at) for kind, at, _ in rig.ran]


# -- one-shot jobs ------------------------------------------------------------------------------


async def test_a_job_runs_when_due_with_its_payload(rig: Rig) -> None:
    assert rig.scheduler is not None
    await rig.scheduler.at("test.remind", T0 + timedelta(hours=2), payload={"user": "42"})

    assert await rig.advance(timedelta(hours=1, minutes=59)) == 0
    assert await rig.advance(timedelta(minutes=1)) == 1

    assert rig.ran == [("test.remind", T0 + timedelta(hours=2), {"user": "42"})]
    assert await rig.advance(timedelta(days=1)) == 0


async def test_jobs_are_persisted_and_rearmed_after_a_restart(rig: Rig) -> None:
    assert rig.scheduler is not None
    job_id = await rig.scheduler.at(
        "test.remind", T0 + timedelta(days=2), owner="reminders", platform="telegram", chat="-1"
    )
    await rig.stop()

    scheduler = await rig.start()
    [job] = await scheduler.store.scheduled_jobs()
    assert (job.id, job.kind, job.owner, job.platform, job.chat, job.run_at) == (
        job_id,
        "test.remind",
        "reminders",
        "telegram",
        "-1",
        T0 + timedelta(days=2),
    )

    await rig.advance(timedelta(days=2))

    assert kinds_and_times(rig) == [("test.remind", T0 + timedelta(days=2))]


async def test_a_one_shot_job_due_during_downtime_runs_once_at_start(rig: Rig) -> None:
    assert rig.scheduler is not None
    await rig.scheduler.at("test.remind", T0 + timedelta(hours=1))
    await rig.stop()
    rig.clock.advance(timedelta(days=3))

    await rig.start()

    assert kinds_and_times(rig) == [("test.remind", T0 + timedelta(days=3))]
    await rig.stop()
    await rig.start()
    await rig.advance(timedelta(days=1))
    assert len(rig.ran) == 1


# -- cron jobs ----------------------------------------------------------------------------------


async def test_a_cron_job_runs_on_its_schedule(rig: Rig) -> None:
    assert rig.scheduler is not None
    await rig.scheduler.cron("test.digest", "0 9 * * *")

    await rig.advance(timedelta(hours=2, minutes=59))
    assert rig.ran == []
    await rig.advance(timedelta(minutes=1))
    await rig.advance(timedelta(days=1))
    await rig.advance(timedelta(days=1))

    nine = T0.replace(hour=9)
    assert kinds_and_times(rig) == [
        ("test.digest", nine),
        ("test.digest", nine + timedelta(days=1)),
        ("test.digest", nine + timedelta(days=2)),
    ]


async def test_cron_runs_missed_while_down_coalesce_into_one_then_continue(rig: Rig) -> None:
    assert rig.scheduler is not None
    job_id = await rig.scheduler.cron("test.digest", "0 9 * * *")
    await rig.stop()
    rig.clock.advance(timedelta(days=5))  # five 9 o'clocks missed; now Saturday 06:00

    scheduler = await rig.start()

    assert kinds_and_times(rig) == [("test.digest", T0 + timedelta(days=5))]
    [job] = await scheduler.store.scheduled_jobs()
    assert (job.id, job.run_at) == (job_id, T0.replace(hour=9) + timedelta(days=5))
    await rig.advance(timedelta(hours=3))
    assert kinds_and_times(rig)[1:] == [("test.digest", T0.replace(hour=9) + timedelta(days=5))]


async def test_cron_in_a_chat_time_zone(rig: Rig) -> None:
    assert rig.scheduler is not None
    await rig.scheduler.cron("test.digest", "0 9 * * mon", timezone="Europe/Berlin")

    [job] = await rig.scheduler.store.scheduled_jobs()

    # 09:00 in Berlin in January is 08:00 UTC; T0 is Monday 06:00 UTC.
    assert job.run_at == T0.replace(hour=8)
    assert job.trigger == {"cron": "0 9 * * mon", "timezone": "Europe/Berlin"}


async def test_a_bad_cron_expression_is_refused(rig: Rig) -> None:
    assert rig.scheduler is not None

    with pytest.raises(ValueError):
        await rig.scheduler.cron("test.digest", "every monday")

    assert await rig.scheduler.store.scheduled_jobs() == []


# -- failures and orphans -----------------------------------------------------------------------


async def test_a_failing_job_does_not_stop_the_others(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "steward.sqlite3")
    scheduler = await rig.start(failing=frozenset({"test.remind"}))
    try:
        broken = await scheduler.at("test.remind", T0 + timedelta(minutes=5))
        fine = await scheduler.at("test.other", T0 + timedelta(minutes=5))
        cron = await scheduler.cron("test.digest", "*/10 * * * *")

        assert await rig.advance(timedelta(minutes=10)) == 3

        assert sorted(kind for kind, _, _ in rig.ran) == [
            "test.digest",
            "test.other",
            "test.remind",
        ]
        # A failed one-shot job is finished, not retried forever.
        assert rig.statuses() == {broken: "done", fine: "done", cron: "scheduled"}
        await rig.advance(timedelta(hours=1))
        assert [kind for kind, _, _ in rig.ran].count("test.remind") == 1
    finally:
        await rig.stop()


async def test_a_failing_cron_job_keeps_its_schedule(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "steward.sqlite3")
    scheduler = await rig.start(failing=frozenset({"test.digest"}))
    try:
        await scheduler.cron("test.digest", "0 * * * *")

        await rig.advance(timedelta(hours=1))
        await rig.advance(timedelta(hours=1))

        assert len(rig.ran) == 2
    finally:
        await rig.stop()


async def test_a_job_of_an_unknown_kind_is_marked_orphaned(rig: Rig) -> None:
    assert rig.scheduler is not None
    orphan = await rig.scheduler.at("plugin.gone", T0 + timedelta(minutes=1), owner="removed")
    known = await rig.scheduler.at("test.remind", T0 + timedelta(minutes=1))

    await rig.advance(timedelta(minutes=1))

    assert rig.statuses() == {orphan: "orphaned", known: "done"}
    assert kinds_and_times(rig) == [("test.remind", T0 + timedelta(minutes=1))]
    await rig.advance(timedelta(days=1))
    assert rig.statuses()[orphan] == "orphaned"


async def test_an_orphan_left_from_a_previous_run_is_marked_at_start(rig: Rig) -> None:
    assert rig.scheduler is not None
    orphan = await rig.scheduler.at("plugin.gone", T0 + timedelta(minutes=1))
    await rig.stop()
    rig.clock.advance(timedelta(hours=1))

    await rig.start()

    assert rig.statuses() == {orphan: "orphaned"}


async def test_cancelled_jobs_do_not_run(rig: Rig) -> None:
    assert rig.scheduler is not None
    await rig.scheduler.at("test.remind", T0 + timedelta(hours=1), chat="c", payload={"user": "1"})
    await rig.scheduler.at("test.remind", T0 + timedelta(hours=1), chat="c", payload={"user": "2"})

    assert await rig.scheduler.cancel("test.remind", "", "c", {"user": "1"}) == 1
    await rig.advance(timedelta(hours=1))

    assert [payload for _, _, payload in rig.ran] == [{"user": "2"}]


# -- real time ----------------------------------------------------------------------------------


async def test_in_real_time_a_stored_job_is_armed_at_start_and_fires(tmp_path: Path) -> None:
    path = tmp_path / "steward.sqlite3"
    store = SqliteStore(path)
    await store.open()
    clock = SystemClock()
    fired = asyncio.Event()

    async def handle(job: Job) -> None:
        fired.set()

    # Stored by an earlier run: due a moment from now.
    await store.add_job(
        "test.remind", "core", "", "", {}, clock.now() + timedelta(milliseconds=400)
    )
    scheduler = Scheduler(store, clock)
    scheduler.register("test.remind", handle)
    await scheduler.start(real_time=True)
    try:
        assert fired.is_set() is False
        await asyncio.wait_for(fired.wait(), timeout=5)
    finally:
        await scheduler.stop()
        await store.close()


# -- temporary and permanent failures of one-shot jobs -------------------------------------------


class Flaky:
    """A handler that fails temporarily `times` times (or for good), then works."""

    def __init__(self, clock: VirtualClock, *, times: int | None = None, fail: str = "") -> None:
        self.clock = clock
        self.times = times
        self.fail = fail
        self.runs: list[datetime] = []
        self.gave_up: list[tuple[int, str]] = []

    async def __call__(self, job: Job) -> None:
        self.runs.append(self.clock.now())
        if self.fail:
            raise JobFailedError(self.fail)
        if self.times is None or len(self.runs) <= self.times:
            raise RetryLaterError("not connected")

    async def give_up(self, job: Job, reason: str) -> None:
        self.gave_up.append((job.id, reason))


async def flaky_scheduler(tmp_path: Path, flaky: Flaky) -> tuple[Scheduler, SqliteStore]:
    store = SqliteStore(tmp_path / "steward.sqlite3")
    await store.open()
    scheduler = Scheduler(store, flaky.clock)
    scheduler.register("test.undo", flaky, gave_up=flaky.give_up)
    await scheduler.start(real_time=False)
    return scheduler, store


def job_row(path: Path, job_id: int) -> tuple[str, str, dict[str, object]]:
    with sqlite3.connect(path) as db:
        status, run_at, payload = db.execute(
            "SELECT status, run_at, payload FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
    return status, run_at, json.loads(payload)


async def test_a_temporary_failure_retries_the_job_with_a_growing_backoff(tmp_path: Path) -> None:
    clock = VirtualClock(T0)
    flaky = Flaky(clock, times=3)
    scheduler, store = await flaky_scheduler(tmp_path, flaky)
    try:
        job_id = await scheduler.at("test.undo", T0 + timedelta(hours=1), payload={"user": "9"})
        for step in (timedelta(hours=1), timedelta(minutes=1), timedelta(minutes=2)):
            clock.advance(step)
            await scheduler.run_due()
            assert job_row(tmp_path / "steward.sqlite3", job_id)[0] == "scheduled"
        clock.advance(timedelta(minutes=3, seconds=59))
        assert await scheduler.run_due() == 0  # the fourth try waits 4 minutes
        clock.advance(timedelta(seconds=1))
        await scheduler.run_due()

        start = T0 + timedelta(hours=1)
        assert flaky.runs == [
            start,
            start + timedelta(minutes=1),
            start + timedelta(minutes=3),
            start + timedelta(minutes=7),
        ]
        status, _, payload = job_row(tmp_path / "steward.sqlite3", job_id)
        assert status == "done"
        assert payload["user"] == "9"
        assert payload[RETRY_KEY] == {
            "attempts": 3,
            "since": start.isoformat(),
            "reason": "not connected",
        }
        assert flaky.gave_up == []
    finally:
        await scheduler.stop()
        await store.close()


async def test_the_backoff_is_capped_and_survives_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock(T0)
    flaky = Flaky(clock, times=None)
    scheduler, store = await flaky_scheduler(tmp_path, flaky)
    job_id = await scheduler.at("test.undo", T0, payload={"user": "9"})
    delays = []
    for _ in range(8):
        await scheduler.run_due()
        run_at = datetime.fromisoformat(job_row(tmp_path / "steward.sqlite3", job_id)[1])
        delays.append(run_at - clock.now())
        clock.advance(RETRY_LONGEST)
    await scheduler.stop()
    await store.close()
    minutes = [int(d.total_seconds() // 60) for d in delays]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60]

    scheduler, store = await flaky_scheduler(tmp_path, flaky)  # runs what is due at start
    try:
        assert len(flaky.runs) == 9
        status, _, payload = job_row(tmp_path / "steward.sqlite3", job_id)
        assert status == "scheduled"
        retry = payload[RETRY_KEY]
        assert isinstance(retry, dict) and retry["attempts"] == len(flaky.runs)
        assert retry["since"] == T0.isoformat()  # counted from the first failure, not reset
    finally:
        await scheduler.stop()
        await store.close()


async def test_after_a_day_of_temporary_failures_the_job_gives_up_and_says_so(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(T0)
    flaky = Flaky(clock, times=None)
    scheduler, store = await flaky_scheduler(tmp_path, flaky)
    try:
        job_id = await scheduler.at("test.undo", T0, payload={"user": "9"})
        while clock.now() < T0 + GIVE_UP_AFTER + timedelta(hours=2):
            await scheduler.run_due()
            clock.advance(timedelta(minutes=30))

        status, _, payload = job_row(tmp_path / "steward.sqlite3", job_id)
        assert status == "failed"
        assert str(payload[FAILURE_KEY]).endswith("not connected")
        assert flaky.gave_up == [(job_id, "not connected")]
        last = flaky.runs[-1]
        assert T0 + GIVE_UP_AFTER <= last < T0 + GIVE_UP_AFTER + RETRY_LONGEST
        assert len(flaky.runs) < MAX_ATTEMPTS
        runs = len(flaky.runs)
        clock.advance(timedelta(days=2))
        await scheduler.run_due()
        assert len(flaky.runs) == runs
    finally:
        await scheduler.stop()
        await store.close()


async def test_a_permanent_failure_finishes_the_job_with_its_reason(tmp_path: Path) -> None:
    clock = VirtualClock(T0)
    flaky = Flaky(clock, fail="the member is no longer in the server")
    scheduler, store = await flaky_scheduler(tmp_path, flaky)
    try:
        job_id = await scheduler.at("test.undo", T0 + timedelta(minutes=1), payload={"user": "9"})
        clock.advance(timedelta(minutes=1))
        await scheduler.run_due()
        clock.advance(timedelta(days=1))
        await scheduler.run_due()

        assert len(flaky.runs) == 1
        status, _, payload = job_row(tmp_path / "steward.sqlite3", job_id)
        assert (status, payload[FAILURE_KEY]) == ("failed", "the member is no longer in the server")
        assert flaky.gave_up == []
    finally:
        await scheduler.stop()
        await store.close()


async def test_a_cron_job_that_cannot_run_now_keeps_its_schedule(tmp_path: Path) -> None:
    clock = VirtualClock(T0)
    flaky = Flaky(clock, times=None)
    scheduler, store = await flaky_scheduler(tmp_path, flaky)
    try:
        await scheduler.cron("test.undo", "0 * * * *")
        for _ in range(3):
            clock.advance(timedelta(hours=1))
            await scheduler.run_due()

        assert flaky.runs == [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    finally:
        await scheduler.stop()
        await store.close()
