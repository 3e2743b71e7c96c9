"""Wire the parts into a running Steward, and take it down cleanly.

Start-up order matters: storage first (a database that cannot be used stops everything with a
clear message), then every group's rules (broken files at start-up are fatal, there is no good
set to keep), then the adapters, and only then actions left pending by a crash and jobs that
fell due while stopped. Those act on the platforms: run before the adapters are connected they
would only fail ("not connected") and a temporary ban that ended during the downtime would
never be lifted. The price is that the first new events may be handled while the past is
being settled, which is harmless: a redelivered event is recognised, and an undo job is
superseded by any newer punishment whenever it arrives. Shutdown runs the other way: adapters
stop receiving, queued events finish, buffered state is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta

from bot.activity import ActivityLog
from bot.adapter import Adapter
from bot.admins import AdminCache
from bot.clock import Clock, SystemClock
from bot.commands import Commands
from bot.config import DEFAULT_GROUP, LoadedConfig
from bot.events import AnyEvent
from bot.executor import Executor
from bot.members import MemberCache
from bot.pipeline import FLUSH_EVERY, Dispatcher, Handled, Pipeline
from bot.rulesets import ReloadResult, RuleBook
from bot.scheduler import Scheduler
from bot.storage.base import Store
from bot.storage.sqlite import SqliteStore
from rules.diagnostics import Diagnostic

log = logging.getLogger("steward")


class AdapterStartError(Exception):
    """No adapter could start; `reasons` says why for each platform."""

    def __init__(self, reasons: Mapping[str, str]) -> None:
        self.reasons = dict(reasons)
        lines = [f"{platform} could not start: {why}" for platform, why in self.reasons.items()]
        super().__init__("\n".join(lines))


def _one_line(exc: BaseException) -> str:
    """The exception's own words on one line (adapters say what to do), with its kind when
    those words do not explain themselves."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    return text if isinstance(exc, ConnectionError) else f"{text} ({type(exc).__name__})"


# How often, in real time, buffered member facts and event ids are written while traffic is
# light: the pipeline's own bound, which it checks in the event clock under load.
FLUSH_INTERVAL = FLUSH_EVERY.total_seconds()
FORGET_EVENTS_JOB = "core.forget_event_ids"
EVENT_ID_MEMORY = timedelta(days=7)
WATCH_INTERVAL = 2.0


class ConfigGroups:
    """`GroupMap` over a loaded config."""

    def __init__(self, config: LoadedConfig) -> None:
        self.config = config

    def group_for(self, platform: str, chat: str, scope: str = "") -> str:
        return self.config.group_for(platform, chat, scope)

    def log_chat(self, group: str) -> str | None:
        return self.config.group(group).log_chat

    def join_requests(self, group: str) -> str:
        return self.config.group(group).join_requests


