"""Persisted jobs behind APScheduler 3.

Job specifications (kind, owner, chat, payload, trigger) live in Steward's database, never as
pickled callables: at start-up every stored job is armed again, and code finds its handler by
`kind`. One-shot jobs whose time passed while the bot was down run once at start-up; a cron job
that missed several runs runs once (misfires coalesce), then continues on its schedule.

In real time, APScheduler's asyncio scheduler wakes Steward when a job is due. Tests and the
console's virtual time drive the same code with `run_due()` after moving the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock
from bot.storage.base import Job, Store

log = logging.getLogger("steward.scheduler")

JobHandler = Callable[[Job], Awaitable[None]]


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger from a crontab line (`0 9 * * mon`); ValueError says what is wrong."""
    return CronTrigger.from_crontab(expression, timezone=timezone)


def next_cron_time(trigger_spec: dict[str, Any], after: datetime) -> datetime | None:
    trigger = cron_trigger(str(trigger_spec["cron"]), str(trigger_spec.get("timezone", "UTC")))
    fire: datetime | None = trigger.get_next_fire_time(None, after)
    return fire


class Scheduler:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._handlers: dict[str, JobHandler] = {}
        self._aps: AsyncIOScheduler | None = None
        self._running = False

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    async def at(
        self,
        kind: str,
        run_at: datetime,
        *,
        owner: str = "core",
        platform: str = "",
        chat: str = "",
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Run `kind` once at `run_at`."""
        job_id = await self.store.add_job(kind, owner, platform, chat, payload or {}, run_at)
        self._arm(job_id, run_at)
        return job_id

    async def cron(
        self,
        kind: str,
        expression: str,
        *,
        timezone: str = "UTC",
        owner: str = "core",
        platform: str = "",
        chat: str = "",
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Run `kind` on a crontab schedule in the given time zone."""
        spec = {"cron": expression, "timezone": timezone}
        first = next_cron_time(spec, self.clock.now())
        if first is None:
            raise ValueError(f"cron expression {expression!r} never fires")
        job_id = await self.store.add_job(kind, owner, platform, chat, payload or {}, first, spec)
        self._arm(job_id, first)
        return job_id

    async def cancel(self, kind: str, platform: str, chat: str, match: dict[str, Any]) -> int:
        return await self.store.cancel_jobs(kind, platform, chat, match)

    async def run_due(self) -> int:
        """Run every job that is due now; returns how many ran."""
        now = self.clock.now()
        ran = 0
        for job in await self.store.due_jobs(now):
            if not await self.store.job_scheduled(job.id):
                continue  # cancelled by a job that ran just before it
            await self._run(job, now)
            ran += 1
        return ran

    async def _run(self, job: Job, now: datetime) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            log.error(
                "no handler for scheduled job %s (kind %r, owner %s); leaving it",
                job.id,
                job.kind,
                job.owner,
            )
            await self.store.finish_job(job.id, now, status="orphaned")
            return
        try:
            await handler(job)
        except Exception:
            log.exception("scheduled job %s (%s) failed", job.id, job.kind)
        if job.trigger.get("cron"):
            following = next_cron_time(job.trigger, now)  # after now: missed runs coalesce into one
            if following is not None:
                await self.store.reschedule_job(job.id, following)
                self._arm(job.id, following)
                return
        await self.store.finish_job(job.id, now)

    # -- real-time driver -------------------------------------------------------------------

    async def start(self, *, real_time: bool = True) -> None:
        """Run what fell due while stopped, then (in real time) arm APScheduler for the rest."""
        self._running = True
        if real_time:
            self._aps = AsyncIOScheduler(timezone="UTC")
            self._aps.start()
        await self.run_due()
        if self._aps is not None:
            for job in await self.store.scheduled_jobs():
                self._arm(job.id, job.run_at)

    async def stop(self) -> None:
        self._running = False
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None

    def _arm(self, job_id: int, run_at: datetime) -> None:
        if self._aps is None:
            return
        self._aps.add_job(
            self.run_due,
            trigger=DateTrigger(run_date=run_at),
            id=f"steward-job-{job_id}-{run_at.timestamp()}",
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
