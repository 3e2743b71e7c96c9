"""Throughput of Steward's compiled rule engine, side by side with two common keyword filters.

Run it with `python bench/engine.py` (see bench/README.md). It answers one question for group
owners who grow big rule sets: does evaluating every message stay cheap? The reference rule set is
what a busy group would plausibly run:

- the stock library (`rules/library/*.yaml`, whichever files exist),
- one rule with 2,000 whole-word keywords,
- 20 rules with one realistic moderation regex each,
- one rule on the 21,908-domain Discord phishing list.

Messages are the SMS Spam Collection and the tg-spam samples (real Telegram spam and ham), about
6,200 texts in English and Russian. The same 2,000 keywords also go to the two peers:

(a) one Python `re` alternation with word boundaries, IGNORECASE (Red-DiscordBot's filter cog
    builds its pattern this way), tested with `search` (Red's `findall` would be slower), and
(b) `better_profanity` loaded with the keywords, tested with `contains_profanity`.

The timed part is only the evaluation: events, member facts and the rule set are built first, so
neither I/O nor `Message` construction is measured. Each contender first runs untimed (once to
count what it flags, once more as a warm-up), then as many whole passes as it takes to fill
`--seconds` (2 s by default), on one pinned CPU, timed with `time.perf_counter`. A peer too slow
for a whole pass within `--max-pass` seconds is timed on every k-th message instead, and Steward
again on that same sample for the ratio. The last line is machine-readable:

    RESULT engine_msgs_per_s=N vs_re_alternation=X vs_better_profanity=Y

N is Steward's messages per second; X and Y are Steward's throughput divided by each peer's.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/engine.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bot.events import Chat, Message, User  # noqa: E402
from bot.facts import MemberFacts, RecentMessage  # noqa: E402
from rules import ENGINE_BUILD, LIBRARY, RuleSet, load_rules  # noqa: E402
from rules.context import fingerprint  # noqa: E402
from rules.normalize import normalize  # noqa: E402

CORPORA = ROOT / "bench" / "corpora"
PHISHING_LIST = LIBRARY / "lists" / "discord-phishing-domains.txt"
KEYWORD_COUNT = 2_000
KEYWORD_RULE = "bench-keywords"
BASE_TIME = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)

# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One corpus message and whether its corpus labels it spam."""

    text: str
    spam: bool


# tg-spam stores each message on one line, writing a line break as a bare `n`. A Latin `n` glued
# to Cyrillic letters, or sitting between punctuation and a capital, is such a break in practice
# ("посоветуете?nKeychron", "brownnили"); English words ending or starting in n are left alone.
_SYMBOL = "\u2190-\u2bff\ufe0f\U0001f000-\U0001faff"  # arrows, dingbats, emoji
_TG_BREAK = re.compile(
    r"(?<=[а-яёА-ЯЁ])n|n(?=[а-яёА-ЯЁ])"
    r"|(?<=[.!?:;)\]»\"'])n(?=[A-Z0-9(«\"'])|(?<=\s)n(?=[A-Z][a-z])"
    rf"|(?<=[{_SYMBOL}])n|n(?=[{_SYMBOL}])"
)


def load_messages() -> list[Sample]:
    """The SMS corpus (`label<TAB>text`) followed by tg-spam's spam and ham samples."""
    samples: list[Sample] = []
    with (CORPORA / "SMSSpamCollection.tsv").open(encoding="utf-8") as sms:
        for line in sms:
            label, _, text = line.rstrip("\n").partition("\t")
            if text:
                samples.append(Sample(text, label == "spam"))
    for name, spam in (("spam-samples.txt", True), ("ham-samples.txt", False)):
        with (CORPORA / name).open(encoding="utf-8") as tg:
            for line in tg:
                text = _TG_BREAK.sub("\n", line.rstrip("\n")).strip()
                if text:
                    samples.append(Sample(text, spam))
    return samples


