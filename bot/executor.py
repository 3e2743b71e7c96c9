"""Carry out actions: the single door every rule, command and plugin action goes through.

Doing it in one place is what makes the promises hold everywhere: the owner, admins and the bot
itself are never punished; durations are clamped to what the platform can do, and what it
cannot time itself (a Discord temporary ban, a mute longer than 28 days) becomes a persisted
job; every outcome is recorded; a missing permission is told to the admins once an hour per
chat instead of on every message; and an adapter that raises never takes the pipeline down.

Timed undo jobs (the end of a ban, a mute or a restriction, and the renewal of a long mute)
belong to a member in a *scope*: the space where the punishment holds, which is the Discord
server for a ban given in any of its channels, and the chat itself on Telegram
(`ScopedChats.scope_of`). They are stored under that scope, and a later action of the same kind
for the same member in the same scope supersedes them whichever channel it came from: a ban or
an unban cancels a pending unban, a mute or an unmute a pending unmute and renewal, a
restriction or an unrestriction a pending unrestriction. A mute and a restriction are separate
punishments with separate ends, so neither cancels the other's. The job acts on the scope
itself (a Discord adapter accepts a server id as the chat of a member action), so it works
even after the channel where the punishment was given is deleted; the channel is kept in the
payload (`origin`) to tell the admins there when the job cannot do its work.

A job whose action fails for a temporary reason (the platform is not connected, or answered
5xx after the adapter's own retries) is run again later by the scheduler with a backoff; after
a day of that it gives up and the admins are told to do it by hand (see `bot.scheduler`). Any
other failure (the member left, the bot lacks a right) finishes the job as failed with the
reason, telling the admins when they can fix it.
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
    Unrestrict,
)
from bot.adapter import Adapter, Failure, Outcome
from bot.admins import AdminCache
from bot.clock import Clock
from bot.durations import format_duration
from bot.scheduler import JobFailedError, RetryLaterError, Scheduler
from bot.storage.base import ActionStatus, Job, Store

log = logging.getLogger("steward.executor")

UNBAN_JOB = "core.unban"
UNMUTE_JOB = "core.unmute"
UNRESTRICT_JOB = "core.unrestrict"
RENEW_MUTE_JOB = "core.renew_mute"
NOTICE_INTERVAL = timedelta(hours=1)
# A mute longer than the platform's longest is renewed this long before the current one ends,
# so a late run (a restart, a slow platform) still finds the member muted: no gap.
RENEW_AHEAD = timedelta(days=1)
# Each part of a renewed mute asks for this much less than the platform's longest: a clock a
# little ahead of the platform's must not make it refuse the request as too long.
MUTE_MARGIN = timedelta(minutes=5)

# The undo jobs an action supersedes for its member in its scope.
_SUPERSEDES: dict[type[MemberAction], tuple[str, ...]] = {
    Ban: (UNBAN_JOB,),
    Unban: (UNBAN_JOB,),
    Mute: (UNMUTE_JOB, RENEW_MUTE_JOB),
    Unmute: (UNMUTE_JOB, RENEW_MUTE_JOB),
    Restrict: (UNRESTRICT_JOB,),
    Unrestrict: (UNRESTRICT_JOB,),
}
# What each job does, for the admins' notices ("I could not lift the mute of Mallory: …").
_JOB_VERBS = {
    UNBAN_JOB: "lift the temporary ban of",
    UNMUTE_JOB: "lift the mute of",
    UNRESTRICT_JOB: "lift the restriction of",
    RENEW_MUTE_JOB: "renew the long mute of",
}


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
        scheduler.register(UNBAN_JOB, self._timed_unban, gave_up=self._job_gave_up)
        scheduler.register(UNMUTE_JOB, self._timed_unmute, gave_up=self._job_gave_up)
        scheduler.register(UNRESTRICT_JOB, self._timed_unrestrict, gave_up=self._job_gave_up)
        scheduler.register(RENEW_MUTE_JOB, self._renew_mute, gave_up=self._job_gave_up)

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

    async def _perform(self, platform: str, action: Action, *, supersede: bool = True) -> Outcome:
        adapter = self.adapters.get(platform)
        if adapter is None:
            # Temporary: an adapter that could not start this time may start the next.
            return Outcome.failed(Failure.TEMPORARY, f"no {platform} adapter is running")
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
            scope = self._scope(platform, action.chat)
            if supersede:
                await self._supersede(platform, scope, action)
            if followup is not None:
                kind, run_at, payload = followup
                payload = {**payload, "origin": action.chat}
                await self.scheduler.at(
                    kind, run_at, platform=platform, chat=scope, payload=payload
                )
        if note and not outcome.note:
            outcome = Outcome.done(note)
        return outcome

    async def _supersede(self, platform: str, scope: str, action: MemberAction) -> None:
        """A new ban, mute or restriction replaces the timing of the previous one of its kind,
        and an unban, unmute or unrestriction ends it: the member's pending undo jobs of that
        kind in the scope are cancelled either way, and only those."""
        match = {"user": action.user}
        # Jobs stored before they were keyed by scope carry the chat they were given in.
        keys = {scope, action.chat}
        for kind in _SUPERSEDES.get(type(action), ()):
            for key in keys:
                await self.scheduler.cancel(kind, platform, key, match)

    def _scope(self, platform: str, chat: str) -> str:
        """Where a member's punishment holds: the Discord server of a channel, else the chat."""
        # The attribute test is what isinstance(adapter, ScopedChats) checks, without the cost
        # of a Protocol isinstance (several microseconds) for every action performed.
        scope_of = getattr(self.adapters.get(platform), "scope_of", None)
        return str(scope_of(chat)) if scope_of is not None else chat

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
        if isinstance(action, Mute) and until is None and caps.renews_mutes and caps.max_mute:
            return self._renewed(action, now, caps.platform, caps.max_mute, None)
        if not isinstance(action, Mute | Restrict | Ban) or until is None:
            return action, "", None
        duration = until - now
        payload = {"user": action.user, "user_name": action.user_name, "until": until.isoformat()}
        if action.kind in caps.untimed:
            job = (
                UNBAN_JOB
                if isinstance(action, Ban)
                else UNMUTE_JOB
                if isinstance(action, Mute)
                else UNRESTRICT_JOB
            )
            undo = "unban" if isinstance(action, Ban) else "lifting"
            note = f"{undo} scheduled for {until.isoformat()}"
            return dataclasses.replace(action, until=None), note, (job, until, payload)
        longest_mute = caps.max_mute if caps.renews_mutes else None
        if isinstance(action, Mute) and longest_mute and duration > longest_mute - MUTE_MARGIN:
            return self._renewed(action, now, caps.platform, longest_mute, until)
        kind = ActionKind.MUTE if isinstance(action, Mute) else action.kind
        fitted, note = caps.clamp(kind, duration)
        if fitted != duration:
            return dataclasses.replace(action, until=now + fitted), note, None
        return action, "", None

    @staticmethod
    def _renewed(
        action: Mute, now: datetime, platform: str, longest_mute: timedelta, until: datetime | None
    ) -> tuple[Action, str, tuple[str, datetime, dict[str, str]]]:
        """A mute longer than the platform's longest (or for good, `until` None): muted for as
        long as the platform allows, renewed a day before that ends, until `until` if any."""
        longest = longest_mute - MUTE_MARGIN
        first = now + longest
        renew = first - min(RENEW_AHEAD, longest / 2)
        note = f"{platform} mutes last at most {format_duration(longest_mute)}; renewal scheduled"
        payload = {
            "user": action.user,
            "user_name": action.user_name,
            "until": until.isoformat() if until else "",  # "" for good
        }
        return dataclasses.replace(action, until=first), note, (RENEW_MUTE_JOB, renew, payload)

    # -- timed undo jobs --------------------------------------------------------------------

    async def _timed_unban(self, job: Job) -> None:
        await self._run_job(job, Unban(**_member_of(job), reason="temporary ban ended"))

    async def _timed_unmute(self, job: Job) -> None:
        await self._run_job(job, Unmute(**_member_of(job), reason="mute ended", expired=True))

    async def _timed_unrestrict(self, job: Job) -> None:
        await self._run_job(job, Unrestrict(**_member_of(job), reason="restriction ended"))

    async def _renew_mute(self, job: Job) -> None:
        """Mute again until the mute's real end; `_fit` cuts it to the platform's longest and
        schedules the next renewal when it is still too long. A renewal that runs late (the
        bot was down when it was due) mutes again from now: the mute had ended meanwhile."""
        written = str(job.payload["until"])
        until = datetime.fromisoformat(written) if written else None  # None: muted for good
        if until is not None and until <= self.clock.now():
            return
        await self._run_job(job, Mute(**_member_of(job), until=until, reason="long mute renewed"))

    async def _run_job(self, job: Job, action: MemberAction) -> None:
        """Perform a timed job's action and tell the scheduler how it went (see the module).

        The action does not supersede jobs: the running job is the member's only pending one
        of its kind (a newer punishment would have cancelled it), and it finishes as done.
        """
        outcome = await self._perform(job.platform, action, supersede=False)
        if outcome.ok:
            return
        log.warning(
            "job %s (%s) for %s in %s:%s failed: %s (%s)",
            job.id,
            job.kind,
            action.user,
            job.platform,
            job.chat,
            outcome.reason,
            outcome.failure,
        )
        if outcome.failure is Failure.TEMPORARY:
            raise RetryLaterError(outcome.reason)
        if outcome.failure is Failure.MISSING_RIGHT:
            # Keyed by member too: that this member stays banned is news even to admins who
            # heard about the missing right an hour ago.
            text = f"I could not {_job_verb(job)} {_name_of(job)}: {outcome.reason}."
            problem = f"{outcome.reason} ({job.kind} {action.user})"
            await self._notice(job.platform, _origin(job), problem, text)
        raise JobFailedError(outcome.reason)

    async def _job_gave_up(self, job: Job, reason: str) -> None:
        text = (
            f"For a day I could not {_job_verb(job)} {_name_of(job)} ({reason}); "
            "I have stopped trying: please do it by hand."
        )
        await self._notice(job.platform, _origin(job), f"gave up on job {job.id}", text)

    # -- admin notices ----------------------------------------------------------------------

    async def _notice(self, platform: str, chat: str, problem: str, text: str) -> None:
        """Tell the admins about a problem at most once an hour per chat and problem.

        The problem (the missing right) is the key, not the text: a bot without the right to
        ban users fails to mute and to ban alike, and the admins need to hear it once. On a
        platform whose chats live in a larger space (Discord channels in a guild, where
        permissions are the guild's) the space is the key instead of the chat.
        """
        adapter = self.adapters.get(platform)
        key = (platform, self._scope(platform, chat), problem)
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
    """Who a timed undo job is about, as the keyword arguments of a member action: the job's
    chat is the scope (the Discord server), which outlives the channel it was given in."""
    return {
        "chat": job.chat,
        "user": str(job.payload["user"]),
        "user_name": str(job.payload.get("user_name", "")),
    }


def _origin(job: Job) -> str:
    """The chat where the punishment was given, where the admins are told about its end."""
    return str(job.payload.get("origin") or job.chat)


def _name_of(job: Job) -> str:
    return str(job.payload.get("user_name") or job.payload["user"])


def _job_verb(job: Job) -> str:
    return _JOB_VERBS.get(job.kind, f"run {job.kind} for")
