"""Start Steward for real: the composition root behind `steward run` and `steward console`.

This is the one place in `bot/` that reaches into `adapters/`, and only lazily, by name: the
core never imports a platform library, and a platform's extra (`steward[telegram]`) is needed
only when its token is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TextIO, TypeVar

from bot.adapter import Adapter, Connection
from bot.capabilities import CONSOLE
from bot.clock import Clock, SystemClock, VirtualClock
from bot.config import LoadedConfig
from bot.local import LocalAdapter
from bot.runtime import AdapterStartError, Runtime
from bot.storage.base import Store
from bot.storage.sqlite import SqliteStore

log = logging.getLogger("steward")
T = TypeVar("T")

PLATFORMS = {"telegram": "TELEGRAM_BOT_TOKEN", "discord": "DISCORD_BOT_TOKEN"}


class StartupError(Exception):
    """Steward cannot start; the message says why and what to do."""


def configured_platforms(config: LoadedConfig) -> list[str]:
    """Platforms whose credentials are set."""
    adapters = config.config.adapters
    found = []
    if adapters.telegram.token:
        found.append("telegram")
    if adapters.discord.token:
        found.append("discord")
    return found


def build_adapter(platform: str, config: LoadedConfig, clock: Clock) -> Adapter:
    module_name = f"adapters.{platform}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing.startswith("adapters"):
            raise StartupError(f"this version of Steward has no {platform} adapter yet") from None
        raise StartupError(
            f"the {platform} adapter needs {missing}: pip install 'steward[{platform}]'"
        ) from None
    try:
        adapter: Adapter = module.create(config, clock)
    except ValueError as exc:  # the adapter's own words about its configuration
        raise StartupError(f"{platform}: {exc}") from None
    return adapter


async def run_platforms(config: LoadedConfig, platforms: list[str]) -> int:
    """Run the platform adapters until Ctrl-C or SIGTERM, then shut down cleanly.

    If a platform's connection ends for good meanwhile (its adapter said why in the log),
    Steward stops too, with status 1: running on without moderating that platform would look
    healthy while it is not, and a supervisor can restart it.
    """
    runtime = await start_platforms(config, platforms)
    stop = _stop_on_signals()
    log.info("Steward is running on %s; press Ctrl-C to stop", ", ".join(runtime.adapters))
    waits: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
    waits += [
        asyncio.ensure_future(adapter.wait_lost())
        for adapter in runtime.adapters.values()
        if isinstance(adapter, Connection)
    ]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        log.info("stopping: finishing queued events and writing state")
        await runtime.stop()
    return 0 if stop.is_set() else 1


async def start_platforms(
    config: LoadedConfig,
    platforms: list[str],
    *,
    clock: Clock | None = None,
    store: Store | None = None,
) -> Runtime:
    """A started runtime on every platform that could start.

    One platform that cannot start (a refused token, a missing privileged intent, a missing
    extra, no network) must not keep the others down: its reason is logged, one line naming the
    platform, and Steward runs on the rest. If none can start, `StartupError` says why for each,
    and nothing is left running. Tokens never appear in these messages.
    """
    clock = clock or SystemClock()
    secrets = _secrets(config)
    problems: dict[str, str] = {}
    adapters: dict[str, Adapter] = {}
    for platform in platforms:
        try:
            adapters[platform] = build_adapter(platform, config, clock)
        except StartupError as exc:
            problems[platform] = str(exc).removeprefix(f"{platform}: ")
    if not adapters:
        raise StartupError(_redact(_summary(problems), secrets))
    runtime = Runtime(config, adapters, clock=clock, store=store)
    try:
        await runtime.start()  # storage and rules first: their errors stop everything
    except AdapterStartError as failed:
        raise StartupError(_redact(_summary({**problems, **failed.reasons}), secrets)) from None
    problems.update(runtime.failed)
    for platform, reason in problems.items():
        log.error(
            "%s could not start: %s; Steward carries on without it on %s",
            platform,
            _redact(reason, secrets),
            ", ".join(runtime.adapters),
        )
    return runtime


def _secrets(config: LoadedConfig) -> list[str]:
    adapters = config.config.adapters
    return [t for t in (adapters.telegram.token, adapters.discord.token) if t]


def _redact(text: str, secrets: Iterable[str]) -> str:
    """Library errors can quote a URL with the token in it (the Bot API's are /bot<TOKEN>/)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _summary(problems: dict[str, str]) -> str:
    if len(problems) == 1:
        ((platform, reason),) = problems.items()
        return f"{platform} could not start: {reason}"
    lines = [f"  {platform}: {reason}" for platform, reason in problems.items()]
    return "no platform could start:\n" + "\n".join(lines)


def _stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM, so shutdown runs in order instead of unwinding."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _until(work: Awaitable[T], stop: asyncio.Event, *, default: T) -> T:
    """`work`'s result, or `default` if a stop signal comes first (the work is cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return default


async def run_console(
    config: LoadedConfig,
    *,
    script: TextIO | None,
    as_json: bool,
    database: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """The local chat: a script (stdin that is not a terminal, or --script) or interactive."""
    from adapters.console import ConsoleChat, stdin_lines

    clock = VirtualClock(datetime.now(UTC).replace(microsecond=0))
    adapter = LocalAdapter(clock, platform="console", capabilities=CONSOLE)
    path = database or str(config.database_path())
    runtime = Runtime(
        config, {"console": adapter}, clock=clock, store=SqliteStore(path), real_time=False
    )
    await runtime.start()
    chat = ConsoleChat(
        runtime.handle,
        runtime.advance,
        adapter,
        clock,
        out,
        err,
        as_json=as_json,
        admins_changed=lambda chat_id: runtime.admins.invalidate("console", chat_id),
    )
    code = 0
    stop = _stop_on_signals()
    try:
        if script is not None:
            chat.echo = True
            code = await _until(chat.run_lines(script), stop, default=130)
        else:
            if not as_json:
                print(
                    "Steward console: type `NAME: message`, `@join NAME`, `@admin NAME`, "
                    "`@wait 1h`; Ctrl-D or Ctrl-C to quit.",
                    file=out,
                )
            chat.echo = False  # the terminal already shows what was typed
            queue = stdin_lines()
            last = asyncio.get_running_loop().time()
            while (line := await _until(queue.get(), stop, default=None)) is not None:
                now = asyncio.get_running_loop().time()
                elapsed = now - last
                last = now
                if elapsed > 1:
                    clock.advance(timedelta(seconds=int(elapsed)))
                await chat.run_line(line)
    finally:
        await runtime.stop()
    return code