def build_inputs(samples: Sequence[Sample]) -> list[tuple[Message, MemberFacts]]:
    """Pre-built events and member snapshots, so that building them is not part of the timing.

    Members are a deterministic mix: every tenth message comes from a newcomer (joined an hour
    ago, nothing said yet), the rest from regulars with a short recent history, which is what the
    pipeline hands the rules (flood and repeated-text windows read it).
    """
    chat = Chat("bench-chat", "Benchmark group")
    inputs: list[tuple[Message, MemberFacts]] = []
    for i, sample in enumerate(samples):
        at = BASE_TIME + timedelta(seconds=i)
        actor = User(f"u{i % 997}", name=f"Member {i % 997}")
        event = Message(
            platform="telegram", chat=chat, actor=actor, at=at, id=str(i), text=sample.text
        )
        if i % 10 == 0:
            member = MemberFacts(level=0, joined_at=at - timedelta(hours=1), message_count=0)
        else:
            earlier = samples[i - 1].text if i else ""
            recent = (
                RecentMessage(at - timedelta(minutes=3), fingerprint(normalize(earlier))),
                RecentMessage(at - timedelta(seconds=40), fingerprint(normalize(f"hi {i}"))),
            )
            member = MemberFacts(
                level=1 + i % 3,
                joined_at=at - timedelta(days=30 + i % 200),
                message_count=50 + i % 500,
                recent=recent,
            )
        inputs.append((event, member))
    return inputs


# --------------------------------------------------------------------------------------------
# The reference rule set
# --------------------------------------------------------------------------------------------

# Multi-word scam phrases, generated from slots so the list is reproducible and needs no download.
_SCAM_TEMPLATES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    (
        "{} {} {}",
        (
            ("earn", "make", "get", "receive", "withdraw", "generate"),
            ("money", "cash", "bitcoin", "usdt", "crypto", "profit", "income", "dollars", "btc"),
            (
                "daily",
                "every day",
                "from home",
                "online",
                "fast",
                "weekly",
                "in 24 hours",
                "without investment",
                "with your phone",
                "passively",
            ),
        ),
    ),
    (
        "{} {} {} {}",
        (
            ("earn", "make"),
            ("100", "200", "300", "500", "1000", "2000", "5000", "10000"),
            ("usd", "dollars", "usdt", "euro"),
            ("per day", "a day", "per week", "daily", "weekly", "in a week"),
        ),
    ),
    (
        "{} me for {}",
        (
            ("dm", "pm", "inbox", "message", "text", "write", "contact", "call"),
            (
                "details",
                "more info",
                "investment",
                "trading signals",
                "the link",
                "profit",
                "crypto",
                "a loan",
                "a job",
                "help",
            ),
        ),
    ),
    (
        "{} {} {}",
        (
            ("legit", "trusted", "genuine", "guaranteed", "profitable", "secure", "reliable"),
            ("investment", "trading", "crypto", "forex", "bitcoin", "mining"),
            ("platform", "company", "opportunity", "plan", "broker", "manager", "account manager"),
        ),
    ),
    (
        "{} your {}",
        (
            ("double", "triple", "grow", "multiply", "recover"),
            ("bitcoin", "money", "crypto", "investment", "usdt", "eth", "lost funds", "capital"),
        ),
    ),
    (
        "{} {}",
        (
            ("claim your free", "win a free", "get a free", "free", "you have won a"),
            (
                "iphone",
                "gift card",
                "airdrop",
                "nitro",
                "bitcoin",
                "vacation",
                "voucher",
                "ringtone",
                "prize",
                "cash prize",
                "tokens",
                "nft",
            ),
        ),
    ),
    (
        "click {} to {}",
        (
            ("the link", "here", "below", "the link below", "my profile", "the button"),
            ("join", "claim", "register", "start earning", "withdraw", "get paid", "verify"),
        ),
    ),
    (
        "{} {}",
        (
            ("заработок", "доход", "работа", "подработка"),
            (
                "без вложений",
                "на дому",
                "в интернете",
                "в телеграм",
                "от 1000 рублей в день",
                "каждый день",
                "для всех",
            ),
        ),
    ),
    (
        "{} {} {}",
        (
            ("ищу", "нужны", "набираю"),
            ("людей", "партнеров", "сотрудников", "курьеров"),
            ("для заработка", "на удаленку", "в команду", "срочно"),
        ),
    ),
    (
        "пиши в {}",
        (("лс", "личку", "личные сообщения", "директ", "телеграм"),),
    ),
    (
        "{}",
        (
            (
                "日赚",
                "月入过万",
                "兼职",
                "刷单",
                "免费领取",
                "加微信",
                "私聊我",
                "躺赚",
                "稳赚不赔",
                "带单",
            ),
        ),
    ),
)


