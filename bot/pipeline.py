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
from collections import OrderedDict, deque
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
from bot.commands import knows
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
# Buffered member facts and event ids are written every 2 s, or sooner once this many events
# wait. The time bounds what a crash can lose: message counts and the ids of clean events (such
# an event, redelivered, is judged again: clean again). Strikes, cases and actions are never
# buffered. The count keeps a burst's batch from growing without end. Each batch rewrites the
# B-tree pages its rows land on, and with 100,000 members in random order a small batch
# rewrites about one page per row: bigger, rarer batches cost less per row. bench/pipeline.py,
# database thread busy 8.6 s -> 4.2 s on batches for the same work with 16,384 events / 2 s
# instead of 2,048 / 250 ms (and every infraction that waited behind a batch waits less).
FLUSH_EVERY_EVENTS = 16_384
FLUSH_EVERY = timedelta(seconds=2)


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
    def group_for(self, platform: str, chat: str, scope: str = "") -> str: ...

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
        # store held when first asked (None: not asked yet). See `_seen_before`.
        # Keys are plain (platform, chat, event id) tuples: the garbage collector stops tracking
        # tuples of strings, while 100,000 live `EventKey` objects made every full collection
        # walk them.
        self._recent_ids: OrderedDict[tuple[str, str, str], datetime] = OrderedDict()
        self._forgotten_until: datetime | None = None
        self._stored_until: datetime | None = None
        self._asked_store = False
        # Also plain tuples, for the same reason, and written as they are.
        self._unsaved_ids: list[tuple[tuple[str, str, str], datetime]] = []
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
        seen_id = (event.platform, event.chat.id, event.id)  # see `_recent_ids`
        if seen_id in self._recent_ids or (
            event.at < self.started_at + REPLAY_GRACE and await self._seen_before(key, event.at)
        ):
            log.debug("ignoring redelivered event %s", key)
            return Handled(event, duplicate=True)
        self._remember(seen_id, event.at)
        adapter = self.executor.adapters.get(event.platform)
        if adapter is not None and event.actor.id == adapter.me().id:
            return Handled(event)  # Steward's own messages are not judged
        group = self.groups.group_for(event.platform, event.chat.id, event.chat.scope)
        if (event.platform, event.chat.id) not in self._known_chats:
            await self._note_chat(event)
        member_key = MemberKey(event.platform, event.chat.scope, event.actor.id)
        record = await self.members.get(member_key, event.actor, event.at)
        member_key = record.key  # the cached key object: one per member, however many events
        is_admin = self.admins.known(event.platform, event.chat.id, event.actor.id)
        if is_admin is None:  # not cached (or stale): ask the platform
            is_admin = await self.admins.is_admin(event.platform, event.chat.id, event.actor.id)

        if isinstance(event, Command) and not knows(event.name):
            event = _command_as_message(event)  # "/free crypto" is judged like any text
        if isinstance(event, Command | ButtonPress) and self.commands is not None:
            self._update_member(record, event)
            self._unsaved_ids.append((seen_id, event.at))
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
        normalized = normalize(event.text) if isinstance(event, Message) else None
        verdict = ruleset.evaluate(event, facts, chat_facts, event.at, normalized=normalized)
        self._record_activity(member_key, event, normalized)
        self._update_member(record, event)
        for match in verdict.shadow if log.isEnabledFor(logging.INFO) else ():
            log.info(
                "shadow rule %s matched %s in %s:%s: %s",
                match.rule.id,
                event.actor.id,
                event.platform,
                event.chat.id,
                "; ".join(e.format() for e in match.evidence),
            )
        if not verdict.matches:
            self._unsaved_ids.append((seen_id, event.at))
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
            if self._maybe_flush():
                # Let the write start now: handling may not wait for anything for a long while
                # (small writes run inline when the database thread is idle), and until the
                # loop turns, the task would not even hand the batch to the database thread.
                await asyncio.sleep(0)
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

    async def _seen_before(self, key: EventKey, at: datetime) -> bool:
        """Handled by an earlier run (or so long ago in this one that memory let it go)?

        Only events from around start-up get here (later ones cannot have been seen by an
        earlier run; recent ones of this run are in `_recent_ids`). Asking the store costs a
        trip to the database thread, so it is asked only when the answer could be yes: when the
        event is not newer than every event the store held when first asked (`newest_event_at`)
        or that this run has since let go of from memory.
        """
        if not self._asked_store:
            self._stored_until = await self.store.newest_event_at()
            self._asked_store = True
        stored, forgotten = self._stored_until, self._forgotten_until
        if (stored is None or at > stored) and (forgotten is None or at > forgotten):
            return False
        return await self.store.seen(key)

    def _remember(self, seen_id: tuple[str, str, str], at: datetime) -> None:
        self._recent_ids[seen_id] = at
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
        if isinstance(event, Message) and not event.edited and not event.blocked_by:
            record.message_count += 1
        elif isinstance(event, Join):
            record.joined_at = event.at
        self.members.touch(record)

    def _record_activity(
        self, member_key: MemberKey, event: AnyEvent, normalized: str | None
    ) -> None:
        if isinstance(event, Message) and not event.edited and self.activity.history_window:
            if normalized is None:
                normalized = normalize(event.text)
            mark = fingerprint(normalized) if event.text else 0
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

    def _maybe_flush(self) -> bool:
        """Start writing the buffers once enough has piled up, without waiting for the write;
        True when it started one.

        The write runs in SQLite's thread, on another core; the event that crossed the threshold
        does not wait for it (with 100,000 members that took ~10 ms in every few hundred
        events), so the next events are handled meanwhile. One background write at a time: what
        arrives in the meantime goes with the next one.
        """
        if self._flushing is not None and not self._flushing.done():
            return False
        now = self.clock.now()
        if len(self._unsaved_ids) >= FLUSH_EVERY_EVENTS or now - self._last_flush >= FLUSH_EVERY:
            self._flushing = asyncio.create_task(self._flush_quietly(), name="steward-write-behind")
            return True
        return False

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


