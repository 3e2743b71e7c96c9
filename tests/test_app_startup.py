"""`steward run` when a platform cannot start: the others run, and the reason is one clear line.

Adapters explain their start-up failures (the Discord adapter raises `ConnectionError` saying
the token was refused or which privileged intents to turn on); `start_platforms` must turn them
into one line naming the platform, never show the token, keep the platforms that did start,
and stop with a non-zero exit when none did. The adapters here are in-memory stand-ins.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import bot.app
from bot.adapter import Host
from bot.app import StartupError, start_platforms
from bot.capabilities import CONSOLE
from bot.clock import Clock, VirtualClock
from bot.config import AdaptersConfig, DiscordConfig, LoadedConfig, TelegramConfig
from bot.events import Chat, Message, User
from bot.local import LocalAdapter
from bot.storage.sqlite import SqliteStore
from bot.testing import STOCK_RULES, harness_config
from tests.cli_helpers import run_cli

TELEGRAM_TOKEN = "123456789:AAtelegram-secret-token"
DISCORD_TOKEN = "MTIzNDU2.discord-secret-token"
REFUSED = (
    "Discord refused the bot token: copy it again from the Developer Portal "
    "(Applications → your application → Bot → Reset Token) into DISCORD_BOT_TOKEN"
)


class Starts(LocalAdapter):
    """A platform that starts and records its lifecycle."""

    def __init__(self, clock: Clock, platform: str) -> None:
        super().__init__(clock, platform=platform, capabilities=CONSOLE)
        self.started = 0
        self.stopped = 0

    async def start(self, host: Host) -> None:
        await super().start(host)
        self.started += 1

    async def stop(self) -> None:
        await super().stop()
        self.stopped += 1


class Fails(Starts):
    """A platform whose start raises, after having half-connected."""

    def __init__(self, clock: Clock, platform: str, error: Exception) -> None:
        super().__init__(clock, platform)
        self.error = error

    async def start(self, host: Host) -> None:
        self.started += 1
        raise self.error


def config_with_tokens() -> LoadedConfig:
    loaded = harness_config(STOCK_RULES)
    adapters = AdaptersConfig(
        telegram=TelegramConfig(token=TELEGRAM_TOKEN), discord=DiscordConfig(token=DISCORD_TOKEN)
    )
    loaded.config = loaded.config.model_copy(update={"adapters": adapters})
    return loaded


def use_adapters(monkeypatch: pytest.MonkeyPatch, **adapters: Starts | Exception) -> None:
    """`build_adapter` hands out these objects (or raises these errors) by platform."""

    def build(platform: str, config: LoadedConfig, clock: Clock) -> Starts:
        made = adapters[platform]
        if isinstance(made, Exception):
            raise made
        return made

    monkeypatch.setattr(bot.app, "build_adapter", build)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


async def test_one_platform_failing_leaves_the_others_running(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: VirtualClock,
) -> None:
    telegram = Starts(clock, "telegram")
    discord = Fails(clock, "discord", ConnectionError(REFUSED))
    use_adapters(monkeypatch, telegram=telegram, discord=discord)
    caplog.set_level(logging.INFO, logger="steward")

    runtime = await start_platforms(
        config_with_tokens(),
        ["telegram", "discord"],
        clock=clock,
        store=SqliteStore(tmp_path / "steward.sqlite3"),
    )
    try:
        assert runtime.adapters == {"telegram": telegram}
        assert runtime.executor.adapters is runtime.adapters  # actions see the same platforms
        assert discord.stopped == 1  # its half-open connection was closed
        # The running platform works: an event is judged and acted on.
        spam = Message(
            platform="telegram",
            chat=Chat("-100", "Group"),
            actor=User("7", "Mallory", "mallory"),
            at=clock.now(),
            id="1",
            text="FREE CRYPTO!!! DM me for investment, earn $500 daily",
        )
        handled = await runtime.handle(spam)
        assert handled.verdict is not None and handled.verdict.matches
        assert telegram.performed
    finally:
        await runtime.stop()
    assert telegram.stopped == 1
    assert discord.stopped == 1  # not stopped twice

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"discord could not start: {REFUSED}; Steward carries on without it on telegram"
    ]
    started = [r.getMessage() for r in caplog.records if r.getMessage().endswith("started")]
    assert started == ["telegram adapter started"]  # no "discord adapter started"


async def test_no_platform_starting_is_a_startup_error_with_a_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    telegram = Fails(clock, "telegram", RuntimeError("Invalid token\n  (rejected by the server)"))
    discord = Fails(
        clock,
        "discord",
        ConnectionError(
            "Discord refused the privileged intents Steward needs: turn on Message Content "
            "Intent and Server Members Intent in the Developer Portal"
        ),
    )
    use_adapters(monkeypatch, telegram=telegram, discord=discord)
    store = SqliteStore(tmp_path / "steward.sqlite3")

    with pytest.raises(StartupError) as raised:
        await start_platforms(
            config_with_tokens(), ["telegram", "discord"], clock=clock, store=store
        )

    assert str(raised.value).splitlines() == [
        "no platform could start:",
        "  telegram: Invalid token (rejected by the server) (RuntimeError)",
        "  discord: Discord refused the privileged intents Steward needs: turn on Message "
        "Content Intent and Server Members Intent in the Developer Portal",
    ]
    assert (telegram.stopped, discord.stopped) == (1, 1)
    # Nothing is left open: the database can be opened again at once.
    await store.open()
    await store.close()


async def test_tokens_never_appear_in_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    error = OSError(f"Cannot connect to https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe")
    use_adapters(monkeypatch, telegram=Fails(clock, "telegram", error))

    with pytest.raises(StartupError) as raised:
        await start_platforms(
            config_with_tokens(),
            ["telegram"],
            clock=clock,
            store=SqliteStore(tmp_path / "steward.sqlite3"),
        )

    message = str(raised.value)
    assert TELEGRAM_TOKEN not in message
    assert message == (
        "telegram could not start: Cannot connect to https://api.telegram.org/bot***/getMe "
        "(OSError)"
    )


async def test_a_platform_that_cannot_be_built_is_skipped_like_one_that_cannot_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: VirtualClock,
) -> None:
    telegram = Starts(clock, "telegram")
    missing = StartupError("the discord adapter needs discord: pip install 'steward[discord]'")
    use_adapters(monkeypatch, telegram=telegram, discord=missing)

    runtime = await start_platforms(
        config_with_tokens(),
        ["telegram", "discord"],
        clock=clock,
        store=SqliteStore(tmp_path / "steward.sqlite3"),
    )
    await runtime.stop()

    assert runtime.adapters == {"telegram": telegram}
    assert any(
        r.getMessage().startswith(
            "discord could not start: the discord adapter needs discord: "
            "pip install 'steward[discord]'"
        )
        for r in caplog.records
    )


def test_steward_run_exits_1_with_the_reason_and_no_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the default database goes here
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", DISCORD_TOKEN)
    clock = VirtualClock()
    use_adapters(monkeypatch, discord=Fails(clock, "discord", ConnectionError(REFUSED)))

    result = run_cli("run")

    assert result.code == 1
    err = capsys.readouterr().err
    assert f"steward: discord could not start: {REFUSED}\n" in err
    assert "Traceback" not in err
    assert DISCORD_TOKEN not in err


class Loses(Starts):
    """A platform whose connection ends for good once it has started (a reset token)."""

    async def wait_lost(self) -> str:
        return "the gateway closed with 4004: the token was reset"


async def test_a_platform_lost_while_running_stops_steward_with_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    lost = Loses(clock, "discord")
    use_adapters(monkeypatch, discord=lost)
    config = config_with_tokens()
    storage = config.config.storage.model_copy(update={"path": str(tmp_path / "s.sqlite3")})
    config.config = config.config.model_copy(update={"storage": storage})

    status = await bot.app.run_platforms(config, ["discord"])

    assert status == 1
    assert (lost.started, lost.stopped) == (1, 1)  # shut down cleanly, not left running
