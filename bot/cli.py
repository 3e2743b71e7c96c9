"""The `steward` command line.

Each subcommand is a small function that returns an exit code, so tests can call `main([...])`
directly and read what it printed. Problems in files go to stdout in `FILE:LINE:COL: error: …`
form (editors and CI parse that); usage mistakes go to stderr through argparse.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.actions import action_to_dict
from bot.app import StartupError, configured_platforms, run_console, run_platforms
from bot.config import LoadedConfig, embedded_default, load_config
from bot.durations import DurationError, format_duration, parse_duration
from bot.events import Chat, Message, User
from bot.facts import MemberFacts
from bot.storage.base import StorageError
from rules.diagnostics import RuleFileError
from rules.examples import run_examples
from rules.ladder import StrikeEntry
from rules.loader import load_rules, rules_mode_counts
from rules.ruleset import RuleMatch, plan
from rules.schema import Mode, rule_file_json_schema


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(stream)
        return 2
    try:
        code: int = args.handler(args, stream)
    except BrokenPipeError:  # `steward check --json | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steward", description="Moderate and grow chat groups with rules written in YAML."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run Steward (the console chat when no platform token is set)")
    run.add_argument(
        "-c", "--config", metavar="CONFIG", help="config file (default: embedded defaults)"
    )
    run.add_argument(
        "--log-level", help="DEBUG, INFO, WARNING or ERROR (default: INFO; WARNING in the console)"
    )
    run.set_defaults(handler=_run)

    console = sub.add_parser("console", help="a local chat in the terminal for trying rules")
    console.add_argument("-c", "--config", metavar="CONFIG")
    console.add_argument("--script", metavar="FILE", help="read a script instead of the keyboard")
    console.add_argument("--json", action="store_true", help="print each bot action as JSON")
    console.add_argument(
        "--db", metavar="PATH", help="SQLite file (default: the config's; :memory: for none)"
    )
    console.add_argument("--log-level", default="WARNING")
    console.set_defaults(handler=_console)

    check = sub.add_parser("check", help="validate rule files (and a config with -c)")
    check.add_argument("files", nargs="*", metavar="FILE", help="rule files to check")
    check.add_argument(
        "-c", "--config", metavar="CONFIG", help="also check this config and its groups"
    )
    check.add_argument("--json", action="store_true", help="print problems as JSON")
    check.set_defaults(handler=_check)

    explain = sub.add_parser("explain", help="show which rules a message breaks and what follows")
    explain.add_argument("text", metavar="TEXT", help="the message to try")
    explain.add_argument(
        "--rules", action="append", required=True, metavar="FILE", help="rule file (repeatable)"
    )
    explain.add_argument("--level", type=int, default=0, help="the member's level")
    explain.add_argument(
        "--joined", metavar="AGO", help="how long ago the member joined, e.g. 2h or 3d"
    )
    explain.add_argument("--strikes", type=int, default=0, help="the member's current strike total")
    explain.add_argument(
        "--messages", type=int, default=100, help="messages the member sent before"
    )
    explain.add_argument("--admin", action="store_true", help="the member is an admin")
    explain.add_argument("--json", action="store_true", help="print the answer as JSON")
    explain.set_defaults(handler=_explain)

    test = sub.add_parser("test", help="run the `examples:` of every rule")
    test.add_argument("files", nargs="+", metavar="FILE")
    test.add_argument("-v", "--verbose", action="store_true", help="list every example")
    test.set_defaults(handler=_test)

    schema = sub.add_parser("schema", help="print the JSON Schema of rule files")
    schema.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    schema.set_defaults(handler=_schema)
    return parser


# -- check --------------------------------------------------------------------------------


def _check(args: argparse.Namespace, out: TextIO) -> int:
    if not args.files and not args.config:
        print("steward check: name rule files, or a config with -c", file=sys.stderr)
        return 2
    failed = False
    report: list[dict[str, object]] = []
    if args.config:
        failed = not _check_config(args.config, args.json, report, out)
    for file in args.files:
        try:
            loaded = load_rules([file])
        except RuleFileError as exc:
            failed = True
            for diagnostic in exc.diagnostics:
                report.append(diagnostic.as_dict())
                if not args.json:
                    print(diagnostic.format(), file=out)
            continue
        for warning in loaded.warnings:
            report.append(warning.as_dict())
            if not args.json:
                print(warning.format(), file=out)
        if not args.json:
            counts = rules_mode_counts(loaded.ruleset)
            modes = ", ".join(f"{n} {mode.value}" for mode, n in counts.items() if n)
            total = len(loaded.ruleset.rules)
            plural = "s" if total != 1 else ""
            print(f"{file}: ok ({total} rule{plural}{': ' + modes if modes else ''})", file=out)
    if args.json:
        json.dump({"ok": not failed, "problems": report}, out, ensure_ascii=False, indent=2)
        print(file=out)
    return 1 if failed else 0


def _check_config(path: str, as_json: bool, report: list[dict[str, object]], out: TextIO) -> bool:
    """The config, then each group's rule files together, as the bot would load them."""
    try:
        loaded = load_config(path)
    except RuleFileError as exc:
        for diagnostic in exc.diagnostics:
            report.append(diagnostic.as_dict())
            if not as_json:
                print(diagnostic.format(), file=out)
        return False
    ok = True
    for warning in loaded.warnings:
        report.append(warning.as_dict())
        if not as_json:
            print(warning.format(), file=out)
    for group, files in loaded.group_rules.items():
        try:
            rules = load_rules(files)
        except RuleFileError as exc:
            ok = False
            for diagnostic in exc.diagnostics:
                report.append(diagnostic.as_dict())
                if not as_json:
                    print(diagnostic.format(), file=out)
            continue
        if not as_json:
            print(f"{path}: group '{group}': ok ({len(rules.ruleset.rules)} rules)", file=out)
    return ok


