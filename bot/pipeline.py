"""The flow of one event, from arrival to recorded outcome (DESIGN.md, "The flow of one event").

1. de-duplicate (platform, chat, event id): a redelivered update changes nothing;
2. update member facts;
3. rules → verdict;
4. ladder: the infraction (case, strike points, planned actions, event id) is committed in ONE
   transaction before anything is done, so a crash between deciding and acting is resumed on
   restart, never lost and never doubled;
5. actions through the executor, each outcome recorded;
6. (participation: a later layer);
7. handlers registered by plugins, each isolated: a failing one never blocks enforcement.

Events of one scope (a Telegram chat, a Discord guild) are handled in order, because strikes and
member facts are per scope; scopes run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.actions import (
    Action,
    ApproveJoinRequest,
    DeclineJoinRequest,
    Kick,
    Mute,
    Restrict,
    Send,
    Warn,
)
from bot.activity import ActivityLog
from bot.adapter import Outcome
from bot.admins import AdminCache
from bot.clock import Clock
from bot.events import AnyEvent, ButtonPress, Command, Join, JoinRequest, Message
from bot.executor import Executor
from bot.facts import NO_CHAT_FACTS, ChatFacts, MemberFacts, RecentMessage
from bot.members import MemberCache
from bot.rulesets import RuleBook
from bot.storage.base import EventKey, MemberKey, MemberRecord, NewCase, Store
from rules.context import fingerprint
from rules.ladder import LadderDecision, StrikeEntry
from rules.normalize import normalize
from rules.ruleset import Verdict, plan

log = logging.getLogger("steward.pipeline")

# Redelivered updates arrive right after a restart; later events cannot have been seen by an
# earlier run, so only events older than start-up plus this grace are looked up in the database.
REPLAY_GRACE = timedelta(minutes=2)
RECENT_EVENT_IDS = 100_000
FLUSH_EVERY_EVENTS = 512
FLUSH_EVERY = timedelta(milliseconds=250)


@dataclass
class Handled:
    """What became of one event (returned to tests, the console and the benchmark)."""

    event: AnyEvent
    duplicate: bool = False
    verdict: Verdict | None = None
    decision: LadderDecision | None = None
    case_id: int | None = None
    outcomes: list[tuple[Action, Outcome]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)


Handler = Callable[[AnyEvent, Verdict | None], Awaitable[None]]


class GroupMap(Protocol):
    def group_for(self, platform: str, chat: str) -> str: ...

    def log_chat(self, group: str) -> str | None: ...

    def join_requests(self, group: str) -> str: ...


class CommandRunner(Protocol):
    async def run(
        self, command: Command, member: MemberRecord, is_admin: bool, group: str
    ) -> Handled: ...

    async def button(self, press: ButtonPress, is_admin: bool, group: str) -> Handled: ...


class Pipeline:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        rulebook: RuleBook,
        groups: GroupMap,
        members: MemberCache,
        activity: ActivityLog,
        admins: AdminCache,
        executor: Executor,
    ) -> None:
        self.store = store
        self.clock = clock
        self.rulebook = rulebook
        self.groups = groups
        self.members = members
        self.activity = activity
        self.admins = admins
        self.executor = executor
        self.commands: CommandRunner | None = None
        self.handlers: list[tuple[str, Handler]] = []
        self.started_at = clock.now()
        # Recently handled event ids with their times; `_forgotten_until` is the newest time
        # of an id that fell out of this window, `_stored_until` the newest event time the
        # store held when first asked (None: not asked yet). See `_duplicate`.
        self._recent_ids: OrderedDict[EventKey, datetime] = OrderedDict()
        self._forgotten_until: datetime | None = None
        self._stored_until: datetime | None = None
        self._asked_store = False
        self._unsaved_ids: list[tuple[EventKey, datetime]] = []
        self._last_flush = clock.now()
        self._flushing: asyncio.Task[None] | None = None
        self._known_chats: set[tuple[str, str]] = set()

    def add_handler(self, owner: str, handler: Handler) -> None:
        self.handlers.append((owner, handler))

    def forget_chat(self, platform: str, chat: str) -> None:
        """Look the chat up again next time (it left, came back or moved)."""
        self._known_chats.discard((platform, chat))

    # -- one event --------------------------------------------------------------------------

    async def handle(self, event: AnyEvent) -> Handled:
        key = EventKey(event.platform, event.chat.id, event.id)
        if await self._duplicate(key, event.at):
            log.debug("ignoring redelivered event %s", key)
            return Handled(event, duplicate=True)
        self._remember(key, event.at)
        adapter = self.executor.adapters.get(event.platform)
        if adapter is not None and event.actor.id == adapter.me().id:
            return Handled(event)  # Steward's own messages are not judged
        group = self.groups.group_for(event.platform, event.chat.id)
        await self._note_chat(event)
        member_key = MemberKey(event.platform, event.chat.scope, event.actor.id)
        record = await self.members.get(member_key, event.actor, event.at)
        is_admin = await self.admins.is_admin(event.platform, event.chat.id, event.actor.id)

        if isinstance(event, Command | ButtonPress) and self.commands is not None:
            self._update_member(record, event)
            self._unsaved_ids.append((key, event.at))
            if isinstance(event, Command):
                handled = await self.commands.run(event, record, is_admin, group)
            else:
                handled = await self.commands.button(event, is_admin, group)
            await self._after(event, None)
            return handled

        ruleset = self.rulebook.ruleset(group)
        ledger = self.members.ledger(member_key)
        facts = MemberFacts(
            level=record.level,
            joined_at=record.joined_at,
            message_count=record.message_count,
            strikes=ruleset.ladder.total(ledger, event.at) if ledger else 0,
            is_admin=is_admin,
            recent=self.activity.recent_messages(member_key, event.at),
        )
        chat_facts = (
            ChatFacts(
                recent_joins=self.activity.recent_joins(event.platform, event.chat.id, event.at)
            )
            if isinstance(event, Join)
            else NO_CHAT_FACTS
        )
        verdict = ruleset.evaluate(event, facts, chat_facts, event.at)
        self._record_activity(member_key, event)
        self._update_member(record, event)
        for match in verdict.shadow:
            log.info(
                "shadow rule %s matched %s in %s:%s: %s",
                match.rule.id,
                event.actor.id,
                event.platform,
                event.chat.id,
                "; ".join(e.format() for e in match.evidence),
            )
        if not verdict.matches:
            self._unsaved_ids.append((key, event.at))
            handled = Handled(event, verdict=verdict)
            if isinstance(event, JoinRequest) and self.groups.join_requests(group) == "screen":
                approve = ApproveJoinRequest(
                    chat=event.chat.id,
                    user=event.actor.id,
                    user_name=event.actor.display,
                    reason="no rule broken",
                )
                outcome = await self.executor.perform(event.platform, approve)
                handled.outcomes.append((approve, outcome))
            self._maybe_flush()
            await self._after(event, verdict)
            return handled
        handled = await self._enforce(event, verdict, member_key, ledger, facts.strikes, group, key)
        await self._after(event, verdict)
        return handled

    async def _enforce(
        self,
        event: AnyEvent,
        verdict: Verdict,
        member_key: MemberKey,
        ledger: Sequence[StrikeEntry],
        strikes_now: int,
        group: str,
        key: EventKey,
    ) -> Handled:
        ruleset = self.rulebook.ruleset(group)
        decision = (
            ruleset.ladder.decide(ledger, event.at, verdict.strike) if verdict.strike else None
        )
        actions = plan(verdict, decision, event.at, chat_title=event.chat.title)
        if isinstance(event, JoinRequest):
            actions = self._join_request_actions(event, actions, group)
        primary = verdict.primary
        assert primary is not None
        text = event.text if isinstance(event, Message) else ""
        case = NewCase(
            member=member_key,
            chat=event.chat.id,
            user_name=event.actor.display,
            source="rule",
            created_at=event.at,
            rule_id=primary.rule.id,
            actor_id="steward",
            reason=primary.rule.why,
            evidence=tuple(
                f"{m.rule.id}: {e.format()}" for m in verdict.matches for e in m.evidence
            ),
            excerpt=text,
            message_id=event.message_id if isinstance(event, Message) else "",
            event_id=event.id,
            points=verdict.strike,
            strikes_before=decision.before if decision else strikes_now,
            strikes_after=decision.after if decision else strikes_now,
            step=decision.step.describe() if decision and decision.step else "",
        )
        case_id, action_ids = await self.store.record_case(case, actions, key)
        if verdict.strike:
            self.members.add_strike(member_key, StrikeEntry(event.at, verdict.strike))
        handled = Handled(event, verdict=verdict, decision=decision, case_id=case_id)
        for action, action_id in zip(actions, action_ids, strict=True):
            outcome = await self.executor.perform(event.platform, action, action_id=action_id)
            handled.outcomes.append((action, outcome))
            if isinstance(action, Send):
                handled.replies.append(action.text)
        await self.report(group, event.platform, _log_line(case_id, case, handled))
        return handled

    def _join_request_actions(
        self, event: JoinRequest, actions: list[Action], group: str
    ) -> list[Action]:
        """Someone not yet in the chat cannot be muted or warned: decline (if screening) or ban."""
        kept = [a for a in actions if not isinstance(a, Mute | Restrict | Warn | Kick)]
        if self.groups.join_requests(group) == "screen":
            reason = next((a.reason for a in actions if a.reason), "a rule was broken")
            decline = DeclineJoinRequest(
                chat=event.chat.id,
                user=event.actor.id,
                user_name=event.actor.display,
                reason=reason,
            )
            kept.insert(0, decline)
        return kept

    # -- moderation log ---------------------------------------------------------------------

    async def report(self, group: str, platform: str, text: str) -> None:
        """Post to the group's log chat, if it has one; the database keeps the record anyway."""
        target = self.groups.log_chat(group)
        if not target:
            log.info("%s", text)
            return
        log_platform, _, chat = target.partition(":")
        await self.executor.perform(
            log_platform or platform, Send(chat=chat, text=text, reason="moderation log")
        )

    # -- bookkeeping ------------------------------------------------------------------------

    async def _duplicate(self, key: EventKey, at: datetime) -> bool:
        """Seen before, in this run (in memory) or in an earlier one (in the store)?

        Asking the store costs a trip to the database thread, so it is asked only when the
        answer could be yes: the event is not clearly newer than start-up, and not newer than
        every event the store held when first asked (`newest_event_at`) or that this run has
        since let go of from memory. Everything else would be a miss, so it is not looked up.
        """
        if key in self._recent_ids:
            return True
        if at >= self.started_at + REPLAY_GRACE:
            return False
        if not self._asked_store:
            self._stored_until = await self.store.newest_event_at()
            self._asked_store = True
        stored, forgotten = self._stored_until, self._forgotten_until
        if (stored is None or at > stored) and (forgotten is None or at > forgotten):
            return False
        return await self.store.seen(key)

    def _remember(self, key: EventKey, at: datetime) -> None:
        self._recent_ids[key] = at
        if len(self._recent_ids) > RECENT_EVENT_IDS:
            _, dropped = self._recent_ids.popitem(last=False)
            if self._forgotten_until is None or dropped > self._forgotten_until:
                self._forgotten_until = dropped

    async def _note_chat(self, event: AnyEvent) -> None:
        chat_key = (event.platform, event.chat.id)
        if chat_key in self._known_chats:
            return
        self._known_chats.add(chat_key)
        await self.store.upsert_chat(
            event.platform, event.chat.id, event.chat.scope, event.chat.title, event.at
        )

    def _update_member(self, record: MemberRecord, event: AnyEvent) -> None:
        record.last_seen = max(record.last_seen, event.at)
        if isinstance(event, Message) and not event.edited:
            record.message_count += 1
        elif isinstance(event, Join):
            record.joined_at = event.at
        self.members.touch(record)

    def _record_activity(self, member_key: MemberKey, event: AnyEvent) -> None:
        if isinstance(event, Message) and not event.edited and self.activity.history_window:
            mark = fingerprint(normalize(event.text)) if event.text else 0
            self.activity.record_message(
                member_key, RecentMessage(event.at, mark, event.media_group)
            )
        elif isinstance(event, Join):
            self.activity.record_join(event.platform, event.chat.id, event.at)

    async def _after(self, event: AnyEvent, verdict: Verdict | None) -> None:
        for owner, handler in self.handlers:
            try:
                await handler(event, verdict)
            except Exception:
                log.exception(
                    "handler of %s failed on event %s; enforcement continues", owner, event.id
                )

    def _maybe_flush(self) -> None:
        """Start writing the buffers once enough has piled up, without waiting for the write.

        The write runs in SQLite's thread, on another core; the event that crossed the threshold
        does not wait for it (with 100,000 members that took ~10 ms in every few hundred
        events), so the next events are handled meanwhile. One background write at a time: what
        arrives in the meantime goes with the next one.
        """
        if self._flushing is not None and not self._flushing.done():
            return
        now = self.clock.now()
        if len(self._unsaved_ids) >= FLUSH_EVERY_EVENTS or now - self._last_flush >= FLUSH_EVERY:
            self._flushing = asyncio.create_task(self._flush_quietly(), name="steward-write-behind")

    async def _flush_quietly(self) -> None:
        try:
            await self._write_buffers()
        except Exception:  # the buffers are kept: the next flush writes them
            log.exception("writing buffered member facts and event ids failed; will retry")

    async def flush(self) -> None:
        """Write buffered member facts and processed event ids, after any write in progress."""
        running, self._flushing = self._flushing, None
        if running is not None:
            await running  # it logs its own failure and keeps what it could not write
        await self._write_buffers()

    async def _write_buffers(self) -> None:
        self._last_flush = self.clock.now()
        await self.members.flush()
        ids, self._unsaved_ids = self._unsaved_ids, []
        try:
            await self.store.mark_seen(ids)
        except BaseException:
            self._unsaved_ids[:0] = ids
            raise