def _round_robin(iterators: list[Iterator[str]]) -> Iterator[str]:
    """Take one phrase from each template in turn, so a cut-off list still has every kind."""
    live = list(iterators)
    while live:
        for it in list(live):
            try:
                yield next(it)
            except StopIteration:
                live.remove(it)


def _expand(template: str, slots: tuple[tuple[str, ...], ...]) -> Iterator[str]:
    """Every filling of one template's slots, in a fixed order."""
    for combo in itertools.product(*slots):
        yield template.format(*combo)


def generate_keywords(count: int = KEYWORD_COUNT) -> list[str]:
    """better_profanity's own word list plus generated scam phrases: `count` distinct keywords.

    Deterministic (no randomness, no download): the same list on every run and every machine, so
    results from different runs compare.
    """
    wordlist = resources.files("better_profanity").joinpath("profanity_wordlist.txt")
    words: dict[str, None] = {}
    for line in wordlist.read_text(encoding="utf-8").splitlines():
        word = line.strip().lower()
        if word:
            words.setdefault(word, None)
    phrases = _round_robin([_expand(template, slots) for template, slots in _SCAM_TEMPLATES])
    for phrase in phrases:
        if len(words) >= count:
            break
        words.setdefault(phrase, None)
    if len(words) < count:
        raise SystemExit(f"only {len(words)} keywords could be generated; add slots")
    return list(words)[:count]


