"""Persisted jobs behind APScheduler 3.

Job specifications (kind, owner, chat, payload, trigger) live in Steward's database, never as
pickled callables: at start-up every stored job is armed again, and code finds its handler by
`kind`. One-shot jobs whose time passed while the bot was down run once at start-up; a cron job
that missed several runs runs once (misfires coalesce), then continues on its schedule.

In real time, APScheduler's asyncio scheduler wakes Steward when a job is due. Tests and the
console's virtual time drive the same code with `run_due()` after moving the clock.

A handler says how its work went by what it raises. Nothing: done. `JobFailedError`: the work cannot
be done (the member left, the bot lost a right); the job is finished as `failed` with the reason
kept in its payload, never retried. `RetryLaterError`: not now (the platform is unreachable, it
answered 5xx after the adapter's own retries); a one-shot job is run again after a backoff that
doubles from `RETRY_FIRST` up to `RETRY_LONGEST`, counted and persisted in the payload (so a
restart neither forgets nor resets it). After `GIVE_UP_AFTER` of failing without a success, or
`MAX_ATTEMPTS` attempts, the job is finished as `failed` and the kind's `gave_up` callback is
told, so its owner can tell a person (the executor tells the admins that a member's ban or mute
could not be lifted and must be lifted by hand). A day is long enough to ride out a platform
outage or a lost connection, and short enough that an admin hears about a ban that should have
ended while it still matters. Any other exception is a bug in the handler: logged, and the
one-shot job is finished (retrying a bug forever helps no one). Cron jobs keep their schedule
whatever happens: their next run is their retry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock
from bot.storage.base import Job, Store

log = logging.getLogger("steward.scheduler")

JobHandler = Callable[[Job], Awaitable[None]]
# Told that a one-shot job gave up after temporary failures, with the last reason.
GiveUpHandler = Callable[[Job, str], Awaitable[None]]

RETRY_FIRST = timedelta(minutes=1)
RETRY_LONGEST = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
MAX_ATTEMPTS = 40
# Payload key under which the scheduler keeps its retry bookkeeping (attempts, since, reason).
RETRY_KEY = "_retry"
FAILURE_KEY = "_failure"


class RetryLaterError(Exception):
    """The job's work could not be done now but may work later (a temporary failure)."""


class JobFailedError(Exception):
    """The job's work cannot be done; finish the job as failed, with this reason."""


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
        self._give_up: dict[str, GiveUpHandler] = {}
        self._aps: AsyncIOScheduler | None = None
        self._running = False

    def register(
        self, kind: str, handler: JobHandler, *, gave_up: GiveUpHandler | None = None
    ) -> None:
        self._handlers[kind] = handler
        if gave_up is not None:
            self._give_up[kind] = gave_up

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
        except RetryLaterError as exc:
            if not job.trigger.get("cron"):
                await self._retry(job, now, str(exc))
                return
            log.warning("scheduled job %s (%s) could not run now: %s", job.id, job.kind, exc)
        except JobFailedError as exc:
            if not job.trigger.get("cron"):
                log.warning("scheduled job %s (%s) failed: %s", job.id, job.kind, exc)
                payload = {**job.payload, FAILURE_KEY: str(exc)}
                await self.store.finish_job(job.id, now, status="failed", payload=payload)
                return
            log.warning("scheduled job %s (%s) failed: %s", job.id, job.kind, exc)
        except Exception:
            log.exception("scheduled job %s (%s) failed", job.id, job.kind)
        if job.trigger.get("cron"):
            following = next_cron_time(job.trigger, now)  # after now: missed runs coalesce into one
            if following is not None:
                await self.store.reschedule_job(job.id, following)
                self._arm(job.id, following)
                return
        await self.store.finish_job(job.id, now)

    async def _retry(self, job: Job, now: datetime, reason: str) -> None:
        """Run the job again after a backoff, or give up (see the module's docstring)."""
        previous = job.payload.get(RETRY_KEY)
        state = previous if isinstance(previous, dict) else {}
        attempts = int(state.get("attempts", 0)) + 1
        since = datetime.fromisoformat(str(state["since"])) if "since" in state else now
        payload = {
            **job.payload,
            RETRY_KEY: {"attempts": attempts, "since": since.isoformat(), "reason": reason},
        }
        if now - since >= GIVE_UP_AFTER or attempts >= MAX_ATTEMPTS:
            log.error(
                "scheduled job %s (%s) gave up after %d attempts since %s: %s",
                job.id,
                job.kind,
                attempts,
                since.isoformat(),
                reason,
            )
            payload[FAILURE_KEY] = f"gave up after {attempts} attempts: {reason}"
            await self.store.finish_job(job.id, now, status="failed", payload=payload)
            gave_up = self._give_up.get(job.kind)
            if gave_up is not None:
                try:
                    await gave_up(job, reason)
                except Exception:
                    log.exception("telling about job %s (%s) failed", job.id, job.kind)
            return
        delay = min(RETRY_FIRST * 2 ** min(attempts - 1, 16), RETRY_LONGEST)
        log.warning(
            "scheduled job %s (%s) could not run (%s); attempt %d, next in %s",
            job.id,
            job.kind,
            reason,
            attempts,
            delay,
        )
        await self.store.reschedule_job(job.id, now + delay, payload=payload)
        self._arm(job.id, now + delay)

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