# -- run and console ----------------------------------------------------------------------


def _load_config(path: str | None, out: TextIO) -> LoadedConfig | None:
    if not path:
        return embedded_default()
    try:
        return load_config(path)
    except RuleFileError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(), file=out)
        return None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _run(args: argparse.Namespace, out: TextIO) -> int:
    config = _load_config(args.config, out)
    if config is None:
        return 1
    platforms = configured_platforms(config)
    # In the console the chat is the output; logs would drown it unless asked for.
    _setup_logging(args.log_level or ("INFO" if platforms else "WARNING"))
    console = config.config.adapters.console.enabled
    try:
        if platforms and console is not True:
            return asyncio.run(run_platforms(config, platforms))
        if not platforms:
            print(
                "No TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN is set: "
                "starting the local console chat.",
                file=sys.stderr,
            )
        return _start_console(config, script=None, as_json=False, database=None, out=out)
    except (StartupError, StorageError, RuleFileError) as exc:
        print(f"steward: {exc}", file=sys.stderr)
        return 1


def _console(args: argparse.Namespace, out: TextIO) -> int:
    _setup_logging(args.log_level)
    config = _load_config(args.config, out)
    if config is None:
        return 1
    try:
        return _start_console(
            config, script=args.script, as_json=args.json, database=args.db, out=out
        )
    except BrokenPipeError:  # the reader of our output went away (`| head`)
        sys.stderr.close()
        return 0
    except (StorageError, RuleFileError, OSError) as exc:
        print(f"steward: {exc}", file=sys.stderr)
        return 1


def _start_console(
    config: LoadedConfig, *, script: str | None, as_json: bool, database: str | None, out: TextIO
) -> int:
    if script is not None:
        with Path(script).open(encoding="utf-8") as stream:
            return asyncio.run(
                run_console(
                    config,
                    script=stream,
                    as_json=as_json,
                    database=database,
                    out=out,
                    err=sys.stderr,
                )
            )
    source = None if sys.stdin.isatty() else sys.stdin
    return asyncio.run(
        run_console(
            config, script=source, as_json=as_json, database=database, out=out, err=sys.stderr
        )
    )


