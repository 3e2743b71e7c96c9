"""Carry out actions: the single door every rule, command and plugin action goes through.

Doing it in one place is what makes the promises hold everywhere: the owner, admins and the bot
itself are never punished; durations are clamped to what the platform can do, and what it
cannot time itself (a Discord temporary ban, a mute longer than 28 days) becomes a persisted
job; every outcome is recorded; a missing permission is told to the admins once an hour per
chat instead of on every message; and an adapter that raises never takes the pipeline down.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.actions import (
    PUNITIVE,
    Action,
    ActionKind,
    Ban,
    MemberAction,
    Mute,
    NotifyAdmins,
    Restrict,
    Unban,
    Unmute,
)
from bot.adapter import Adapter, Failure, Outcome, ScopedChats
from bot.admins import AdminCache
from bot.clock import Clock
from bot.durations import format_duration
from bot.scheduler import Scheduler
from bot.storage.base import ActionStatus, Job, Store

log = logging.getLogger("steward.executor")

UNBAN_JOB = "core.unban"
UNMUTE_JOB = "core.unmute"
RENEW_MUTE_JOB = "core.renew_mute"
NOTICE_INTERVAL = timedelta(hours=1)


class Executor:
    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        store: Store,
        clock: Clock,
        scheduler: Scheduler,
        admins: AdminCache,
    ) -> None:
        self.adapters = adapters
        self.store = store
        self.clock = clock
        self.scheduler = scheduler
        self.admins = admins
        self._last_notice: dict[tuple[str, str, str], datetime] = {}
        scheduler.register(UNBAN_JOB, self._timed_unban)
        scheduler.register(UNMUTE_JOB, self._timed_unmute)
        scheduler.register(RENEW_MUTE_JOB, self._renew_mute)

    async def perform(
        self, platform: str, action: Action, *, action_id: int | None = None
    ) -> Outcome:
        """Perform one action and record its outcome under `action_id` when given."""
        outcome = await self._perform(platform, action)
        if action_id is not None:
            status = (
                ActionStatus.DONE
                if outcome.ok
                else (
                    ActionStatus.SKIPPED
                    if outcome.failure is Failure.NOT_ALLOWED
                    else ActionStatus.FAILED
                )
            )
            await self.store.finish_action(
                action_id, status, self.clock.now(), outcome.reason, outcome.note
            )
        if not outcome.ok:
            log.warning(
                "%s on %s:%s failed: %s (%s)",
                action.kind.value,
                platform,
                action.chat,
                outcome.reason,
                outcome.failure,
            )
            if outcome.failure is Failure.MISSING_RIGHT:
                text = f"I could not {action.kind.value}: {outcome.reason}."
                await self._notice(platform, action.chat, outcome.reason, text)
        return outcome

    async def resume_pending(self) -> int:
        """Run actions that were committed but never carried out (the process stopped between)."""
        pending = await self.store.pending_actions()
        for record in pending:
            log.info(
                "resuming %s (action %s of case %s)",
                record.action.kind.value,
                record.id,
                record.case_id,
            )
            await self.perform(record.platform, record.action, action_id=record.id)
        return len(pending)

    # -- the checks and the platform call ---------------------------------------------------

    async def _perform(self, platform: str, action: Action) -> Outcome:
        adapter = self.adapters.get(platform)
        if adapter is None:
            return Outcome.failed(Failure.OTHER, f"no {platform} adapter is running")
        if isinstance(action, MemberAction) and action.kind in PUNITIVE:
            refusal = await self._protected(platform, adapter, action)
            if refusal:
                return Outcome.failed(Failure.NOT_ALLOWED, refusal)
        action, note, followup = self._fit(adapter, action)
        try:
            outcome = await adapter.perform(action)
        except Exception as exc:  # an adapter bug must not stop enforcement elsewhere
            log.exception("%s adapter raised on %s", platform, action.kind.value)
            return Outcome.failed(Failure.OTHER, f"{type(exc).__name__}: {exc}")
        if not outcome.ok:
            return outcome  # nothing happened, so nothing is scheduled to undo it
        if isinstance(action, MemberAction):
            await self._supersede(platform, action)
        if followup is not None:
            kind, run_at, payload = followup
            await self.scheduler.at(
                kind, run_at, platform=platform, chat=action.chat, payload=payload
            )
        if note and not outcome.note:
            outcome = Outcome.done(note)
        return outcome

    async def _supersede(self, platform: str, action: MemberAction) -> None:
        """A new ban or mute replaces the timing of the previous one, and an unban or unmute
        ends it: pending undo jobs for the member are cancelled either way."""
        match = {"user": action.user}
        if isinstance(action, Ban | Unban):
            await self.scheduler.cancel(UNBAN_JOB, platform, action.chat, match)
        if isinstance(action, Mute | Restrict | Unmute):
            await self.scheduler.cancel(UNMUTE_JOB, platform, action.chat, match)
            await self.scheduler.cancel(RENEW_MUTE_JOB, platform, action.chat, match)

    async def _protected(self, platform: str, adapter: Adapter, action: MemberAction) -> str:
        if action.user == adapter.me().id:
            return "Steward never acts against itself"
        if await self.admins.is_admin(platform, action.chat, action.user):
            return "admins and owners are never punished"
        return ""

    def _fit(
        self, adapter: Adapter, action: Action
    ) -> tuple[Action, str, tuple[str, datetime, dict[str, str]] | None]:
        """Clamp to the platform's limits, and say which undo job to schedule if it works."""
        caps = adapter.capabilities
        now = self.clock.now()
        until = getattr(action, "until", None)
        if not isinstance(action, Mute | Restrict | Ban) or until is None:
            return action, "", None
        duration = until - now
        payload = {"user": action.user, "user_name": action.user_name, "until": until.isoformat()}
        if action.kind in caps.untimed:
            job = UNBAN_JOB if isinstance(action, Ban) else UNMUTE_JOB
            undo = "unban" if isinstance(action, Ban) else "lifting"
            note = f"{undo} scheduled for {until.isoformat()}"
            return dataclasses.replace(action, until=None), note, (job, until, payload)
        too_long = caps.max_mute is not None and duration > caps.max_mute
        if isinstance(action, Mute) and too_long and caps.renews_mutes and caps.max_mute:
            first = now + caps.max_mute
            note = (
                f"{caps.platform} mutes last at most {format_duration(caps.max_mute)}; "
                "renewal scheduled"
            )
            return dataclasses.replace(action, until=first), note, (RENEW_MUTE_JOB, first, payload)
        kind = ActionKind.MUTE if isinstance(action, Mute) else action.kind
        fitted, note = caps.clamp(kind, duration)
        if fitted != duration:
            return dataclasses.replace(action, until=now + fitted), note, None
        return action, "", None

    # -- timed undo jobs --------------------------------------------------------------------

    async def _timed_unban(self, job: Job) -> None:
        await self.perform(job.platform, Unban(**_member_of(job), reason="temporary ban ended"))

    async def _timed_unmute(self, job: Job) -> None:
        await self.perform(job.platform, Unmute(**_member_of(job), reason="mute ended"))

    async def _renew_mute(self, job: Job) -> None:
        until = datetime.fromisoformat(str(job.payload["until"]))
        if until <= self.clock.now():
            return
        await self.perform(
            job.platform, Mute(**_member_of(job), until=until, reason="long mute renewed")
        )

    # -- admin notices ----------------------------------------------------------------------

    async def _notice(self, platform: str, chat: str, problem: str, text: str) -> None:
        """Tell the admins about a problem at most once an hour per chat and problem.

        The problem (the missing right) is the key, not the text: a bot without the right to
        ban users fails to mute and to ban alike, and the admins need to hear it once. On a
        platform whose chats live in a larger space (Discord channels in a guild, where
        permissions are the guild's) the space is the key instead of the chat.
        """
        adapter = self.adapters.get(platform)
        scope = adapter.scope_of(chat) if isinstance(adapter, ScopedChats) else chat
        key = (platform, scope, problem)
        now = self.clock.now()
        last = self._last_notice.get(key)
        if last is not None and now - last < NOTICE_INTERVAL:
            return
        self._last_notice[key] = now
        if adapter is None:
            return
        try:
            await adapter.perform(NotifyAdmins(chat=chat, text=text, reason="missing permission"))
        except Exception:
            log.exception("could not notify the admins of %s:%s", platform, chat)


def _member_of(job: Job) -> dict[str, str]:
    """Who a timed undo job is about, as the keyword arguments of a member action."""
    return {
        "chat": job.chat,
        "user": str(job.payload["user"]),
        "user_name": str(job.payload.get("user_name", "")),
    }