def _command_as_message(command: Command) -> Message:
    """A `/word` that is none of Steward's commands, from an adapter that made it a `Command`
    anyway (the console, a test harness; the platform adapters ask `bot.commands.knows` first
    and keep such text a `Message` with all its features). Its words are text like any other:
    were they skipped, starting a message with `/` would switch the rules off."""
    return Message(
        platform=command.platform,
        chat=command.chat,
        actor=command.actor,
        at=command.at,
        id=command.id,
        text=" ".join((f"/{command.name}", *command.args)),
        message_id=command.message_id,
        reply_to_message=command.reply_to_message,
        reply_to_user=command.target if command.reply_to_message else None,
    )


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
    """Per-scope queues: one scope's events in order, different scopes concurrently.

    A scope has a worker task only while it has events waiting: the worker handles them in order
    and ends when its queue runs dry, and the next event starts a new one. Idle workers used to
    wait on their queue with a timeout (`wait_for`), which cost a timer, a future and an extra
    task per event, more than the rest of the dispatching; now nothing waits, and nothing needs
    reaping.
    """

    def __init__(self, handle: Callable[[AnyEvent], Awaitable[object]]) -> None:
        self._handle = handle
        self._queues: dict[tuple[str, str], deque[AnyEvent]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._pending = 0  # submitted and not yet handled
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False

    async def submit(self, event: AnyEvent) -> None:
        if self._closed:
            raise RuntimeError("Steward is shutting down; event not accepted")
        key = (event.platform, event.chat.scope)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._workers[key] = asyncio.create_task(
                self._work(key, queue), name=f"steward-{key[0]}-{key[1]}"
            )
        queue.append(event)
        self._pending += 1
        self._drained.clear()

    async def drain(self) -> None:
        """Wait until every submitted event is handled."""
        await self._drained.wait()

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

    async def _work(self, key: tuple[str, str], queue: deque[AnyEvent]) -> None:
        while queue:
            event = queue.popleft()
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
                self._pending -= 1
                if not self._pending:
                    self._drained.set()
        # No await between finding the queue empty and leaving: `submit` either appended before
        # (and the loop above took the event) or finds no queue and starts a new worker.
        del self._queues[key]
        del self._workers[key]