def _log_line(case_id: int, case: NewCase, handled: Handled) -> str:
    done = ", ".join(
        f"{action.kind.value} {'✓' if outcome.ok else '✗ ' + outcome.reason}"
        for action, outcome in handled.outcomes
    )
    lines = [
        f"Case #{case_id}: {case.user_name} ({case.member.user_id}) broke '{case.rule_id}'",
        f"Strikes {case.strikes_before} → {case.strikes_after}"
        + (f"; step: {case.step}" if case.step else ""),
    ]
    if case.evidence:
        lines.append("Evidence: " + "; ".join(case.evidence[:3]))
    if case.excerpt:
        lines.append(f"Message: «{case.excerpt[:120]}»")
    if done:
        lines.append(f"Actions: {done}")
    return "\n".join(lines)


class Dispatcher:
    """Per-scope queues: one scope's events in order, different scopes concurrently."""

    def __init__(
        self, handle: Callable[[AnyEvent], Awaitable[object]], *, idle: float = 300.0
    ) -> None:
        self._handle = handle
        self._idle = idle
        self._queues: dict[tuple[str, str], asyncio.Queue[AnyEvent]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._closed = False

    async def submit(self, event: AnyEvent) -> None:
        if self._closed:
            raise RuntimeError("Steward is shutting down; event not accepted")
        key = (event.platform, event.chat.scope)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers[key] = asyncio.create_task(
                self._work(key, queue), name=f"steward-{key[0]}-{key[1]}"
            )
        await queue.put(event)

    async def drain(self) -> None:
        """Wait until every submitted event is handled."""
        for queue in list(self._queues.values()):
            await queue.join()

    async def close(self) -> None:
        self._closed = True
        await self.drain()
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._queues.clear()

    async def _work(self, key: tuple[str, str], queue: asyncio.Queue[AnyEvent]) -> None:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=self._idle)
            except TimeoutError:
                if queue.empty():
                    self._queues.pop(key, None)
                    self._workers.pop(key, None)
                    return
                continue
            try:
                await self._handle(event)
            except Exception:
                log.exception(
                    "event %s in %s:%s could not be handled",
                    event.id,
                    event.platform,
                    event.chat.id,
                )
            finally:
                queue.task_done()
