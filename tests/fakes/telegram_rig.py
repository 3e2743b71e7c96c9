"""Steward on the real python-telegram-bot client, against the fake Bot API, on a virtual clock.

    async with TelegramRig(rules_text=...) as tg:
        spammer = tg.api.user(66, "Spam")
        tg.api.say(tg.chat, spammer, "free crypto")
        await tg.settle()
        assert tg.api.is_muted(tg.chat, 66)

`settle()` returns once every pushed update has been fetched by PTB, handed to Steward and
handled, so tests never sleep to "let things happen".
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.telegram import TelegramAdapter
from bot.clock import VirtualClock
from bot.config import LoadedConfig, TelegramConfig, WebhookConfig
from bot.durations import parse_duration
from bot.runtime import Runtime
from bot.storage.sqlite import SqliteStore
from bot.testing import STOCK_RULES, harness_config
from tests.fakes.telegram_api import FakeTelegram

CHAT = -1001000000001


class TelegramRig:
    def __init__(
        self,
        *,
        rules: Sequence[str | Path] = STOCK_RULES,
        rules_text: str | None = None,
        start: datetime | None = None,
        bot_rights: dict[str, Any] | None = None,
        log_chat: str | None = None,
        retries: int = 3,
        backoff: float = 0.01,
        join_requests: str = "manual",
        admins: Sequence[str] = (),
        webhook: WebhookConfig | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="steward-tg-")
        self.directory = Path(self._tmp.name)
        if rules_text is not None:
            path = self.directory / "rules.yaml"
            path.write_text(rules_text, encoding="utf-8")
            rules = [path]
        self.rules = list(rules)
        self.clock = VirtualClock(start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.api = FakeTelegram(now=self.clock.now)
        self.chat = CHAT
        self.owner = self.api.user(1, "Olga", "olga")
        self.bot_rights = bot_rights
        self.log_chat = log_chat
        self.retries = retries
        self.backoff = backoff
        self.join_requests = join_requests
        self.admins = list(admins)
        self.webhook = webhook
        self.adapter: TelegramAdapter | None = None
        self.runtime: Runtime | None = None
        self.database = self.directory / "steward.sqlite3"

    async def __aenter__(self) -> TelegramRig:
        await self.api.start()
        self.api.group(self.chat, "Rig group", owner=self.owner, bot_rights=self.bot_rights)
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self.api.stop()
        self._tmp.cleanup()

    async def start(self) -> None:
        """Start (or restart) Steward on the same database and the same fake Telegram."""
        config = TelegramConfig(
            token=self.api.token,
            api_url=self.api.api_url,
            mode="webhook" if self.webhook is not None else "polling",
            webhook=self.webhook,
        )
        self.adapter = TelegramAdapter(
            config, self.clock, retries=self.retries, backoff=self.backoff, poll_timeout=1
        )
        self.runtime = Runtime(
            self.config(),
            {"telegram": self.adapter},
            clock=self.clock,
            store=SqliteStore(self.database),
            real_time=False,
        )
        await self.runtime.start()

    def config(self) -> LoadedConfig:
        """The harness config, with the group settings this rig was asked for."""
        return harness_config(
            self.rules, log_chat=self.log_chat, join_requests=self.join_requests, admins=self.admins
        )

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def settle(self) -> None:
        """Wait until every update pushed so far is handled by Steward: PTB fetched and
        confirmed it, handed it to the runtime, and the runtime's per-chat queues are empty."""
        assert self.adapter is not None and self.runtime is not None
        await self.api.consumed()
        await self.adapter.handed_over()
        await self.runtime.dispatcher.drain()

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None, "the rig is not started"
        return self.runtime

    async def advance(self, duration: str | timedelta) -> None:
        assert self.runtime is not None
        delta = parse_duration(duration) if isinstance(duration, str) else duration
        await self.runtime.advance(delta)