class Runtime:
    def __init__(
        self,
        config: LoadedConfig,
        adapters: Mapping[str, Adapter],
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        real_time: bool = True,
    ) -> None:
        self.config = config
        self.adapters = dict(adapters)
        self.clock = clock or SystemClock()
        self.store: Store = store or SqliteStore(config.database_path())
        self.real_time = real_time
        self.rulebook = RuleBook()
        self.activity = ActivityLog()
        self.members = MemberCache(self.store)
        self.admins = AdminCache(self._fetch_admins, self.clock)
        self.scheduler = Scheduler(self.store, self.clock)
        self.scheduler.register(FORGET_EVENTS_JOB, self._forget_old_event_ids)
        self.executor = Executor(self.adapters, self.store, self.clock, self.scheduler, self.admins)
        self.pipeline = Pipeline(
            store=self.store,
            clock=self.clock,
            rulebook=self.rulebook,
            groups=ConfigGroups(config),
            members=self.members,
            activity=self.activity,
            admins=self.admins,
            executor=self.executor,
        )
        self.pipeline.commands = Commands(self.pipeline)
        self.dispatcher = Dispatcher(self.pipeline.handle)
        self.warnings: list[Diagnostic] = []
        self.failed: dict[str, str] = {}  # platform → why its adapter could not start
        self._tasks: list[asyncio.Task[None]] = []

    async def _fetch_admins(self, platform: str, chat: str) -> frozenset[str]:
        adapter = self.adapters.get(platform)
        return await adapter.admins(chat) if adapter is not None else frozenset()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        try:
            self.load_rules()
            for group in self.config.config.groups.values():
                self.admins.add_configured(group.admins)
            self.pipeline.started_at = self.clock.now()
            await self._ensure_housekeeping()
            await self._start_adapters()
        except BaseException:
            await self.store.close()
            raise
        try:
            resumed = await self.executor.resume_pending()
            if resumed:
                log.info("resumed %d action(s) left pending by the previous run", resumed)
            await self.scheduler.start(real_time=self.real_time)
        except BaseException:
            for adapter in self.adapters.values():
                with contextlib.suppress(Exception):
                    await adapter.stop()
            await self.store.close()
            raise
        if self.real_time:
            self._tasks.append(asyncio.create_task(self._flush_loop(), name="steward-flush"))
            self._tasks.append(asyncio.create_task(self._watch_rules(), name="steward-rules-watch"))

    async def _start_adapters(self) -> None:
        """Start every adapter; one that cannot start must not keep the others down.

        Its reason goes to `failed` and it leaves `adapters` (which the executor shares), so
        nothing is sent its way. Only when none starts does the start fail, naming each reason.
        """
        for platform, adapter in list(self.adapters.items()):
            try:
                await adapter.start(self)
            except Exception as exc:
                self.failed[platform] = _one_line(exc)
                del self.adapters[platform]
                with contextlib.suppress(Exception):
                    await adapter.stop()
                continue
            log.info("%s adapter started", platform)
        if self.failed and not self.adapters:
            raise AdapterStartError(self.failed)

    async def _ensure_housekeeping(self) -> None:
        """Schedule the daily clean-up once; it is stored, so later starts find it there."""
        jobs = await self.store.scheduled_jobs()
        if not any(job.kind == FORGET_EVENTS_JOB for job in jobs):
            await self.scheduler.cron(FORGET_EVENTS_JOB, "17 4 * * *")

    async def _forget_old_event_ids(self, job: object) -> None:
        """Redelivery happens within minutes; a week of event ids is plenty to recognise it,
        and without this the table would grow by one row per event forever."""
        forgotten = await self.store.forget_events_before(self.clock.now() - EVENT_ID_MEMORY)
        log.info("forgot %d processed event ids older than %s", forgotten, EVENT_ID_MEMORY)

    def load_rules(self) -> None:
        groups = dict(self.config.group_rules)
        groups.setdefault(DEFAULT_GROUP, [])
        for name, files in groups.items():
            self.warnings.extend(self.rulebook.load(name, files))
            ruleset = self.rulebook.ruleset(name)
            self.activity.widen(ruleset.history_window, ruleset.join_window)
            log.info(
                "group %s: %d rules from %s",
                name,
                len(ruleset.rules),
                ", ".join(str(f) for f in files),
            )

    async def submit(self, event: AnyEvent) -> None:
        """Adapters deliver here: queued per scope, handled in order."""
        await self.dispatcher.submit(event)

    async def admins_changed(self, platform: str, chat: str) -> None:
        self.admins.invalidate(platform, chat)

    async def chat_gone(self, platform: str, chat: str) -> None:
        """The bot was removed: remember it, so nothing is attempted there until it returns."""
        log.warning("removed from %s:%s; marking the chat inactive", platform, chat)
        await self.store.set_chat_active(platform, chat, False)
        self.pipeline.forget_chat(platform, chat)

    async def chat_moved(self, platform: str, old: str, new: str) -> None:
        """Strikes, cases and members follow a group that became a supergroup."""
        log.info("%s chat %s moved to %s; its history follows", platform, old, new)
        await self.pipeline.flush()
        await self.store.move_chat(platform, old, new)
        self.members.forget_scope(platform, old)
        self.pipeline.forget_chat(platform, old)

    async def handle(self, event: AnyEvent) -> Handled:
        """Handle one event now and return what became of it (tests, console, benchmarks)."""
        return await self.pipeline.handle(event)

    async def stop(self) -> None:
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("%s adapter did not stop cleanly", adapter.platform)
        await self.dispatcher.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.pipeline.flush()
        await self.scheduler.stop()
        await self.store.close()

    async def advance(self, delta: timedelta) -> None:
        """Virtual time only: move the clock and run what fell due."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise RuntimeError("advance() needs a virtual clock")
        advance(delta)
        await self.scheduler.run_due()
        await self.pipeline.flush()

    # -- hot reload -------------------------------------------------------------------------

    async def reload_changed(self) -> list[ReloadResult]:
        results = self.rulebook.reload_changed()
        for result in results:
            if result.changed:
                ruleset = self.rulebook.ruleset(result.group)
                self.activity.widen(ruleset.history_window, ruleset.join_window)
            if result.errors:
                first = result.errors[0].format().splitlines()[0]
                more = f" (+{len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
                text = (
                    f"Rule files of group '{result.group}' have errors; "
                    f"the previous rules stay active: {first}{more}"
                )
                # The log chat names its own platform; this one is only the fallback.
                platform = next(iter(self.adapters), "")
                await self.pipeline.report(result.group, platform, text)
        return results

    async def _watch_rules(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                await self.reload_changed()
            except Exception:
                log.exception("checking rule files for changes failed")

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await self.pipeline.flush()
                self.activity.sweep(self.clock.now())
            except Exception:
                log.exception("writing buffered state failed; will retry")
