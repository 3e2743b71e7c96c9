"""Discord messages per second, end to end: the fake gateway → discord.py → Steward → REST.

Run it with `python bench/discord.py`. It answers the question the owner of a bot in many busy
Discord servers asks: how many messages a second can one Steward process take in, judge, and act
on? Everything a real message goes through is on the path:

- the fake Discord of the test suite (tests/fakes/discord_api.py: a gateway WebSocket and the
  REST API, aiohttp on 127.0.0.1) holds the guilds, channels and members, and pushes each
  message as a MESSAGE_CREATE dispatch, JSON in zlib-stream compressed frames as Discord sends
  them. It runs in a child process, as Discord's servers run elsewhere: their work (encoding and
  compressing dispatches, answering REST calls) is not Steward's;
- the real discord.py 2.x client (a plain `Client`, as `steward run` starts it without
  `shards`) receives the frames, inflates and parses them into discord.py models with its member
  cache, and hands each dispatch to the Discord adapter, which translates it and submits it to
  the runtime. The adapter reaches the fake through its `api_url` and `gateway_url` options,
  the settings of a deployment behind a REST proxy;
- the runtime as `steward run` starts it (`real_time=True`: the write-behind flush loop, the
  rule-file watcher and the scheduler run), on the stock rules (basic, anti-spam, ladder) and the
  SQLite store on a temporary file; its dispatcher handles each guild in order (strikes and
  member facts are per guild) and different guilds concurrently;
- every action goes back over HTTP through discord.py's REST client to the fake, which really
  deletes messages, times members out, bans them, and echoes what Discord would (the bot's own
  messages, member updates, bans) back over the gateway, where Steward reads them too.

Traffic: `--guilds` servers with `--channels` text channels and `--members` members each (all
in the member cache from GUILD_CREATE, as with the Server Members intent). About 4 % of the
members are spammers who joined today and post 2–4 spam texts (often the same one again);
regulars, members for a month, post ham with a 3 % chance of a spam-labelled text. Texts are the
SMS Spam Collection and the tg-spam samples (bench/corpora/). A member Steward has banned or
timed out posts nothing more, as on Discord. The dispatches of each phase are queued at once
(the gateway writes them as fast as the socket takes them) and the clock runs until every one is
handled: parsed, translated, judged, acted on over REST and recorded, including the gateway
echoes of those actions. A warm-up phase (the connection, READY and GUILD_CREATEs, slash
command registration, admin lists, first SQLite writes) comes first and is not timed.

The last line is machine-readable:

    RESULT discord_events_per_s=N
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
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/discord.py`, this file's folder comes first on the path and this file
# would shadow the `discord` package (discord.py): the folder goes, the checkout comes.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.discord import DiscordAdapter  # noqa: E402
from bench.child import Remote  # noqa: E402
from bench.engine import load_messages  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import DiscordConfig  # noqa: E402
from bot.events import AnyEvent  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.storage.sqlite import SqliteStore  # noqa: E402
from bot.testing import STOCK_RULES, harness_config  # noqa: E402
from rules import ENGINE_BUILD  # noqa: E402
from rules.ruleset import Verdict  # noqa: E402
from tests.fakes.discord_api import FakeDiscord, Json  # noqa: E402


@dataclass(frozen=True)
class Workload:
    guilds: int = 50
    channels: int = 2  # per guild
    # Per guild. 10,000 members in all, as bench/telegram.py: at 2,000 messages a second each
    # posts about once in five seconds. With 50 a guild each posted every second, and the stock
    # `flood` rule (7 messages in 10 s) fired on most regulars: that measured flood deletions.
    members: int = 200
    messages: int = 10_000  # timed phase
    warmup: int = 2_000
    spammers: float = 0.04
    stray_spam: float = 0.03
    seed: int = 20260302


@dataclass
class Tally:
    """What one phase pushed and what became of it."""

    messages: int = 0
    spam_texts: int = 0
    dispatches: int = 0  # every dispatch the gateway sent in the phase, echoes included
    events: int = 0
    enforced: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process, all threads (SQLite's included)
    loop_cpu_seconds: float = 0.0  # the event loop's thread alone
    calls: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)  # canonical events Steward handled
    rules: Counter[str] = field(default_factory=Counter)  # cases by primary rule

    @property
    def actions(self) -> int:
        """REST calls that carried out an action (not reads such as a member fetch)."""
        return sum(n for route, n in self.calls.items() if not route.startswith("GET "))


class Traffic:
    """Deterministic traffic, pushed into the fake with its own helper (`say`)."""

    REGULAR, SPAMMER = range(2)

    def __init__(self, api: FakeDiscord, workload: Workload) -> None:
        self.api = api
        self.workload = workload
        self.rng = random.Random(workload.seed)
        samples = load_messages()
        self.ham = [s.text for s in samples if not s.spam]
        self.spam = [s.text for s in samples if s.spam]
        owner = api.user("owner")
        now = datetime.now(UTC)
        # (guild, channels, user, role)
        self.people: list[tuple[int, list[int], Json, int]] = []
        for g in range(workload.guilds):
            names = [f"channel-{c}" for c in range(workload.channels)]
            guild = api.guild(f"Guild {g}", owner=owner, channels=names)
            channels = list(guild.channel_ids)
            for m in range(workload.members):
                user = api.user(f"member{g}x{m}")
                role = self.SPAMMER if self.rng.random() < workload.spammers else self.REGULAR
                since = timedelta(hours=1) if role == self.SPAMMER else timedelta(days=30)
                api.add_member(guild.id, user, joined_at=now - since)
                self.people.append((guild.id, channels, user, role))
        self.last_spam: dict[str, str] = {}

    def push(self, messages: int) -> Tally:
        """Queue `messages` MESSAGE_CREATE dispatches (from members still able to post)."""
        tally = Tally()
        rng = self.rng
        api = self.api
        first = len(api.dispatched)
        while tally.messages < messages:
            guild, channels, user, role = self.people[rng.randrange(len(self.people))]
            ident = int(user["id"])
            if api.is_banned(guild, ident) or api.is_timed_out(guild, ident):
                continue  # Discord does not let them post
            if role == self.SPAMMER:
                text = self.last_spam.get(user["id"])
                if text is None or rng.random() < 0.5:
                    text = self.last_spam[user["id"]] = rng.choice(self.spam)
                tally.spam_texts += 1
            elif rng.random() < self.workload.stray_spam:
                text = rng.choice(self.spam)
                tally.spam_texts += 1
            else:
                text = rng.choice(self.ham)
            api.say(rng.choice(channels), user, text)
            tally.messages += 1
        tally.dispatches = len(api.dispatched) - first
        return tally


class Counting:
    """A pipeline handler that counts what Steward finished, to check nothing was lost."""

    def __init__(self) -> None:
        self.events = 0
        self.enforced = 0
        self.kinds: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()

    async def __call__(self, event: AnyEvent, verdict: Verdict | None) -> None:
        self.events += 1
        self.kinds[type(event).__name__] += 1
        if verdict is not None and verdict.primary is not None:
            self.enforced += 1
            self.rules[verdict.primary.rule.id] += 1


# --------------------------------------------------------------------------------------------
# The fake Discord, in its own process
# --------------------------------------------------------------------------------------------


def serve_discord(conn: Connection, workload: Workload) -> None:
    """The child process: the fake Discord and the traffic, driven by commands over `conn`.

    Discord's servers are not on the bot's machine, so their work (encoding and compressing
    dispatches, answering REST calls) must not be counted as Steward's: the fake runs here.
    """
    asyncio.run(_serve(conn, workload))


async def _serve(conn: Connection, workload: Workload) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    api = FakeDiscord()
    await api.start(install=False)
    try:
        traffic = Traffic(api, workload)
        conn.send((api.token, api.api_base, api.gateway_url))
        while True:
            command, count = await commands.get()
            if command == "push":
                api.calls.clear()
                dispatched = len(api.dispatched)
                started = time.perf_counter()
                tally = traffic.push(count)  # nothing is served meanwhile
                conn.send((tally, time.perf_counter() - started, dispatched))
            elif command == "settle":
                # Every dispatch sent so far has been parsed by discord.py (see `synced`).
                await api.synced(timeout=600)
                conn.send((len(api.dispatched), len(api.calls)))
            elif command == "calls":
                conn.send(Counter(c.route for c in api.calls))
            elif command == "dispatched":
                conn.send(len(api.dispatched))
            else:
                conn.send(None)
                return
    finally:
        await api.stop()


# --------------------------------------------------------------------------------------------
# Steward, in this process
# --------------------------------------------------------------------------------------------


async def settle(discord: Remote, adapter: DiscordAdapter, runtime: Runtime) -> None:
    """Until Steward has handled every dispatch, and the echoes of its actions in turn."""
    before = await discord.ask("settle")
    while True:
        await adapter.handed_over()
        await runtime.dispatcher.drain()
        after = await discord.ask("settle")
        if after == before:
            break
        before = after
    await runtime.pipeline.flush()


async def phase(
    discord: Remote,
    adapter: DiscordAdapter,
    runtime: Runtime,
    counting: Counting,
    messages: int,
    profile: cProfile.Profile | None = None,
) -> Tally:
    events_before, enforced_before = counting.events, counting.enforced
    kinds_before, rules_before = counting.kinds.copy(), counting.rules.copy()
    if profile is not None:
        profile.enable()
    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    tally: Tally
    tally, pushing, dispatched_before = await discord.ask("push", messages)
    await settle(discord, adapter, runtime)
    # The clock ran while the child queued the backlog, when nothing could be sent: not ours.
    tally.seconds = time.perf_counter() - started - pushing
    tally.cpu_seconds = time.process_time() - cpu
    tally.loop_cpu_seconds = time.thread_time() - loop_cpu
    if profile is not None:
        profile.disable()
    tally.calls = await discord.ask("calls")
    tally.dispatches = await discord.ask("dispatched") - dispatched_before
    tally.events = counting.events - events_before
    tally.enforced = counting.enforced - enforced_before
    tally.kinds = counting.kinds - kinds_before
    tally.rules = counting.rules - rules_before
    return tally


async def measure(
    workload: Workload, discord: Remote, profile: cProfile.Profile | None
) -> tuple[Tally, Tally]:
    token, api_url, gateway_url = await asyncio.to_thread(discord.conn.recv)
    with tempfile.TemporaryDirectory(prefix="steward-bench-dc-") as tmp:
        adapter = DiscordAdapter(
            DiscordConfig(token=token, api_url=api_url, gateway_url=gateway_url),
            SystemClock(),
            guild_ready_timeout=0.05,  # the fake sends every GUILD_CREATE at once
        )
        runtime = Runtime(
            harness_config(STOCK_RULES),
            {"discord": adapter},
            store=SqliteStore(Path(tmp) / "steward.sqlite3"),
            real_time=True,
        )
        counting = Counting()
        runtime.pipeline.add_handler("bench", counting)
        await runtime.start()
        try:
            await settle(discord, adapter, runtime)  # READY's guilds, slash commands
            warm = await phase(discord, adapter, runtime, counting, workload.warmup)
            timed = await phase(discord, adapter, runtime, counting, workload.messages, profile)
        finally:
            await runtime.stop()
            await discord.ask("stop")
    return warm, timed


def report(workload: Workload, warm: Tally, timed: Tally) -> None:
    import discord

    print("Steward Discord benchmark: fake gateway + REST → discord.py → Steward")
    print(
        f"  python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"engine {ENGINE_BUILD}, "
        f"discord.py {discord.__version__}; Steward in one process and one event loop, "
        "the fake Discord in another process"
    )
    print(
        f"  {workload.guilds} guilds × {workload.channels} channels × {workload.members} members, "
        "stock rules, SQLite file, one gateway connection (zlib-stream), "
        "per-guild concurrent processing"
    )
    print()
    header = (
        f"  {'phase':<8}{'messages':>9}{'spam':>6}{'dispatches':>12}{'events':>8}"
        f"{'enforced':>10}{'actions':>9}{'seconds':>9}{'CPU s':>7}{'msgs/s':>9}{'per CPU s':>11}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, tally in (("warm-up", warm), ("timed", timed)):
        print(
            f"  {name:<8}{tally.messages:>9,}{tally.spam_texts:>6,}{tally.dispatches:>12,}"
            f"{tally.events:>8,}{tally.enforced:>10,}{tally.actions:>9,}{tally.seconds:>9.2f}"
            f"{tally.cpu_seconds:>7.2f}{tally.messages / tally.seconds:>9,.0f}"
            f"{tally.messages / tally.cpu_seconds:>11,.0f}"
        )
    print()
    calls = ", ".join(f"{route} {n:,}" for route, n in timed.calls.most_common())
    print(f"  timed phase, REST calls: {calls}")
    print(
        f"  timed phase, CPU: {timed.loop_cpu_seconds:.2f} s in the event loop's thread "
        f"(discord.py, Steward), {timed.cpu_seconds - timed.loop_cpu_seconds:.2f} s in the "
        "others (SQLite's writer)"
    )
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in timed.kinds.most_common())
    print(f"  timed phase, events Steward handled: {kinds}")
    rules = ", ".join(f"{rule} {n:,}" for rule, n in timed.rules.most_common())
    print(f"  timed phase, cases by primary rule: {rules}")
    print(
        "  dispatches = the messages plus the gateway's echoes of Steward's actions (a ban's"
        " member removal is a Leave event); actions = REST calls other than GET"
    )
    print(
        "  msgs/s is wall-clock time; per CPU s divides by the CPU time Steward's process used"
        " (all its threads), which other load on the machine inflates much less"
    )
    handled = timed.kinds["Message"] + timed.kinds["Command"]
    if handled != timed.messages:
        print(f"  WARNING: {timed.messages:,} messages pushed, Steward finished {handled:,}")


AREAS = (  # (what, path fragment), first match wins
    ("discord.py (gateway, parsing, cache, REST client)", "/site-packages/discord/"),
    ("aiohttp (WebSocket and HTTP I/O)", "/site-packages/aiohttp/"),
    ("Steward's Discord adapter (translate, outbound)", "/adapters/discord/"),
    ("Steward's rules (evaluation)", "/rules/"),
    ("Steward's runtime (pipeline, executor, store calls)", "/bot/"),
    ("asyncio event loop", "/asyncio/"),
    ("json", "/json/"),
)
BUILTINS = (  # C functions, by name
    ("Steward's rules (evaluation)", "re2"),
    ("discord.py (gateway, parsing, cache, REST client)", "zlib"),
    ("json", "json"),
    ("waiting for I/O (epoll)", "poll"),
    ("socket reads and writes", "_socket"),
    ("handing writes to the SQLite thread", "SimpleQueue"),
)


def print_areas(stats: pstats.Stats) -> None:
    """Own time (tottime) of the event loop's thread, summed by where the code lives. The SQLite
    thread is not profiled (cProfile sees one thread); its share shows as `CPU s` above."""
    totals: Counter[str] = Counter()
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, tottime, _, _) in table.items():
        area = next((name for name, part in AREAS if part in filename), None)
        if area is None and filename == "~":
            area = next((name for name, part in BUILTINS if part in function), None)
            area = area or f"built-in: {function}"
        totals[area or "other Python"] += tottime
    whole = sum(totals.values())
    print("  own time by area (event loop thread):")
    for area, seconds in totals.most_common(12):
        print(f"    {seconds:7.2f} s {seconds / whole:6.1%}  {area}")
    print()

    def cumulative(path: str, function: str) -> float:
        return sum(
            row[3]
            for (filename, _, name), row in table.items()
            if filename.endswith(path) and name == function
        )

    gateway = cumulative("discord/gateway.py", "received_message")
    handing = cumulative("adapters/discord/adapter.py", "on_dispatch")
    stages = (
        ("gateway frames: inflate, JSON, discord.py models and cache", gateway - handing),
        ("the adapter: translate and queue (on_dispatch)", handing),
        ("  of which translate.message_event", cumulative("translate.py", "message_event")),
        (
            "Steward's pipeline (Pipeline.handle, actions included)",
            cumulative("pipeline.py", "handle"),
        ),
        ("  of which the rules (RuleSet.evaluate)", cumulative("ruleset.py", "evaluate")),
        (
            "  of which REST calls in discord.py (HTTPClient.request)",
            cumulative("discord/http.py", "request"),
        ),
        ("write-behind flushes to the store (Pipeline.flush)", cumulative("pipeline.py", "flush")),
    )
    print("  time by stage (event loop thread, callees included):")
    for stage, seconds in stages:
        print(f"    {seconds:7.2f} s {seconds / whole:6.1%}  {stage}")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    defaults = Workload()
    parser.add_argument("--guilds", type=int, default=defaults.guilds)
    parser.add_argument("--channels", type=int, default=defaults.channels, help="per guild")
    parser.add_argument("--members", type=int, default=defaults.members, help="per guild")
    parser.add_argument("--messages", type=int, default=defaults.messages, help="timed phase")
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--profile", action="store_true", help="profile the timed phase and print the top"
    )
    args = parser.parse_args(argv)
    workload = Workload(
        guilds=args.guilds,
        channels=args.channels,
        members=args.members,
        messages=args.messages,
        warmup=args.warmup,
        seed=args.seed,
    )
    logging.basicConfig(level=logging.ERROR)  # Steward logs every case at INFO
    profile = cProfile.Profile() if args.profile else None
    # Started before this process has an event loop or threads, so forking is safe.
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve_discord, args=(theirs, workload), daemon=True)
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
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        print(out.getvalue())
        print_areas(stats)
    print(f"RESULT discord_events_per_s={timed.messages / timed.seconds:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
