"""The console chat (adapters/console): the script format, `--json`, and `steward console` itself.

Most tests run `bot.cli.main([...])` in-process on the stock rules (the console a newcomer sees);
one runs the installed `steward` script as a real subprocess. Times in the output come from the
console's virtual clock, which starts at the real time, so tests compare times with each other.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.conftest import lines

STEWARD = Path(sys.executable).parent / "steward"


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # a default database would land here, never in the project


def console(tmp_path: Path, script: str, *options: str, db: str = ":memory:") -> tuple[int, str]:
    """Run `steward console --script FILE OPTIONS --db DB`; returns (exit code, stdout)."""
    path = tmp_path / "story.txt"
    path.write_text(script, encoding="utf-8")
    out = io.StringIO()
    code = main(["console", "--script", str(path), *options, "--db", db], out=out)
    return code, out.getvalue()


def records(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def member_actions(output: str) -> list[dict[str, Any]]:
    """The JSON records of actions against members (warn, mute, ban …)."""
    return [r for r in records(output) if "user" in r]


# -- the script format --------------------------------------------------------------------------


def test_every_directive_of_a_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = console(
        tmp_path,
        lines(
            "# a comment, ignored",
            "",
            "@join alice",
            "@admin ada",
            "alice: hello everyone",
            "mallory: you idiot",
            "@wait 2h",
            "ada: /warn @mallory stop it",
            "@leave alice",
            "   # an indented comment",
        ),
    )

    assert code == 0
    assert capsys.readouterr().err == ""
    shown = out.splitlines()
    assert "a comment" not in out
    assert shown[:3] == ["→ alice joined", "ada is now an admin", "alice: hello everyone"]
    assert shown[3:5] == ["→ mallory joined", "mallory: you idiot"]
    assert "  ✂ message deleted (rule insult-en, 1 strikes)" in shown
    assert any(line.startswith("… 2h later (") for line in shown)
    assert "ada: /warn @mallory stop it" in shown
    assert "  steward: mallory warned: stop it. Strikes 1 → 2 (mute for 30m)." in shown
    assert any(line.startswith("  🔇 mallory muted until ") for line in shown)


def test_bad_lines_are_reported_with_their_number_and_the_run_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = console(
        tmp_path,
        lines(
            "@join alice",
            "this line has no colon",
            "@frobnicate alice",
            "@wait soon",
            "@join",
            "@admin two names",
            "alice: still here",
        ),
    )

    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "line 2: expected `NAME: TEXT` or a directive such as `@wait 1h`",
        "line 3: unknown directive @frobnicate; use @join, @leave, @admin or @wait",
        "line 4: @wait: cannot read duration 'soon'; write it like 30s, 10m, 2h, 7d, 2w or 1h30m",
        "line 5: @join needs one name, e.g. @join alice",
        "line 6: @admin needs one name, e.g. @admin alice",
    ]
    assert out.splitlines()[-1] == "alice: still here"


def test_a_script_without_problems_exits_0(tmp_path: Path) -> None:
    code, out = console(tmp_path, lines("alice: hi"))

    assert (code, out) == (0, "→ alice joined\nalice: hi\n")


def test_members_who_are_not_admins_are_refused_admin_commands(tmp_path: Path) -> None:
    code, out = console(tmp_path, lines("bob: /ban @alice"))

    assert code == 0
    assert "  steward: Sorry bob, /ban is for admins." in out.splitlines()


# -- --json -------------------------------------------------------------------------------------


def test_json_prints_one_object_per_action_and_nothing_else(tmp_path: Path) -> None:
    code, out = console(
        tmp_path,
        lines("@admin ada", "alice: hello", "mallory: you idiot", "mallory: you idiot"),
        "--json",
    )

    assert code == 0
    found = records(out)  # every line is one JSON object
    assert [r["action"] for r in found] == [
        "delete",
        "send",
        "warn",
        "delete",
        "send",
        "mute",
    ]
    mute = found[-1]
    assert {"action", "ok", "at", "user", "until", "rule", "strikes", "case", "reason"} <= set(mute)
    assert (mute["user"], mute["rule"], mute["strikes"], mute["ok"]) == (
        "mallory",
        "insult-en",
        2,
        True,
    )
    at = datetime.fromisoformat(mute["at"])
    assert datetime.fromisoformat(mute["until"]) - at == timedelta(minutes=30)
    warn = found[2]
    assert (warn["user"], warn["rule"], warn["strikes"]) == ("mallory", "insult-en", 1)
    assert "until" not in warn
    assert found[0]["message"] != ""
    assert [r["case"] for r in found] == [1, 1, 1, 2, 2, 2]


def test_json_reports_an_admins_ladder_step_with_its_strikes(tmp_path: Path) -> None:
    code, out = console(
        tmp_path, lines("@admin ada", "mallory: you idiot", "ada: /warn @mallory"), "--json"
    )

    assert code == 0
    [warn, mute] = member_actions(out)
    assert (warn["action"], warn["strikes"]) == ("warn", 1)
    assert (mute["action"], mute["user"], mute["strikes"]) == ("mute", "mallory", 2)


def test_json_shows_decay_after_waiting_8_days(tmp_path: Path) -> None:
    offences = ["mallory: you idiot", "mallory: you idiot", "@wait 1h"]

    _, without_wait = console(tmp_path, lines(*offences, "mallory: you idiot"), "--json")
    _, with_wait = console(tmp_path, lines(*offences, "@wait 8d", "mallory: you idiot"), "--json")

    assert [(r["action"], r["strikes"]) for r in member_actions(without_wait)] == [
        ("warn", 1),
        ("mute", 2),
        ("mute", 3),
    ]
    assert [(r["action"], r["strikes"]) for r in member_actions(with_wait)] == [
        ("warn", 1),
        ("mute", 2),
        ("mute", 2),
    ]
    last = member_actions(with_wait)[-1]
    first_mute = member_actions(with_wait)[1]
    gap = datetime.fromisoformat(last["at"]) - datetime.fromisoformat(first_mute["at"])
    assert gap >= timedelta(days=8, hours=1)


def test_a_muted_member_is_not_heard_until_the_mute_ends(tmp_path: Path) -> None:
    code, out = console(
        tmp_path,
        lines("mallory: you idiot", "mallory: you idiot", "mallory: you idiot"),
    )

    assert code == 0
    assert len([line for line in out.splitlines() if "the message is not delivered" in line]) == 1


# -- state between runs -------------------------------------------------------------------------


def test_the_database_keeps_strikes_between_runs(tmp_path: Path) -> None:
    db = str(tmp_path / "console.sqlite3")
    console(tmp_path, lines("mallory: you idiot"), "--json", db=db)

    _, out = console(tmp_path, lines("@wait 1h", "mallory: you idiot"), "--json", db=db)

    assert [(r["action"], r["strikes"]) for r in member_actions(out)] == [("mute", 2)]


def test_two_runs_started_in_the_same_second_do_not_share_event_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second script on the same database must not look like a redelivery of the first."""
    import bot.app

    frozen = datetime(2026, 5, 4, 12, 0, 0, 250_000, tzinfo=UTC)

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> FrozenDatetime:
            return cls.fromisoformat(frozen.isoformat())

    monkeypatch.setattr(bot.app, "datetime", FrozenDatetime)
    db = str(tmp_path / "console.sqlite3")
    console(tmp_path, lines("mallory: you idiot"), "--json", db=db)

    _, out = console(tmp_path, lines("mallory: you idiot"), "--json", db=db)

    assert [(r["action"], r["strikes"]) for r in member_actions(out)] == [("mute", 2)]


def test_an_unusable_database_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database" * 100)

    code, _ = console(tmp_path, lines("alice: hi"), db=str(garbage))

    assert code == 1
    assert capsys.readouterr().err.startswith(f"steward: database {garbage} is damaged")


# -- the real command ---------------------------------------------------------------------------


def test_steward_console_as_a_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "story.txt"
    script.write_text(
        lines("# a story", "mallory: you idiot", "nonsense line", "mallory: you idiot"),
        encoding="utf-8",
    )

    done = subprocess.run(
        [str(STEWARD), "console", "--script", str(script), "--json", "--db", ":memory:"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr == "line 3: expected `NAME: TEXT` or a directive such as `@wait 1h`\n"
    actions = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(a["action"], a.get("user"), a.get("strikes")) for a in actions] == [
        ("delete", None, 1),
        ("send", None, 1),
        ("warn", "mallory", 1),
        ("delete", None, 2),
        ("send", None, 2),
        ("mute", "mallory", 2),
    ]
    assert all(a["rule"] == "insult-en" for a in actions)
    assert list(tmp_path.iterdir()) == [script]  # --db :memory: leaves no file behind
