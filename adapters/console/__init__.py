"""A local chat in the terminal, for trying rules with no account or token.

Interactive on a terminal; otherwise (or with `--script FILE`) it reads a script, one line each:

    alice: hello everyone        NAME says TEXT (NAME joins on their first message)
    alice: /warn @bob spamming   commands work as in a real chat (name the target with @)
    @join NAME                   NAME joins
    @leave NAME                  NAME leaves
    @admin NAME                  NAME becomes an admin
    @wait 8d                     the console's clock moves on (strikes decay, mutes end)
    # a comment

Time is virtual: it starts at the real time and moves one second per message, plus whatever
`@wait` adds (interactively, also the real time between lines). With `--json` every action the
bot takes is printed as one JSON object per line on stdout, and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from bot.actions import (
    Action,
    Ban,
    Delete,
    Kick,
    MemberAction,
    Mute,
    NotifyAdmins,
    Restrict,
    Send,
    Unban,
    Unmute,
    Unrestrict,
    Warn,
)
from bot.adapter import Outcome
from bot.clock import VirtualClock
from bot.durations import DurationError, format_duration, parse_duration
from bot.events import AnyEvent, Chat, Command, Join, Leave, Message, User
from bot.local import LocalAdapter
from bot.pipeline import Handled

CHAT = Chat("console", "Console")
STEP = timedelta(seconds=1)


class ScriptError(ValueError):
    """A script line that cannot be understood."""


@dataclass
class ConsoleChat:
    """Feeds typed or scripted lines to a runtime and shows what Steward does."""

    handle: Callable[[AnyEvent], Awaitable[Handled]]
    advance: Callable[[timedelta], Awaitable[None]]
    adapter: LocalAdapter
    clock: VirtualClock
    out: TextIO
    err: TextIO
    as_json: bool = False
    echo: bool = True
    # Called when `@admin` changes who is an admin, so cached admin lists are dropped.
    admins_changed: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        self._known: set[str] = set()
        self._counter = 0
        # Event ids must differ between runs sharing a database, or a second run's events
        # would be taken for redeliveries of the first run's.
        self._run = secrets.token_hex(4)
        self._line = 0
        self.problems = 0

    # -- input ------------------------------------------------------------------------------

    async def run_lines(self, lines: Iterable[str]) -> int:
        for number, raw in enumerate(lines, start=1):
            self._line = number
            await self.run_line(raw.rstrip("\n"))
        return 1 if self.problems else 0

    async def run_line(self, line: str) -> None:
        text = line.strip()
        if not text or text.startswith("#"):
            return
        try:
            await self._dispatch(text)
        except ScriptError as exc:
            self.problems += 1
            print(f"line {self._line}: {exc}", file=self.err)

    async def _dispatch(self, text: str) -> None:
        if text.startswith("@"):
            word, _, rest = text[1:].partition(" ")
            rest = rest.strip()
            if word == "wait":
                try:
                    delta = parse_duration(rest)
                except DurationError as exc:
                    raise ScriptError(f"@wait: {exc}") from None
                await self.advance(delta)
                self._say(
                    f"… {format_duration(delta)} later ({self.clock.now():%Y-%m-%d %H:%M} UTC)"
                )
                return
            if not rest or " " in rest:
                raise ScriptError(f"@{word} needs one name, e.g. @{word} alice")
            if word == "join":
                await self._join(rest)
            elif word == "leave":
                await self._event(
                    Leave(
                        platform=self.adapter.platform,
                        chat=CHAT,
                        actor=self._user(rest),
                        at=self._tick(),
                        id=self._id(),
                    )
                )
                self._known.discard(rest.lower())
            elif word == "admin":
                self.adapter.set_admin(CHAT.id, rest.lower())
                if self.admins_changed is not None:
                    self.admins_changed(CHAT.id)
                self._say(f"{rest} is now an admin")
            else:
                raise ScriptError(f"unknown directive @{word}; use @join, @leave, @admin or @wait")
            return
        name, colon, said = text.partition(":")
        name = name.strip()
        if not colon or not name or " " in name:
            raise ScriptError("expected `NAME: TEXT` or a directive such as `@wait 1h`")
        said = said.strip()
        if name.lower() not in self._known:
            await self._join(name)
        if self.echo and not self.as_json:
            print(f"{name}: {said}", file=self.out)
        member = name.lower()
        if self.adapter.is_banned(CHAT.id, member) or self.adapter.is_muted(CHAT.id, member):
            # A real platform would not deliver this; say so instead of pretending.
            state = "banned" if self.adapter.is_banned(CHAT.id, member) else "muted"
            until = (
                self.adapter.banned_until(CHAT.id, member)
                if state == "banned"
                else self.adapter.muted_until(CHAT.id, member)
            )
            when = f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""
            self._say(f"  ({name} is {state}{when}; the message is not delivered)")
            return
        if said.startswith("/") and len(said) > 1:
            await self._command(name, said)
        else:
            event_id = self._id()
            await self._event(
                Message(
                    platform=self.adapter.platform,
                    chat=CHAT,
                    actor=self._user(name),
                    at=self._tick(),
                    id=event_id,
                    text=said,
                )
            )

    async def _join(self, name: str) -> None:
        self._known.add(name.lower())
        if not self.as_json:
            print(f"→ {name} joined", file=self.out)
        await self._event(
            Join(
                platform=self.adapter.platform,
                chat=CHAT,
                actor=self._user(name),
                at=self._tick(),
                id=self._id(),
            )
        )

    async def _command(self, name: str, said: str) -> None:
        word, *args = said[1:].split()
        event_id = self._id()
        await self._event(
            Command(
                platform=self.adapter.platform,
                chat=CHAT,
                actor=self._user(name),
                at=self._tick(),
                id=event_id,
                message_id=event_id,
                name=word.split("@", 1)[0],
                args=tuple(args),
            )
        )

    async def _event(self, event: Message | Join | Leave | Command) -> None:
        handled = await self.handle(event)
        self._show(handled)

    # -- output -----------------------------------------------------------------------------

    def _show(self, handled: Handled) -> None:
        rule = ""
        strikes = None
        if handled.verdict is not None and handled.verdict.primary is not None:
            rule = handled.verdict.primary.rule.id
        if handled.decision is not None:
            strikes = handled.decision.after
        for action, outcome in handled.outcomes:
            self._report(action, outcome, rule=rule, strikes=strikes, case=handled.case_id)
        if handled.verdict is not None:
            for match in handled.verdict.shadow:
                if not self.as_json:
                    evidence = "; ".join(e.format() for e in match.evidence)
                    print(f"  (shadow) rule {match.rule.id} would act: {evidence}", file=self.out)
        shown = {a.text for a, _ in handled.outcomes if isinstance(a, Send)}
        if not self.as_json:
            for reply in handled.replies:
                if reply not in shown:
                    print(f"  steward: {reply}", file=self.out)

    def _report(
        self, action: Action, outcome: Outcome, *, rule: str, strikes: int | None, case: int | None
    ) -> None:
        if self.as_json:
            record: dict[str, object] = {
                "action": action.kind.value,
                "ok": outcome.ok,
                "at": self.clock.now().isoformat(),
            }
            if isinstance(action, MemberAction):
                record["user"] = action.user
            until = getattr(action, "until", None)
            if isinstance(action, Mute | Restrict | Ban):
                record["until"] = until.isoformat() if until else None
            if isinstance(action, Send | Warn | NotifyAdmins):
                record["text"] = action.text
            if isinstance(action, Delete):
                record["message"] = action.message_id
            if rule:
                record["rule"] = rule
            if strikes is not None:
                record["strikes"] = strikes
            if case is not None:
                record["case"] = case
            if action.reason:
                record["reason"] = action.reason
            if not outcome.ok:
                record["error"] = outcome.reason
            print(json.dumps(record, ensure_ascii=False), file=self.out, flush=True)
            return
        print(
            f"  {_describe(action, rule, strikes)}{'' if outcome.ok else '  ✗ ' + outcome.reason}",
            file=self.out,
        )

    def _say(self, text: str) -> None:
        if not self.as_json:
            print(text, file=self.out)

    # -- helpers ----------------------------------------------------------------------------

    def _user(self, name: str) -> User:
        return User(name.lower(), name, name.lower())

    def _tick(self) -> datetime:
        self.clock.advance(STEP)
        return self.clock.now()

    def _id(self) -> str:
        self._counter += 1
        return f"console-{self._run}-{self._counter}"


def _describe(action: Action, rule: str, strikes: int | None) -> str:
    why = (
        f" (rule {rule}" + (f", {strikes} strikes" if strikes is not None else "") + ")"
        if rule
        else ""
    )
    name = action.user_name or action.user if isinstance(action, MemberAction) else ""
    if isinstance(action, Delete):
        return f"✂ message deleted{why}"
    if isinstance(action, Send):
        return f"steward: {action.text}"
    if isinstance(action, Warn):
        return f"⚠ {name} warned{why}: {action.text}"
    if isinstance(action, Mute):
        until = f" until {action.until:%Y-%m-%d %H:%M} UTC" if action.until else " until unmuted"
        return f"🔇 {name} muted{until}{why}"
    if isinstance(action, Restrict):
        denied = ", ".join(sorted(p.value for p in action.denied))
        return f"🚧 {name} may no longer: {denied}{why}"
    if isinstance(action, Ban):
        until = f" until {action.until:%Y-%m-%d %H:%M} UTC" if action.until else ""
        return f"⛔ {name} banned{until}{why}"
    if isinstance(action, Kick):
        return f"👢 {name} removed{why}"
    if isinstance(action, Unmute):
        return f"🔈 {name} may speak again"
    if isinstance(action, Unrestrict):
        return f"🔓 {name} is no longer restricted"
    if isinstance(action, Unban):
        return f"✅ {name} unbanned"
    if isinstance(action, NotifyAdmins):
        return f"📣 to admins: {action.text}"
    return f"{action.kind.value}{why}"


def stdin_lines() -> asyncio.Queue[str | None]:
    """Lines typed on the terminal, read by a daemon thread so Ctrl-C never waits for Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="steward-console-input", daemon=True).start()
    return queue
