"""Events per second through Steward's whole pipeline, with the SQLite store on a file.

Run it with `python bench/pipeline.py` (see bench/README.md). It answers the question a group
owner with many groups asks: can one Steward process keep up with all of them, how long does an
event take, and how much memory does it need? Everything a real event goes through is on the
path:

- the runtime started as `steward run` starts it (`real_time=True`: the write-behind flush loop,
  the activity sweep, the rule-file watcher and APScheduler are running), on the stock rules
  (`library:basic.yaml`, `library:anti-spam.yaml`, `library:ladder.yaml`);
- the SQLite store on a temporary FILE in WAL mode (not `:memory:`; `--dir` says where);
- the in-memory `LocalAdapter` as the platform, so every action (delete, reply, warn, mute, ban,
  admin notice) is really performed and its outcome recorded, without a network.

The workload is 1,000 chats and 100,000 distinct members (100 per chat). Every member posts a
few messages (1–5 each); about one in five joins first (Steward saw them join, so the newcomer
rules of anti-spam.yaml apply to them); 4 % of members are spammers who join and post 2–4 spam
messages, often the same one again (repeated-text); regulars occasionally post a spam-labelled
text too (7 % of messages are spam-labelled in all). Texts are the SMS Spam Collection and the
tg-spam samples (bench/corpora/). All events are shuffled together (each member's join first),
and a virtual clock advances 0.1 ms per event: the traffic of a deployment at the 10,000
events/s target, replayed as fast as Steward takes it.

Two ways in are measured, each in a fresh child process so that one's memory does not count
against the other:

- `handle`: `await Pipeline.handle(event)` one event after another (`Runtime.handle` is this
  plus a call; tests and the console use it). Its latencies are pure service times: nothing
  else is in flight. This is what the RESULT line reports.
- `submit`: `Runtime.submit(event)` → the dispatcher's per-chat queues, chats handled
  concurrently, as adapters deliver; at most `--in-flight` events (8) are handed over and not
  yet handled, i.e. the platform delivers as fast as Steward takes events. Its throughput shows
  what overlapping chats gains; its latencies include waiting for the other events in flight
  at saturation, so they measure the offered load as much as Steward.

Each event is built just before it is handed over, and the time spent building it is taken out
of the timed part; the timed part ends when every event is handled and the buffered writes are
flushed. Garbage collection stays on, as in a running bot. Per-event latency is the time spent
in `Pipeline.handle` (time.perf_counter_ns). Peak RSS is the child's `ru_maxrss`: the
interpreter, the compiled rules, 100,000 members in memory, SQLite's cache, and the fake
platform (its logs of performed actions are emptied every 1,024 events: they are the fake's
memory, not Steward's). The last line is machine-readable:

    RESULT pipeline_events_per_s=N p99_ms=X rss_mb=Y
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/pipeline.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bench.engine import Sample, load_messages  # noqa: E402
from bot.actions import Action  # noqa: E402
from bot.clock import VirtualClock  # noqa: E402
from bot.events import AnyEvent, Chat, Join, Message, User  # noqa: E402
from bot.local import LocalAdapter  # noqa: E402
from bot.pipeline import Handled  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.storage.sqlite import SqliteStore  # noqa: E402
from bot.testing import STOCK_RULES, harness_config  # noqa: E402
from rules import ENGINE_BUILD  # noqa: E402

PLATFORM = "bench"
BASE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLEAR_EVERY = 1_024  # events between emptying the fake platform's logs
MODES = ("handle", "submit")

# What became of an event, in the order the latency table prints them.
CLEAN, JOINED, ENFORCED, DUPLICATE = range(4)
CATEGORY_NAMES = ("clean message", "join", "enforced (case)", "duplicate")
# What an event is, by the corpus.
JOIN, HAM, SPAM = range(3)
LABEL_NAMES = ("join", "message (ham)", "message (spam)")


# --------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """The shape of the traffic; every figure is a command-line option."""

    chats: int = 1_000
    members: int = 100_000
    joiners: float = 0.15  # share of (non-spammer) members Steward sees joining
    spammers: float = 0.04  # share of members who join, then post spam
    stray_spam: float = 0.03  # chance a regular's message is a spam-labelled text
    step_ms: float = 0.1  # virtual time between two events: 10,000 events/s of traffic
    in_flight: int = 8  # submit path: events handed over and not yet handled, at most
    seed: int = 20260302


class Traffic:
    """Deterministic traffic: the same events, in the same order, on every run and machine.

    Only the order of (member, slot) pairs is materialised up front (a compact array); each event
    is built just before Steward gets it, so the benchmark's own input neither inflates the
    measured memory nor lingers long enough to burden the garbage collector.
    """

    REGULAR, NEWCOMER, SPAMMER = range(3)

    def __init__(self, workload: Workload, samples: Sequence[Sample]) -> None:
        self.workload = workload
        rng = random.Random(workload.seed)
        self._rng = rng
        self.ham = [s.text for s in samples if not s.spam]
        self.spam = [s.text for s in samples if s.spam]
        n = workload.members
        self.roles = bytearray(n)
        slots = array.array("i")
        for member in range(n):
            draw = rng.random()
            if draw < workload.spammers:
                role, posts = self.SPAMMER, rng.randint(2, 4)
            elif draw < workload.spammers + workload.joiners:
                role, posts = self.NEWCOMER, rng.randint(1, 5)
            else:
                role, posts = self.REGULAR, rng.randint(1, 5)
            self.roles[member] = role
            slots.extend([member] * (posts + (role != self.REGULAR)))
        rng.shuffle(slots)  # type: ignore[arg-type]  # array is a mutable sequence
        self.slots = slots
        self.chats = [Chat(f"c{c}", f"Group {c}") for c in range(workload.chats)]
        self.labels = bytearray(len(slots))  # per event: JOIN, HAM or SPAM (corpus label)
        self._step = timedelta(milliseconds=workload.step_ms)
        self._emitted = bytearray(n)
        self._last_spam: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.slots)

    def event(self, index: int) -> AnyEvent:
        """Event number `index`; ask in order, 0, 1, 2 … (texts come from one random stream)."""
        rng = self._rng
        member = self.slots[index]
        role = self.roles[member]
        chat = self.chats[member % len(self.chats)]
        user = User(f"u{member}", f"Member {member}", f"member{member}")
        at = BASE_TIME + index * self._step
        first = self._emitted[member] == 0
        self._emitted[member] = 1
        if first and role != self.REGULAR:
            self.labels[index] = JOIN
            return Join(platform=PLATFORM, chat=chat, actor=user, at=at, id=str(index))
        if role == self.SPAMMER:
            text = self._last_spam.get(member)
            if text is None or rng.random() < 0.5:
                text = self._last_spam[member] = rng.choice(self.spam)
            label = SPAM
        elif rng.random() < self.workload.stray_spam:
            text, label = rng.choice(self.spam), SPAM
        else:
            text, label = rng.choice(self.ham), HAM
        self.labels[index] = label
        return Message(platform=PLATFORM, chat=chat, actor=user, at=at, id=str(index), text=text)


# --------------------------------------------------------------------------------------------
# One measured run (in a child process)
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one mode measured; serialised as JSON from the child to the parent."""

    mode: str
    events: int = 0
    seconds: float = 0.0
    flush_seconds: float = 0.0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    rule_hits: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    db_mb: float = 0.0
    setup_seconds: float = 0.0
    gc_full: int = 0  # full (generation 2) garbage collections during the timed part
    gc_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def percentiles(values: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max of nanosecond samples, in milliseconds."""
    if not values:
        return {}
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, max(0, int(q * n + 0.5) - 1))] / 1e6

    return {
        "n": float(n),
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": ordered[-1] / 1e6,
        "mean": sum(ordered) / n / 1e6,
    }


def current_rss_mb() -> float:
    """Resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


async def measure(mode: str, workload: Workload, directory: Path) -> Run:
    samples = load_messages()
    traffic = Traffic(workload, samples)
    del samples
    clock = VirtualClock(BASE_TIME - timedelta(seconds=1))
    adapter = LocalAdapter(clock, platform=PLATFORM)
    database = directory / "steward-bench.sqlite3"
    t0 = time.perf_counter()
    runtime = Runtime(
        harness_config(STOCK_RULES),
        {PLATFORM: adapter},
        clock=clock,
        store=SqliteStore(database),
        real_time=True,
    )
    await runtime.start()
    run = Run(mode, setup_seconds=time.perf_counter() - t0)
    pipeline = runtime.pipeline

    # Per event, by index, in compact arrays (a list of results would itself grow the heap).
    n = len(traffic)
    latencies = array.array("q", bytes(8 * n))
    outcome = bytearray(n)  # CLEAN, JOINED, ENFORCED or DUPLICATE
    shadow_only = bytearray(n)
    primary_rule = array.array("H", bytes(2 * n))
    rule_ids: dict[str, int] = {}
    performed: dict[str, int] = {}

    def count(action: Action, _: object) -> None:  # on the timed path: no Counter.update
        kind = action.kind.value
        performed[kind] = performed.get(kind, 0) + 1

    adapter.listeners.append(count)
    window = asyncio.Semaphore(workload.in_flight if mode == "submit" else 1)

    async def timed(event: AnyEvent) -> Handled:
        """Pipeline.handle, timed; keeps the virtual clock at the event's time."""
        if event.at > clock.now():
            clock.set(event.at)
        start = time.perf_counter_ns()
        try:
            handled = await pipeline.handle(event)
        finally:
            window.release()
        index = int(event.id)
        latencies[index] = time.perf_counter_ns() - start
        verdict = handled.verdict
        if handled.duplicate:
            outcome[index] = DUPLICATE
        elif handled.case_id is not None and verdict is not None and verdict.primary is not None:
            outcome[index] = ENFORCED
            rule = verdict.primary.rule.id
            primary_rule[index] = rule_ids.setdefault(rule, len(rule_ids))
        else:
            outcome[index] = JOINED if isinstance(event, Join) else CLEAN
        if verdict is not None and verdict.shadow and not verdict.matches:
            shadow_only[index] = 1
        return handled

    # Adapters deliver through Runtime.submit → runtime.dispatcher; route it through the timer.
    runtime.dispatcher = type(runtime.dispatcher)(timed)

    full_collections = [0, 0.0]
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            full_collections[0] += 1
            full_collections[1] += time.perf_counter() - started[0]

    gc.collect()
    gc.callbacks.append(on_gc)
    run.rss_start_mb = current_rss_mb()
    making = 0.0  # time spent building events, taken out of the timed part
    state = adapter.state
    start = time.perf_counter()
    for index in range(n):
        made = time.perf_counter()
        event = traffic.event(index)
        if index % CLEAR_EVERY == 0:  # the fake platform's logs are its memory, not Steward's
            for log in (adapter.performed, state.sent, state.notices, state.warnings):
                log.clear()
            state.deleted.clear()
        making += time.perf_counter() - made
        await window.acquire()  # submit: the platform hands over events as fast as they go
        if mode == "submit":
            await runtime.submit(event)
        else:
            await timed(event)
    await runtime.dispatcher.drain()
    flushing = time.perf_counter()
    await pipeline.flush()
    run.flush_seconds = time.perf_counter() - flushing
    run.seconds = time.perf_counter() - start - making
    gc.callbacks.remove(on_gc)
    run.rss_peak_mb = peak_rss_mb()
    run.gc_full, run.gc_seconds = int(full_collections[0]), full_collections[1]
    await runtime.stop()

    run.events = n
    counts: Counter[str] = Counter()
    for label, result, shadow in zip(traffic.labels, outcome, shadow_only, strict=True):
        kind = LABEL_NAMES[label]
        counts[kind] += 1
        if result == ENFORCED:
            counts[f"enforced {kind}"] += 1
        elif result == DUPLICATE:
            counts[f"duplicate {kind}"] += 1
        counts[f"shadow-only {kind}"] += shadow
    run.counts = {k: v for k, v in counts.items() if v}
    names = {i: rule for rule, i in rule_ids.items()}
    run.rule_hits = dict(
        Counter(names[r] for r, o in zip(primary_rule, outcome, strict=True) if o == ENFORCED)
    )
    run.actions = dict(performed)
    run.latency_ms["all events"] = percentiles(latencies)
    for category, name in enumerate(CATEGORY_NAMES):
        chosen = [v for v, c in zip(latencies, outcome, strict=True) if c == category]
        if chosen:
            run.latency_ms[name] = percentiles(chosen)
    run.stored = stored_counts(database)
    run.db_mb = (
        sum(p.stat().st_size for p in directory.glob("steward-bench.sqlite3*") if p.exists())
        / 2**20
    )
    return run


def stored_counts(database: Path) -> dict[str, int]:
    """What ended up in the database: proof that nothing was skipped or lost on the way."""
    with sqlite3.connect(database) as db:
        counts = {
            table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("chats", "members", "processed_events", "cases", "strikes", "actions")
        }
        for status, n in db.execute("SELECT status, count(*) FROM actions GROUP BY status"):
            counts[f"actions {status}"] = int(n)
    return counts


def child(mode: str, workload: Workload, directory: Path | None) -> Run:
    with tempfile.TemporaryDirectory(prefix="steward-bench-", dir=directory) as tmp:
        return asyncio.run(measure(mode, workload, Path(tmp)))


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def report(runs: Sequence[Run], workload: Workload, pinned: str) -> Run:
    first = runs[0]
    print("Steward pipeline benchmark")
    print(
        f"  python {platform.python_version()} on {platform.machine()}, engine {ENGINE_BUILD}, "
        f"{pinned}, gc on"
    )
    print(
        f"  {workload.chats:,} chats, {workload.members:,} members, stock rules "
        f"({', '.join(r.removeprefix('library:') for r in STOCK_RULES)}), SQLite file in WAL "
        "mode, LocalAdapter"
    )
    counts = first.counts
    messages = counts.get("message (ham)", 0) + counts.get("message (spam)", 0)
    spam = counts.get("message (spam)", 0)
    print(
        f"  {first.events:,} events: {counts.get('join', 0):,} joins + {messages:,} messages "
        f"({spam:,} = {spam / max(messages, 1):.1%} spam-labelled); virtual clock +"
        f"{workload.step_ms:g} ms per event"
    )
    print()
    header = f"  {'mode':<8}{'events/s':>11}{'µs/event':>10}{'timed s':>9}"
    header += f"{'p50 ms':>8}{'p99 ms':>8}{'p99.9 ms':>10}{'max ms':>8}{'peak RSS MB':>13}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for run in runs:
        lat = run.latency_ms["all events"]
        print(
            f"  {run.mode:<8}{run.per_second:>11,.0f}{1e6 / run.per_second:>10.1f}"
            f"{run.seconds:>9.1f}{lat['p50']:>8.3f}{lat['p99']:>8.3f}{lat['p99.9']:>10.2f}"
            f"{lat['max']:>8.1f}{run.rss_peak_mb:>13.0f}"
        )
    for run in runs:
        print()
        print(
            f"  [{run.mode}] latency by kind of event (ms); RSS {run.rss_start_mb:.0f} MB after "
            f"start-up, {run.rss_peak_mb:.0f} MB peak; database {run.db_mb:.0f} MB; "
            f"final flush {run.flush_seconds * 1e3:.0f} ms; {run.gc_full} full garbage "
            f"collections, {run.gc_seconds:.1f} s"
        )
        print(f"    {'kind':<18}{'events':>9}{'p50':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'max':>8}")
        for name, lat in run.latency_ms.items():
            print(
                f"    {name:<18}{int(lat['n']):>9,}{lat['p50']:>8.3f}{lat['p90']:>8.3f}"
                f"{lat['p99']:>8.3f}{lat['p99.9']:>8.2f}{lat['max']:>8.1f}"
            )
    print()
    enforced_spam = counts.get("enforced message (spam)", 0)
    enforced_ham = counts.get("enforced message (ham)", 0)
    print(
        f"  enforced: {enforced_spam:,} of {spam:,} spam-labelled messages, {enforced_ham:,} of "
        f"{messages - spam:,} ham-labelled, {counts.get('enforced join', 0):,} joins"
    )
    hits = ", ".join(f"{rule} {n:,}" for rule, n in sorted(first.rule_hits.items()))
    print(f"  cases by primary rule: {hits}")
    performed = ", ".join(f"{kind} {n:,}" for kind, n in sorted(first.actions.items()))
    print(f"  actions performed by the platform: {performed}")
    stored = ", ".join(f"{table} {n:,}" for table, n in first.stored.items())
    print(f"  stored afterwards: {stored}")
    for run in runs[1:]:
        if run.counts != first.counts or run.stored != first.stored:
            print(f"  WARNING: {run.mode} and {first.mode} disagree on outcomes or stored rows")
    return next((r for r in runs if r.mode == "handle"), first)


def run_child(mode: str, args: argparse.Namespace) -> Run:
    """One mode in a fresh interpreter, so its peak RSS is its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--mode", mode, "--json"]
    for option in ("chats", "members", "step_ms", "in_flight", "seed", "dir", "cpu"):
        value = getattr(args, option)
        if value is not None:
            command += [f"--{option.replace('_', '-')}", str(value)]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(**data)


def pin_to_cpu(cpu: int | None) -> str:
    """Optionally run on one core (the SQLite thread then shares it with the event loop)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return f"not pinned ({os.cpu_count()} CPUs)"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--chats", type=int, default=Workload.chats)
    parser.add_argument("--members", type=int, default=Workload.members)
    parser.add_argument(
        "--step-ms", type=float, default=Workload.step_ms, help="virtual ms between events"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=Workload.in_flight,
        help="submit path: most events handed over and not yet handled",
    )
    parser.add_argument("--seed", type=int, default=Workload.seed)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary database goes")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: none)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child → parent
    args = parser.parse_args(argv)
    workload = Workload(
        chats=args.chats,
        members=args.members,
        step_ms=args.step_ms,
        in_flight=args.in_flight,
        seed=args.seed,
    )
    pinned = pin_to_cpu(args.cpu)

    if args.mode == "both":
        runs = [run_child(mode, args) for mode in MODES]
    else:
        runs = [child(args.mode, workload, args.dir)]
        if args.json:
            print(json.dumps(asdict(runs[0])))
            return 0
    chosen = report(runs, workload, pinned)
    p99 = chosen.latency_ms["all events"]["p99"]
    print()
    print(f"  RESULT reports the {chosen.mode} path.")
    print(
        f"RESULT pipeline_events_per_s={chosen.per_second:.0f} p99_ms={p99:.2f} "
        f"rss_mb={chosen.rss_peak_mb:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
