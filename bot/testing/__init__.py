"""A harness for testing rules, plugins and Steward itself without a network or a clock.

    async def test_spam_is_muted(steward):
        await steward.join("mallory")
        await steward.say("mallory", "free crypto, DM me")
        assert steward.adapter.is_muted(steward.chat.id, "mallory")

Every driver (`say`, `join`, `leave`, `react`, `command`, `press`) returns only when Steward has
finished with the event, and returns what became of it (`Handled`: verdict, case, outcomes).
Time moves only with `advance`, which also runs the jobs that fall due. `restart()` stops the
runtime and starts a fresh one on the same database file, to check that nothing is lost.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.actions import Action, Send
from bot.capabilities import CONSOLE, Capabilities
from bot.clock import VirtualClock
from bot.config import DEFAULT_GROUP, Config, GroupConfig, LoadedConfig, resolve_rule_paths
from bot.durations import parse_duration
from bot.events import (
    ButtonPress,
    Chat,
    Command,
    ForwardInfo,
    Join,
    Leave,
    MediaKind,
    Message,
    Reaction,
    User,
)
from bot.local import LocalAdapter
from bot.pipeline import Handled
from bot.runtime import Runtime
from bot.storage.base import Case, MemberKey
from bot.storage.sqlite import SqliteStore

STOCK_RULES = ("library:basic.yaml", "library:anti-spam.yaml", "library:ladder.yaml")


def harness_config(
    rules: Sequence[str | Path],
    *,
    log_chat: str | None = None,
    base: Path | None = None,
    **settings: Any,
) -> LoadedConfig:
    """A config whose default group uses `rules` (paths, or `library:NAME` for stock files),
    with any other group settings given (`admins=[…]`, `join_requests="screen"` …)."""
    entries = [str(r) for r in rules]
    group = GroupConfig(rules=entries, log_chat=log_chat, **settings)
    loaded = LoadedConfig(Config(groups={DEFAULT_GROUP: group}), None)
    loaded.group_rules = {DEFAULT_GROUP: resolve_rule_paths(entries, base or Path.cwd())}
    return loaded


class StewardHarness:
    def __init__(
        self,
        *,
        rules: Sequence[str | Path] = STOCK_RULES,
        rules_text: str | None = None,
        database: str | Path | None = None,
        platform: str = "fake",
        capabilities: Capabilities = CONSOLE,
        start: datetime | None = None,
        chat: Chat | None = None,
        log_chat: str | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="steward-test-")
        directory = Path(self._tmp.name)
        if rules_text is not None:
            path = directory / "rules.yaml"
            path.write_text(rules_text, encoding="utf-8")
            rules = [path]
        self.rule_files = list(rules)
        self.database = Path(database) if database else directory / "steward.sqlite3"
        self.clock = VirtualClock(start)
        self.platform = platform
        self.capabilities = capabilities
        self.chat = chat or Chat("chat-1", "Test chat")
        self.log_chat = log_chat
        self.adapter = LocalAdapter(self.clock, platform=platform, capabilities=capabilities)
        self.runtime: Runtime | None = None
        self._ids = itertools.count(1)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> StewardHarness:
        config = harness_config(self.rule_files, log_chat=self.log_chat)
        self.runtime = Runtime(
            config,
            {self.platform: self.adapter},
            clock=self.clock,
            store=SqliteStore(self.database),
            real_time=False,
        )
        await self.runtime.start()
        return self

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> None:
        """Stop and start again on the same database, keeping the platform's state."""
        await self.stop()
        await self.start()

    async def close(self) -> None:
        await self.stop()
        self._tmp.cleanup()

    async def __aenter__(self) -> StewardHarness:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def rt(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the harness is not started")
        return self.runtime

    # -- drivers ----------------------------------------------------------------------------

    def user(self, who: str | User) -> User:
        return who if isinstance(who, User) else User(who, who.capitalize(), who)

    def admin(self, who: str | User, admin: bool = True) -> User:
        """Make someone an admin of the test chat (as the platform would report)."""
        user = self.user(who)
        self.adapter.set_admin(self.chat.id, user.id, admin)
        if self.runtime is not None:
            self.runtime.admins.invalidate(self.platform, self.chat.id)
        return user

    def _common(self, event_id: str | None) -> dict[str, object]:
        return {
            "platform": self.platform,
            "chat": self.chat,
            "at": self.clock.now(),
            "id": event_id or f"e{next(self._ids)}",
        }

    async def say(
        self,
        who: str | User,
        text: str,
        *,
        reply_to: Handled | None = None,
        media: Sequence[str] = (),
        forwarded: bool = False,
        edited_id: str | None = None,
        media_group: str = "",
        event_id: str | None = None,
        links: Sequence[str] = (),
        mentions: Sequence[str] = (),
    ) -> Handled:
        common = self._common(event_id)
        reply_message = ""
        reply_user = None
        if reply_to is not None and isinstance(reply_to.event, Message):
            reply_message = reply_to.event.message_id
            reply_user = reply_to.event.actor
        message = Message(
            platform=self.platform,
            chat=self.chat,
            actor=self.user(who),
            at=self.clock.now(),
            id=str(common["id"]),
            message_id=edited_id or str(common["id"]),
            text=text,
            media=frozenset(MediaKind(m) for m in media),
            forward=ForwardInfo(from_name="elsewhere") if forwarded else None,
            edited=edited_id is not None,
            media_group=media_group,
            reply_to_message=reply_message,
            reply_to_user=reply_user,
            links=tuple(links),
            mentions=tuple(mentions),
        )
        return await self.rt.handle(message)

    async def deliver(
        self, event: Message | Join | Leave | Reaction | Command | ButtonPress
    ) -> Handled:
        """Hand any prepared event to Steward (e.g. to redeliver one)."""
        return await self.rt.handle(event)

    async def join(self, who: str | User, *, event_id: str | None = None) -> Handled:
        return await self.rt.handle(
            Join(
                platform=self.platform,
                chat=self.chat,
                actor=self.user(who),
                at=self.clock.now(),
                id=event_id or f"e{next(self._ids)}",
            )
        )

    async def leave(self, who: str | User) -> Handled:
        return await self.rt.handle(
            Leave(
                platform=self.platform,
                chat=self.chat,
                actor=self.user(who),
                at=self.clock.now(),
                id=f"e{next(self._ids)}",
            )
        )

    async def react(self, who: str | User, to: Handled, emoji: str = "👍") -> Handled:
        target = to.event
        message_id = target.message_id if isinstance(target, Message) else ""
        return await self.rt.handle(
            Reaction(
                platform=self.platform,
                chat=self.chat,
                actor=self.user(who),
                at=self.clock.now(),
                id=f"e{next(self._ids)}",
                message_id=message_id,
                emoji=(emoji,),
                target_user=target.actor,
            )
        )

    async def command(
        self, who: str | User, line: str, *, reply_to: Handled | None = None
    ) -> Handled:
        """`line` is what the member typed, e.g. "/mute 1h spamming"."""
        name, *args = line.lstrip("/").split()
        target = None
        reply_message = ""
        if reply_to is not None:
            target = reply_to.event.actor
            reply_message = reply_to.event.message_id if isinstance(reply_to.event, Message) else ""
        event_id = f"e{next(self._ids)}"
        return await self.rt.handle(
            Command(
                platform=self.platform,
                chat=self.chat,
                actor=self.user(who),
                at=self.clock.now(),
                id=event_id,
                message_id=event_id,
                name=name,
                args=tuple(args),
                target=target,
                reply_to_message=reply_message,
            )
        )

    async def press(self, who: str | User, data: str) -> Handled:
        return await self.rt.handle(
            ButtonPress(
                platform=self.platform,
                chat=self.chat,
                actor=self.user(who),
                at=self.clock.now(),
                id=f"e{next(self._ids)}",
                data=data,
            )
        )

    async def advance(self, duration: str | timedelta) -> None:
        """Move virtual time (e.g. "8d") and run what falls due."""
        delta = parse_duration(duration) if isinstance(duration, str) else duration
        await self.rt.advance(delta)

    # -- recorders --------------------------------------------------------------------------

    @property
    def actions(self) -> list[Action]:
        """Every action the platform carried out, in order."""
        return self.adapter.performed

    @property
    def sent(self) -> list[str]:
        """Texts Steward sent to chats."""
        return [a.text for a in self.adapter.state.sent]

    def sends(self) -> list[Send]:
        return list(self.adapter.state.sent)

    async def strikes(self, who: str | User) -> int:
        user = self.user(who)
        rt = self.rt
        key = MemberKey(self.platform, self.chat.scope, user.id)
        ledger = await rt.store.strikes(key)
        return rt.rulebook.ruleset(DEFAULT_GROUP).ladder.total(ledger, self.clock.now())

    async def cases(self, who: str | User) -> list[Case]:
        user = self.user(who)
        return await self.rt.store.cases_for(MemberKey(self.platform, self.chat.scope, user.id))
