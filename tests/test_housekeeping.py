"""Processed event ids are forgotten after a week, by a stored daily job."""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.runtime import FORGET_EVENTS_JOB


def processed_ids(database: Any) -> int:
    with sqlite3.connect(database) as db:
        (count,) = db.execute("SELECT count(*) FROM processed_events").fetchone()
    return int(count)


async def test_event_ids_older_than_a_week_are_forgotten_daily(steward_factory: Any) -> None:
    steward = await steward_factory()
    await steward.say("alice", "hello everyone")
    await steward.rt.pipeline.flush()
    assert processed_ids(steward.database) == 1

    await steward.advance("6d")
    await steward.say("alice", "still here")
    await steward.rt.pipeline.flush()
    assert processed_ids(steward.database) == 2

    await steward.advance("2d")  # the first id is now 8 days old, the second 2 days

    assert processed_ids(steward.database) == 1


async def test_the_daily_job_is_scheduled_once_across_restarts(steward_factory: Any) -> None:
    steward = await steward_factory()
    await steward.restart()
    await steward.restart()

    jobs = await steward.rt.store.scheduled_jobs()

    assert [job.kind for job in jobs if job.kind == FORGET_EVENTS_JOB] == [FORGET_EVENTS_JOB]