# -- explain ------------------------------------------------------------------------------


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    try:
        loaded = load_rules(args.rules)
    except RuleFileError as exc:
        for diagnostic in exc.errors:
            print(diagnostic.format(), file=out)
        return 1
    now = datetime.now(UTC).replace(microsecond=0)
    joined = None
    if args.joined:
        try:
            joined = now - parse_duration(args.joined)
        except DurationError as exc:
            print(f"steward explain: --joined: {exc}", file=sys.stderr)
            return 2
    ruleset = loaded.ruleset
    member = MemberFacts(
        level=args.level,
        joined_at=joined,
        message_count=args.messages,
        strikes=args.strikes,
        is_admin=args.admin,
    )
    event = Message(
        platform="console",
        chat=Chat("explain", "explain"),
        actor=User("member", "the member", "member"),
        at=now,
        id="explain-1",
        text=args.text,
    )
    verdict = ruleset.evaluate(event, member, now=now, explain=True)
    history = [StrikeEntry(now - timedelta(seconds=1), args.strikes)] if args.strikes else []
    decision = ruleset.ladder.decide(history, now, verdict.strike)
    actions = plan(verdict, decision, now)
    if args.json:
        payload = {
            "text": args.text,
            "matches": [_match_dict(m) for m in verdict.matches],
            "shadow": [_match_dict(m) for m in verdict.shadow],
            "skipped": [{"rule": s.rule.id, "reason": s.reason} for s in verdict.skipped],
            "ladder": {
                "strikes_before": decision.before,
                "strikes_after": decision.after,
                "step": decision.step.describe() if decision.step else None,
            },
            "actions": [action_to_dict(a) for a in actions],
        }
        json.dump(payload, out, ensure_ascii=False, indent=2, default=str)
        print(file=out)
        return 0
    print(f"Message: {args.text!r}", file=out)
    joined_text = f"joined {format_duration(now - joined)} ago" if joined else "join time unknown"
    print(
        f"Member: level {args.level}, {joined_text}, {args.messages} messages, "
        f"{args.strikes} strikes{', admin' if args.admin else ''}",
        file=out,
    )
    print(file=out)
    if not (verdict.matches or verdict.shadow or verdict.skipped):
        print("No rule matches.", file=out)
    for match in verdict.matches:
        _print_match("MATCH ", match, out)
    for match in verdict.shadow:
        _print_match("SHADOW", match, out)
    for skipped in verdict.skipped:
        print(f"SKIP   {skipped.rule.id} ({skipped.rule.where}): {skipped.reason}", file=out)
    if verdict.matches:
        print(file=out)
        step = decision.step.describe() if decision.step else "no ladder step reached"
        print(f"Ladder: {decision.before} → {decision.after} strikes: {step}", file=out)
        print("Actions:", file=out)
        for action in actions:
            fields = action_to_dict(action)
            kind = fields.pop("action")
            detail = ", ".join(f"{k}={v}" for k, v in fields.items() if v not in ("", None, [], ()))
            print(f"  {kind}: {detail}", file=out)
    if verdict.shadow and not verdict.matches:
        print("\nShadow rules only log; nothing would be done.", file=out)
    return 0


def _match_dict(match: RuleMatch) -> dict[str, object]:
    rule = match.rule
    return {
        "rule": rule.id,
        "file": rule.file,
        "line": rule.line,
        "mode": rule.mode.value,
        "strike": rule.strike,
        "delete": rule.delete,
        "evidence": [
            {"test": e.test, "detail": e.detail, "excerpt": e.excerpt} for e in match.evidence
        ],
    }


def _print_match(label: str, match: RuleMatch, out: TextIO) -> None:
    rule = match.rule
    effects = []
    if rule.strike:
        effects.append(f"strike {rule.strike}")
    if rule.delete:
        effects.append("delete")
    if rule.reply:
        effects.append("reply")
    if rule.punishment:
        effects.append(rule.punishment.action.value)
    if rule.notify_admins:
        effects.append("notify admins")
    print(f"{label} {rule.id} ({rule.where}) [{', '.join(effects) or 'no effect'}]", file=out)
    for evidence in match.evidence:
        print(f"         {evidence.format()}", file=out)


# -- test ---------------------------------------------------------------------------------


def _test(args: argparse.Namespace, out: TextIO) -> int:
    passed = failed = 0
    broken_files = 0
    for file in args.files:
        try:
            loaded = load_rules([file])
        except RuleFileError as exc:
            broken_files += 1
            for diagnostic in exc.errors:
                print(diagnostic.format(), file=out)
            continue
        outcomes = run_examples(loaded.ruleset)
        marks = "".join("." if o.passed else "F" for o in outcomes)
        print(f"{file} {marks}", file=out)
        for outcome in outcomes:
            if args.verbose:
                print(f"  {outcome.label} {'PASSED' if outcome.passed else 'FAILED'}", file=out)
            if outcome.passed:
                passed += 1
                continue
            failed += 1
            print(f"FAILED {outcome.rule.where} {outcome.label}", file=out)
            for line in outcome.explain_failure().splitlines():
                print(f"    {line}", file=out)
        without = [
            r.id for r in loaded.ruleset.rules if r.examples is None and r.mode is not Mode.OFF
        ]
        if without:
            print(f"  note: no examples for {', '.join(without)}", file=out)
    summary = f"examples: {passed} passed, {failed} failed"
    if broken_files:
        summary += f", {broken_files} file{'s' if broken_files > 1 else ''} with errors"
    print(summary, file=out)
    return 1 if failed or broken_files else 0


# -- schema -------------------------------------------------------------------------------


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    text = json.dumps(rule_file_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=out)
    else:
        out.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
