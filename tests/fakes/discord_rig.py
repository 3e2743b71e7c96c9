"""Steward on the real discord.py client, against the fake Discord, on a virtual clock.

    async with DiscordRig(rules_text=...) as dc:
        mallory = dc.member("mallory")
        dc.api.say(dc.channel, mallory, "free crypto")
        await dc.settle()
        assert dc.api.is_timed_out(dc.guild.id, int(mallory["id"]))

The adapter reaches the fake through its own `api_url` and `gateway_url` options (the fake's
`install()` is not used), so the tests exercise the settings a deployment behind a REST proxy
would use. `settle()` returns once every dispatch the fake pushed has been parsed by discord.py,
handed to Steward and handled, including the echoes of Steward's own actions, so tests never
sleep to "let things happen".
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from adapters.discord import DiscordAdapter
from bot.clock import VirtualClock
from bot.config import DiscordConfig, LoadedConfig
from bot.durations import parse_duration
from bot.runtime import Runtime
from bot.storage.sqlite import SqliteStore
from bot.testing import STOCK_RULES, harness_config
from tests.fakes.discord_api import BOT_PERMISSIONS, FakeDiscord, FakeGuild, Json


class DiscordRig:
    def __init__(
        self,
        *,
        rules: Sequence[str | Path] = STOCK_RULES,
        rules_text: str | None = None,
        start: datetime | None = None,
        bot_permissions: int = BOT_PERMISSIONS,
        channels: Sequence[str] = ("general", "random"),
        log_chat: str | None = None,
        admins: Sequence[str] = (),
        chats: Sequence[str] = (),
        retries: int = 1,
        backoff: float = 0.01,
        moderator_roles: Sequence[str] = (),
        mute_role: str | None = None,
        restrict_role: str | None = None,
        shards: int | Literal["auto"] | None = None,
        gateway_url: bool = True,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="steward-dc-")
        self.directory = Path(self._tmp.name)
        if rules_text is not None:
            path = self.directory / "rules.yaml"
            path.write_text(rules_text, encoding="utf-8")
            rules = [path]
        self.rules = list(rules)
        self.clock = VirtualClock(start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.api = FakeDiscord(now=self.clock.now)
        self.owner = self.api.user("olga")
        self.guild: FakeGuild = self.api.guild(
            "Rig guild", owner=self.owner, bot_permissions=bot_permissions, channels=channels
        )
        self.channel = self.guild.general.id
        self.log_chat = log_chat
        self.admins = list(admins)
        self.chats = list(chats)
        self.retries = retries
        self.backoff = backoff
        self.moderator_roles = list(moderator_roles)
        self.mute_role = mute_role
        self.restrict_role = restrict_role
        self.shards = shards
        self.with_gateway_url = gateway_url
        self.adapter: DiscordAdapter | None = None
        self.runtime: Runtime | None = None
        self.database = self.directory / "steward.sqlite3"

    async def __aenter__(self) -> DiscordRig:
        await self.api.start(install=False)
        try:
            await self.start()
        except BaseException:
            await self.api.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self.api.stop()
        self._tmp.cleanup()

    def member(self, name: str, *, roles: Sequence[int] = (), **options: Any) -> Json:
        """A user who is already a member of the rig's guild."""
        user = self.api.user(name, **options)
        self.api.add_member(self.guild.id, user, roles=roles)
        return user

    def discord_config(self) -> DiscordConfig:
        return DiscordConfig(
            token=self.api.token,
            api_url=self.api.api_base,
            gateway_url=self.api.gateway_url if self.with_gateway_url else None,
            shards=self.shards,
            moderator_roles=self.moderator_roles,
            mute_role=self.mute_role,
            restrict_role=self.restrict_role,
        )

    async def start(self) -> None:
        """Start (or restart) Steward on the same database and the same fake Discord."""
        self.adapter = DiscordAdapter(
            self.discord_config(),
            self.clock,
            retries=self.retries,
            backoff=self.backoff,
            ready_timeout=10,
            guild_ready_timeout=0.05,
        )
        self.runtime = Runtime(
            self.config(),
            {"discord": self.adapter},
            clock=self.clock,
            store=SqliteStore(self.database),
            real_time=False,
        )
        await self.runtime.start()
        await self.settle()  # slash commands registered, READY's guilds handed over

    def config(self) -> LoadedConfig:
        return harness_config(
            self.rules, log_chat=self.log_chat, admins=self.admins, chats=self.chats
        )

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def settle(self) -> None:
        """Wait until Steward has handled everything the fake sent, and the echoes of what
        Steward did in turn (its own messages, member updates after a timeout …)."""
        assert self.adapter is not None and self.runtime is not None
        while True:
            before = (len(self.api.dispatched), len(self.api.calls))
            await self.api.synced()
            await self.adapter.handed_over()
            await self.runtime.dispatcher.drain()
            if (len(self.api.dispatched), len(self.api.calls)) == before:
                return

    @property
    def discord(self) -> DiscordAdapter:
        assert self.adapter is not None, "the rig is not started"
        return self.adapter

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None, "the rig is not started"
        return self.runtime

    async def advance(self, duration: str | timedelta) -> None:
        delta = parse_duration(duration) if isinstance(duration, str) else duration
        await self.rt.advance(delta)
        await self.settle()