# Twenty patterns moderators actually write; all RE2-compatible. Most run on the normalised text
# (lowercase); the few that need case or the original characters use `text: raw`.
REGEXES: tuple[tuple[str, str, bool], ...] = (
    ("phone-number", r"\+?\d[\d ().-]{8,}\d", False),
    ("btc-address", r"\b(?:bc1[a-z0-9]{25,39}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b", True),
    ("eth-address", r"\b0x[0-9a-f]{40}\b", False),
    ("tron-address", r"\bT[1-9A-HJ-NP-Za-km-z]{33}\b", True),
    (
        "earn-per-day",
        r"(?:earn|make|get)\s+\$?\d[\d,.]*\s*k?\s*(?:\$|usd|usdt|dollars?)?\s*"
        r"(?:per|a|/|every)\s*(?:day|week|hour)",
        False,
    ),
    ("dm-me", r"\b(?:dm|pm|inbox|message|text) me\b", False),
    ("whatsapp-number", r"whats\s*app\D{0,20}\+?\d{7,}", False),
    ("contact-handle", r"(?:contact|write|message|text|dm)\s+@[a-z0-9_]{4,}", False),
    ("big-amount", r"\$\s?\d{1,3}(?:,\d{3})+", False),
    ("percent-return", r"\d{2,4}\s?%\s*(?:profit|return|roi|bonus|daily|guaranteed)", False),
    (
        "prize-claim",
        r"\b(?:win|won|claim|winner)\b.{0,30}\b(?:prize|cash|reward|voucher|gift ?card)\b",
        False,
    ),
    ("call-now", r"\b(?:call|txt|text|reply)\s+(?:now\s+)?(?:on\s+)?0?\d{5,}", False),
    ("premium-rate", r"\b09\d{9}\b", False),
    ("short-code", r"\b(?:txt|text|send)\s+\w+\s+to\s+\d{4,6}\b", False),
    (
        "crypto-pitch",
        r"\b(?:bitcoin|btc|usdt|eth|crypto)\b.{0,40}\b(?:double|invest(?:ment)?|profit|mining)\b",
        False,
    ),
    ("shouting-punctuation", r"[!?]{5,}", False),
    ("url-shortener", r"\b(?:bit\.ly|tinyurl\.com|goo\.gl|cutt\.ly|is\.gd|urlz\.fr)/\S+", False),
    ("email-address", r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", False),
    ("ru-earnings", r"заработ[а-яё]*.{0,30}(?:\d+\s*(?:руб|₽|\$|usd)|в день|в неделю)", False),
    ("cn-earnings", r"(?:日赚|月入|兼职|刷单).{0,10}\d+", False),
)


def bench_rules_yaml(keywords: Sequence[str], phishing: Path) -> str:
    """The benchmark's own rules as YAML text (JSON scalars are valid YAML and need no escaping)."""
    q = json.dumps
    lines = [
        "version: 1",
        "lists:",
        f"  bench_keywords: [{', '.join(q(k, ensure_ascii=False) for k in keywords)}]",
        f"  bench_phishing: {{file: {q(str(phishing))}}}",
        "rules:",
        f"  - id: {KEYWORD_RULE}",
        "    description: 2,000 profanities and scam phrases as whole words",
        "    when: {words: {list: bench_keywords}}",
        "    strike: 1",
        "    delete: true",
        "  - id: bench-phishing",
        "    description: Links to known Discord phishing domains",
        "    when: {links: {domains: {list: bench_phishing}}}",
        "    strike: 3",
        "    delete: true",
    ]
    for name, pattern, raw in REGEXES:
        regex = f"{{pattern: {q(pattern)}, text: raw}}" if raw else q(pattern)
        lines += [
            f"  - id: bench-re-{name}",
            f"    when: {{regex: {regex}}}",
            "    strike: 1",
        ]
    return "\n".join(lines) + "\n"


def load_reference_ruleset(
    keywords: Sequence[str], library_dir: Path = LIBRARY
) -> tuple[RuleSet, list[str]]:
    """The stock library plus the benchmark rules, loaded the way `steward` loads files."""
    library = sorted(library_dir.glob("*.yaml"))
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        generated = Path(tmp) / "bench-reference.yaml"
        generated.write_text(bench_rules_yaml(keywords, PHISHING_LIST), encoding="utf-8")
        loaded = load_rules([*library, generated])
    return loaded.ruleset, [p.name for p in library]


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

PassMaker = Callable[[Sequence[int]], Callable[[], None]]


@dataclass(frozen=True, slots=True)
class Contender:
    """A filter under test: how to build a timed pass over some messages, and how to flag one."""

    name: str
    make_pass: PassMaker
    flags: Callable[[int], bool]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One contender's measurement over `indexes` (all messages, or a systematic sample)."""

    name: str
    indexes: Sequence[int]
    per_second: float  # over all timed passes: what the RESULT line reports
    best_per_second: float  # the fastest single pass: less disturbed by other processes
    passes: int
    flagged: int
    flagged_spam: int
    flagged_ham: int


def measure(
    contender: Contender, indexes: Sequence[int], samples: Sequence[Sample], min_seconds: float
) -> Outcome:
    """Warm up (counting what is flagged), then time whole passes until `min_seconds` is filled.

    The clock is read only between passes of thousands of messages, so reading it costs nothing
    measurable. Garbage collection is paused while timing, so a collection triggered by garbage
    from an earlier contender is not billed to this one.
    """
    flags = [contender.flags(i) for i in indexes]
    run_pass = contender.make_pass(indexes)
    run_pass()
    gc.collect()
    gc.disable()
    try:
        passes = 0
        fastest = math.inf
        start = previous = time.perf_counter()
        while True:
            run_pass()
            passes += 1
            now = time.perf_counter()
            fastest = min(fastest, now - previous)
            previous = now
            elapsed = now - start
            if elapsed >= min_seconds:
                break
    finally:
        gc.enable()
    spam = sum(1 for f, i in zip(flags, indexes, strict=True) if f and samples[i].spam)
    return Outcome(
        contender.name,
        indexes,
        passes * len(indexes) / elapsed,
        len(indexes) / fastest,
        passes,
        sum(flags),
        spam,
        sum(flags) - spam,
    )


def plan_sample(contender: Contender, total: int, max_pass_seconds: float) -> Sequence[int]:
    """All messages, or every k-th one when a single pass would take longer than the budget.

    better_profanity compares every word of a message with every keyword in Python, which at
    2,000 keywords is ~10 messages/s: a full pass over the corpora would take well over ten
    minutes. A systematic sample keeps the run short; Steward is then also timed on the same
    sample, so the ratio compares like with like.
    """
    probe = range(0, total, 50)
    run_probe = contender.make_pass(probe)
    start = time.perf_counter()
    run_probe()
    estimate = (time.perf_counter() - start) * total / len(probe)
    if estimate <= max_pass_seconds:
        return range(total)
    step = math.ceil(estimate / max_pass_seconds)
    return range(0, total, step)


def pin_to_one_cpu(cpu: int | None) -> str:
    """Run on one core, as the target in the issue is stated per core.

    Without `--cpu`, the allowed CPU that was idle longest over a quarter of a second: on a
    shared machine that avoids sitting beside another busy process.
    """
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu is not None else _idlest(allowed)
    os.sched_setaffinity(0, {chosen})
    return f"pinned to CPU {chosen}"


def _idlest(cpus: Sequence[int]) -> int:
    def idle() -> dict[int, int]:
        ticks: dict[int, int] = {}
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                for line in stat:
                    name, *fields = line.split()
                    if name.startswith("cpu") and name[3:].isdigit():
                        ticks[int(name[3:])] = int(fields[3]) + int(fields[4])  # idle + iowait
        except OSError:
            pass
        return ticks

    before = idle()
    time.sleep(0.25)
    after = idle()
    return max(cpus, key=lambda c: (after.get(c, 0) - before.get(c, 0), c))


def describe_sample(indexes: Sequence[int], total: int) -> str:
    if len(indexes) == total:
        return f"all {total}"
    step = indexes[1] - indexes[0] if len(indexes) > 1 else total
    return f"1/{step}: {len(indexes)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="timed time per contender")
    parser.add_argument(
        "--max-pass",
        type=float,
        default=10.0,
        help="a contender slower than this per full pass is timed on a systematic sample",
    )
    parser.add_argument("--full", action="store_true", help="never sample (takes very long)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: last)")
    parser.add_argument(
        "--library", type=Path, default=LIBRARY, help="rule files to include (default: stock)"
    )
    parser.add_argument(
        "--only-steward", action="store_true", help="skip the peers (for profiling the engine)"
    )
    args = parser.parse_args(argv)

    pinned = pin_to_one_cpu(args.cpu)
    samples = load_messages()
    inputs = build_inputs(samples)
    keywords = generate_keywords()
    texts = [s.text for s in samples]
    total = len(samples)

    t0 = time.perf_counter()
    ruleset, library = load_reference_ruleset(keywords, args.library)
    load_seconds = time.perf_counter() - t0
    keyword_rule = ruleset.rule(KEYWORD_RULE)

    n_spam = sum(s.spam for s in samples)
    print("Steward engine benchmark")
    print(
        f"  python {platform.python_version()} on {platform.machine()}, engine {ENGINE_BUILD}, "
        f"{pinned}; each contender:"
        f" untimed passes, then whole passes for ≥ {args.seconds:g} s (time.perf_counter)"
    )
    print(
        f"  messages: {total} ({n_spam} spam, {total - n_spam} ham) from "
        "SMSSpamCollection.tsv + tg-spam spam/ham samples"
    )
    print(
        f"  rule set: {len(ruleset.rules)} rules = library [{', '.join(library) or 'none found'}]"
        f" + 1 rule with {len(keywords)} keywords + {len(REGEXES)} regex rules + phishing list "
        f"({load_seconds:.2f} s to load and compile)"
    )
    print(
        "  timed for steward: ruleset.evaluate(event, member_facts, now=...) per message; the "
        "Message events and MemberFacts are built beforehand and not timed"
    )
    print(
        f"  peers get the same {len(keywords)} keywords: re = one IGNORECASE "
        r"\b(?:kw1|kw2|…)\b alternation, .search(text); better_profanity.contains_profanity(text)"
    )
    sys.stdout.flush()

    evaluate = ruleset.evaluate

    def steward_pass(indexes: Sequence[int]) -> Callable[[], None]:
        chosen = [inputs[i] for i in indexes]

        def run() -> None:
            for event, member in chosen:
                evaluate(event, member, now=event.at)

        return run

    keyword_hits: set[int] = set()  # messages the 2,000-keyword rule flags

    def steward_flags(i: int) -> bool:
        event, member = inputs[i]
        verdict = evaluate(event, member, now=event.at)
        found = (*verdict.matches, *verdict.shadow)
        if any(m.rule is keyword_rule for m in found):
            keyword_hits.add(i)
        return bool(found)

    steward = Contender("steward", steward_pass, steward_flags)
    contenders = [steward]

    if not args.only_steward:
        alternation = re.compile(
            r"\b(?:" + "|".join(re.escape(k) for k in keywords) + r")\b", re.IGNORECASE
        )
        search = alternation.search

        def re_pass(indexes: Sequence[int]) -> Callable[[], None]:
            chosen = [texts[i] for i in indexes]

            def run() -> None:
                for text in chosen:
                    search(text)

            return run

        contenders.append(
            Contender("re alternation", re_pass, lambda i: search(texts[i]) is not None)
        )

        from better_profanity import profanity

        profanity.load_censor_words(keywords)
        contains = profanity.contains_profanity

        def bp_pass(indexes: Sequence[int]) -> Callable[[], None]:
            chosen = [texts[i] for i in indexes]

            def run() -> None:
                for text in chosen:
                    contains(text)

            return run

        contenders.append(
            Contender("better_profanity", bp_pass, lambda i: bool(contains(texts[i])))
        )

    print()
    header = (
        f"  {'contender':<26}{'messages':>13}{'msgs/s':>11}{'µs/msg':>10}{'passes':>7}"
        f"{'flagged':>9}{'spam':>6}{'ham':>6}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))

    def report(o: Outcome, label: str) -> None:
        print(
            f"  {label:<26}{describe_sample(o.indexes, total):>13}{o.per_second:>11,.0f}"
            f"{1e6 / o.per_second:>10.2f}{o.passes:>7}{o.flagged:>9}{o.flagged_spam:>6}"
            f"{o.flagged_ham:>6}"
        )
        sys.stdout.flush()

    full = measure(steward, range(total), samples, args.seconds)
    report(full, "steward")
    ratios: dict[str, float] = {}
    for peer in contenders[1:]:
        indexes = range(total) if args.full else plan_sample(peer, total, args.max_pass)
        outcome = measure(peer, indexes, samples, args.seconds)
        if len(indexes) == total:
            ratios[peer.name] = full.per_second / outcome.per_second
        else:
            same = measure(steward, indexes, samples, args.seconds)
            report(same, "steward (same sample)")
            ratios[peer.name] = same.per_second / outcome.per_second
        report(outcome, peer.name)

    print()
    print(
        f"  flagged = messages with at least one match (steward: any rule, of which its "
        f"{len(keywords)}-keyword rule alone {len(keyword_hits)} on all {total});"
    )
    print("  spam/ham = flagged messages by corpus label; a sample is every k-th message.")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(
        f"  machine load average {load} on {os.cpu_count()} CPUs; steward's fastest single "
        f"pass: {full.best_per_second:,.0f} msgs/s (the RESULT line counts every timed pass)."
    )
    x = ratios.get("re alternation", math.nan)
    y = ratios.get("better_profanity", math.nan)
    print(
        f"RESULT engine_msgs_per_s={full.per_second:.0f} "
        f"vs_re_alternation={x:.2f} vs_better_profanity={y:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
