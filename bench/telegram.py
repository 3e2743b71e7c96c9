"""Telegram updates per second, end to end: the fake Bot API → python-telegram-bot → Steward.

Run it with `python bench/telegram.py`. It answers the question a group owner with many busy
groups asks: how many Telegram updates a second can one Steward process take in, judge, and act
on? Everything a real update goes through is on the path:

- the fake Bot API of the test suite (tests/fakes/telegram_api.py, aiohttp on 127.0.0.1) holds a
  backlog of updates and serves them as Telegram does: `getUpdates` long polling, at most 100
  updates per call, each batch confirmed by the next call's `offset`. It runs in a child
  process, as Telegram's servers run elsewhere: their work is not Steward's;
- the real python-telegram-bot `Application` polls it over HTTP, parses every update into PTB
  objects and hands it to the Telegram adapter, which translates it and submits it to the
  runtime;
- the runtime as `steward run` starts it (`real_time=True`: the write-behind flush loop, the
  rule-file watcher and the scheduler run), on the stock rules (basic, anti-spam, ladder) and the
  SQLite store on a temporary file; its dispatcher handles each chat in order and different chats
  concurrently;
- every action goes back over HTTP to the fake, which really deletes, restricts and bans:
  deletions, replies, warnings, mutes, admin lists (`getChatAdministrators` and `getChat`, cached
  five minutes per chat).

The one difference from production: PTB's up-front limits on *sending* messages (30 a second,
20 a minute per group) are off, because the fake has none and they would measure Telegram's
policy instead of Steward (moderation calls are never throttled up front; 429 answers are still
honoured). With the limits on, a busy deployment's replies queue behind them.

Traffic: `--chats` groups with `--members` members each; about one member in five joins first
(a join is two updates: the "X joined" service message and the chat_member update, which Steward
counts once); 4 % of members are spammers who join and post 2–4 spam texts, regulars post ham
with a 3 % chance of a spam-labelled text. Texts are the SMS Spam Collection and the tg-spam
samples (bench/corpora/). The backlog of each phase is queued at once and the clock runs until
every update is handled: fetched, translated, judged, acted on and recorded. A warm-up phase (new
connections, admin lists, first SQLite writes) comes first and is not timed.

The last line is machine-readable:

    RESULT telegram_updates_per_s=N
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import multiprocessing
import os
import platform
import pstats
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/telegram.py`, this file's folder comes first on the path and this file
# would shadow the `telegram` package (python-telegram-bot): the folder goes, the checkout comes.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.telegram import TelegramAdapter  # noqa: E402
from bench.child import Remote  # noqa: E402
from bench.engine import load_messages  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import TelegramConfig  # noqa: E402
from bot.events import AnyEvent  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.storage.sqlite import SqliteStore  # noqa: E402
from bot.testing import STOCK_RULES, harness_config  # noqa: E402
from rules import ENGINE_BUILD  # noqa: E402
from rules.ruleset import Verdict  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram, Json  # noqa: E402

FIRST_CHAT = -1002000000000
FIRST_USER = 10_000_000


@dataclass(frozen=True)
class Workload:
    chats: int = 200
    members: int = 50  # per chat
    updates: int = 10_000  # timed phase, at least
    warmup: int = 2_000
    joiners: float = 0.15
    spammers: float = 0.04
    stray_spam: float = 0.03
    seed: int = 20260302


@dataclass
class Tally:
    """What one phase pushed and what became of it."""

    updates: int = 0
    messages: int = 0
    joins: int = 0
    spam_texts: int = 0
    events: int = 0
    enforced: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process, all threads (SQLite's included)
    calls: Counter[str] = field(default_factory=Counter)


class Traffic:
    """Deterministic traffic, pushed into the fake with its own helpers (`say`, `join`)."""

    REGULAR, JOINER, SPAMMER = range(3)

    def __init__(self, api: FakeTelegram, workload: Workload) -> None:
        self.api = api
        self.workload = workload
        self.rng = random.Random(workload.seed)
        samples = load_messages()
        self.ham = [s.text for s in samples if not s.spam]
        self.spam = [s.text for s in samples if s.spam]
        self.chats = [FIRST_CHAT - c for c in range(workload.chats)]
        owner = api.user(FIRST_USER - 1, "Owner", "owner")
        for number, chat in enumerate(self.chats):
            api.group(chat, f"Group {number}", owner=owner)
        self.people: list[tuple[int, Json, int]] = []  # (chat, user, role)
        for c, chat in enumerate(self.chats):
            for m in range(workload.members):
                ident = FIRST_USER + c * workload.members + m
                draw = self.rng.random()
                role = (
                    self.SPAMMER
                    if draw < workload.spammers
                    else self.JOINER
                    if draw < workload.spammers + workload.joiners
                    else self.REGULAR
                )
                user = api.user(ident, f"Member {ident}", f"member{ident}")
                self.people.append((chat, user, role))
        self.joined: set[int] = set()
        self.last_spam: dict[int, str] = {}

    def push(self, updates: int) -> Tally:
        """Queue at least `updates` updates in the fake (a join is two)."""
        tally = Tally()
        first = self.api.last_update_id
        rng = self.rng
        while self.api.last_update_id - first < updates:
            chat, user, role = self.people[rng.randrange(len(self.people))]
            ident = user["id"]
            if role != self.REGULAR and ident not in self.joined:
                self.joined.add(ident)
                self.api.join(chat, user)
                tally.joins += 1
                continue
            if role == self.SPAMMER:
                text = self.last_spam.get(ident)
                if text is None or rng.random() < 0.5:
                    text = self.last_spam[ident] = rng.choice(self.spam)
                tally.spam_texts += 1
            elif rng.random() < self.workload.stray_spam:
                text = rng.choice(self.spam)
                tally.spam_texts += 1
            else:
                text = rng.choice(self.ham)
            self.api.say(chat, user, text)
            tally.messages += 1
        tally.updates = self.api.last_update_id - first
        return tally


class Counting:
    """A pipeline handler that counts what Steward finished, to check nothing was lost."""

    def __init__(self) -> None:
        self.events = 0
        self.enforced = 0

    async def __call__(self, event: AnyEvent, verdict: Verdict | None) -> None:
        self.events += 1
        if verdict is not None and verdict.matches:
            self.enforced += 1


# --------------------------------------------------------------------------------------------
# The fake Telegram, in its own process
# --------------------------------------------------------------------------------------------


def serve_telegram(conn: Connection, workload: Workload) -> None:
    """The child process: the fake Bot API and the traffic, driven by commands over `conn`.

    Telegram's servers are not on the bot's machine, so their work (answering calls, encoding
    updates) must not be counted as Steward's: the fake runs here, on another core.
    """
    asyncio.run(_serve(conn, workload))


async def _serve(conn: Connection, workload: Workload) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    async with FakeTelegram() as api:
        traffic = Traffic(api, workload)
        conn.send((api.api_url, api.token))
        while True:
            command, count = await commands.get()
            if command == "push":
                api.calls.clear()
                started = time.perf_counter()
                tally = traffic.push(count)  # nothing is served meanwhile
                conn.send((tally, time.perf_counter() - started))
            elif command == "consumed":
                await api.consumed(timeout=600)
                conn.send(None)
            elif command == "calls":
                conn.send(Counter(c.method for c in api.calls))
            else:
                conn.send(None)
                return


# --------------------------------------------------------------------------------------------
# Steward, in this process
# --------------------------------------------------------------------------------------------


async def phase(
    telegram: Remote,
    adapter: TelegramAdapter,
    runtime: Runtime,
    counting: Counting,
    updates: int,
    profile: cProfile.Profile | None = None,
) -> Tally:
    events_before, enforced_before = counting.events, counting.enforced
    if profile is not None:
        profile.enable()
    started, cpu = time.perf_counter(), time.process_time()
    tally, pushing = await telegram.ask("push", updates)
    await telegram.ask("consumed")
    await adapter.handed_over()
    await runtime.dispatcher.drain()
    await runtime.pipeline.flush()
    # The clock ran while the child queued the backlog, when nothing could be served: not ours.
    tally.seconds = time.perf_counter() - started - pushing
    tally.cpu_seconds = time.process_time() - cpu
    if profile is not None:
        profile.disable()
    tally.calls = await telegram.ask("calls")
    tally.events = counting.events - events_before
    tally.enforced = counting.enforced - enforced_before
    return tally


async def measure(
    workload: Workload, telegram: Remote, profile: cProfile.Profile | None
) -> tuple[Tally, Tally]:
    api_url, token = await asyncio.to_thread(telegram.conn.recv)
    with tempfile.TemporaryDirectory(prefix="steward-bench-tg-") as tmp:
        adapter = TelegramAdapter(
            TelegramConfig(token=token, api_url=api_url),
            SystemClock(),
            poll_timeout=1,
            rate_limits=False,
        )
        runtime = Runtime(
            harness_config(STOCK_RULES),
            {"telegram": adapter},
            store=SqliteStore(Path(tmp) / "steward.sqlite3"),
            real_time=True,
        )
        counting = Counting()
        runtime.pipeline.add_handler("bench", counting)
        await runtime.start()
        try:
            warm = await phase(telegram, adapter, runtime, counting, workload.warmup)
            timed = await phase(telegram, adapter, runtime, counting, workload.updates, profile)
        finally:
            await runtime.stop()
            await telegram.ask("stop")
    return warm, timed


def report(workload: Workload, warm: Tally, timed: Tally) -> None:
    print("Steward Telegram benchmark: fake Bot API → python-telegram-bot → Steward")
    print(
        f"  python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"engine {ENGINE_BUILD}; "
        "Steward in one process and one event loop, the fake Bot API in another process"
    )
    print(
        f"  {workload.chats} chats × {workload.members} members, stock rules, SQLite file, "
        "polling (100 updates per getUpdates), per-chat concurrent processing, "
        "send limits off"
    )
    print()
    header = (
        f"  {'phase':<8}{'updates':>9}{'messages':>10}{'joins':>7}{'events':>8}"
        f"{'enforced':>10}{'API calls':>11}{'seconds':>9}{'CPU s':>7}{'updates/s':>11}"
        f"{'per CPU s':>11}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, tally in (("warm-up", warm), ("timed", timed)):
        calls = sum(n for m, n in tally.calls.items() if m != "getUpdates")
        print(
            f"  {name:<8}{tally.updates:>9,}{tally.messages:>10,}{tally.joins:>7,}"
            f"{tally.events:>8,}{tally.enforced:>10,}{calls:>11,}{tally.seconds:>9.2f}"
            f"{tally.cpu_seconds:>7.2f}"
            f"{tally.updates / tally.seconds:>11,.0f}{tally.updates / tally.cpu_seconds:>11,.0f}"
        )
    print()
    calls = ", ".join(f"{m} {n:,}" for m, n in timed.calls.most_common())
    print(f"  timed phase, Bot API calls: {calls}")
    print(
        "  updates/s is wall-clock time; per CPU s divides by the CPU time Steward's process used"
        " (all its threads), which other load on the machine does not inflate"
    )
    expected = timed.messages + timed.joins
    if timed.events != expected:
        print(f"  WARNING: {expected:,} events expected, Steward finished {timed.events:,}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    defaults = Workload()
    parser.add_argument("--chats", type=int, default=defaults.chats)
    parser.add_argument("--members", type=int, default=defaults.members, help="per chat")
    parser.add_argument("--updates", type=int, default=defaults.updates)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--profile", action="store_true", help="profile the timed phase and print the top"
    )
    args = parser.parse_args(argv)
    workload = Workload(
        chats=args.chats,
        members=args.members,
        updates=args.updates,
        warmup=args.warmup,
        seed=args.seed,
    )
    logging.basicConfig(level=logging.ERROR)  # Steward logs every case at INFO
    profile = cProfile.Profile() if args.profile else None
    # Started before this process has an event loop or threads, so forking is safe.
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve_telegram, args=(theirs, workload), daemon=True)
    child.start()
    try:
        warm, timed = asyncio.run(measure(workload, Remote(ours), profile))
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
    report(workload, warm, timed)
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())
    print(f"RESULT telegram_updates_per_s={timed.updates / timed.seconds:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
