"""The `steward` command line: check, explain, test and schema.

Most tests call `bot.cli.main` in-process from the project root with relative paths, so that the
output is stable; one test runs the installed console script end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.schema import rule_file_json_schema
from tests.cli_helpers import PROJECT_ROOT, run_cli

RULES = "tests/data/cli/rules.yaml"
FAILING = "tests/data/cli/failing-example.yaml"
BROKEN = "tests/data/cli/broken.yaml"
CLAMPED = "tests/data/bad/duration-beyond-platform.yaml"
COMMITTED_SCHEMA = PROJECT_ROOT / "rules" / "steward-rules.schema.json"

BROKEN_DIAGNOSTIC = (
    "tests/data/cli/broken.yaml:7:5: error: unknown key 'strik' (rule 'no-spam', "
    "at rules[0].strik); did you mean 'strike'?\n"
    "        strik: 1\n"
    "        ^\n"
)


@pytest.fixture(autouse=True)
def _at_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)


def explain_json(*argv: str) -> dict[str, Any]:
    result = run_cli("explain", "--json", "--rules", RULES, *argv)
    assert result.code == 0
    payload: dict[str, Any] = json.loads(result.output)
    return payload


def action_kinds(text_after_actions: str) -> list[str]:
    return [line.strip().split(":", 1)[0] for line in text_after_actions.splitlines()]


# -- usage ----------------------------------------------------------------------------------


def test_no_command_prints_help_and_exits_2() -> None:
    result = run_cli()

    assert result.code == 2
    assert result.output.startswith("usage: steward")


# -- check ----------------------------------------------------------------------------------


def test_check_valid_file_prints_a_summary() -> None:
    result = run_cli("check", RULES)

    assert result.output == "tests/data/cli/rules.yaml: ok (3 rules: 2 enforce, 1 shadow)\n"
    assert result.code == 0


def test_check_reports_every_file_and_fails_if_any_is_invalid() -> None:
    result = run_cli("check", RULES, BROKEN)

    assert result.output == (
        "tests/data/cli/rules.yaml: ok (3 rules: 2 enforce, 1 shadow)\n" + BROKEN_DIAGNOSTIC
    )
    assert result.code == 1


def test_check_json_for_a_valid_file() -> None:
    result = run_cli("check", "--json", RULES)

    assert json.loads(result.output) == {"ok": True, "problems": []}
    assert result.code == 0


def test_check_json_lists_the_problems() -> None:
    result = run_cli("check", "--json", BROKEN)

    assert json.loads(result.output) == {
        "ok": False,
        "problems": [
            {
                "file": "tests/data/cli/broken.yaml",
                "line": 7,
                "col": 5,
                "severity": "error",
                "message": "unknown key 'strik'",
                "rule_id": "no-spam",
                "key_path": "rules[0].strik",
                "hint": "did you mean 'strike'?",
            }
        ],
    }
    assert result.code == 1


def test_check_json_keeps_warnings_of_a_valid_file() -> None:
    result = run_cli("check", "--json", CLAMPED)

    payload = json.loads(result.output)
    assert payload["ok"] is True
    assert [(p["severity"], p["rule_id"], p["line"], p["col"]) for p in payload["problems"]] == [
        ("warning", "no-spam", 6, 36),
        ("warning", "no-spam", 6, 36),
    ]
    assert result.code == 0


# -- explain --------------------------------------------------------------------------------


def test_explain_text_shows_match_evidence_ladder_and_actions() -> None:
    result = run_cli("explain", "--rules", RULES, "earn from home now")

    head, _, actions = result.output.partition("Actions:\n")
    lines = head.splitlines()
    # The effects in brackets are pinned by test_explain_lists_every_effect_of_a_matching_rule.
    assert lines[3].startswith("MATCH  scam-phrases (tests/data/cli/rules.yaml:12) [strike 2, ")
    assert lines[:3] + lines[4:] == [
        "Message: 'earn from home now'",
        "Member: level 0, join time unknown, 100 messages, 0 strikes",
        "",
        "         keywords: keyword 'earn from home' (list scam_phrases) («earn from home»)",
        "",
        "Ladder: 0 → 2 strikes: mute for 1h",
    ]
    assert action_kinds(actions) == ["delete", "send", "mute"]
    assert result.code == 0


def test_explain_lists_every_effect_of_a_matching_rule() -> None:
    enforced = run_cli("explain", "--rules", RULES, "earn from home now")
    shadowed = run_cli("explain", "--rules", RULES, "STOP SHOUTING AT ME")

    assert (
        "MATCH  scam-phrases (tests/data/cli/rules.yaml:12) [strike 2, delete, reply]"
        in enforced.output.splitlines()
    )
    # A rule with a reply has an effect; "[no effect]" would tell the admin it does nothing.
    assert "SHADOW shouting (tests/data/cli/rules.yaml:35) [reply]" in shadowed.output.splitlines()


def test_explain_text_when_nothing_matches() -> None:
    result = run_cli("explain", "--rules", RULES, "good morning")

    assert result.output == (
        "Message: 'good morning'\n"
        "Member: level 0, join time unknown, 100 messages, 0 strikes\n"
        "\n"
        "No rule matches.\n"
    )
    assert result.code == 0


def test_explain_text_shadow_rule_only_logs() -> None:
    result = run_cli("explain", "--rules", RULES, "STOP SHOUTING AT ME")

    lines = result.output.splitlines()
    assert lines[3].startswith("SHADOW shouting (tests/data/cli/rules.yaml:35) [")
    lines[3] = "SHADOW shouting (tests/data/cli/rules.yaml:35) […]"
    assert "\n".join(lines) + "\n" == (
        "Message: 'STOP SHOUTING AT ME'\n"
        "Member: level 0, join time unknown, 100 messages, 0 strikes\n"
        "\n"
        "SHADOW shouting (tests/data/cli/rules.yaml:35) […]\n"
        "         caps: 100% capitals in 16 letters, ≥ 0.8\n"
        "\n"
        "Shadow rules only log; nothing would be done.\n"
    )


def test_explain_json_has_matches_evidence_ladder_and_actions() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    payload = explain_json("--strikes", "1", "earn from home now")
    after = datetime.now(UTC)

    assert payload["text"] == "earn from home now"
    assert payload["matches"] == [
        {
            "rule": "scam-phrases",
            "file": "tests/data/cli/rules.yaml",
            "line": 12,
            "mode": "enforce",
            "strike": 2,
            "delete": True,
            "evidence": [
                {
                    "test": "keywords",
                    "detail": "keyword 'earn from home' (list scam_phrases)",
                    "excerpt": "earn from home",
                }
            ],
        }
    ]
    assert payload["shadow"] == []
    assert payload["skipped"] == []
    assert payload["ladder"] == {"strikes_before": 1, "strikes_after": 3, "step": "mute for 1h"}
    assert [a["action"] for a in payload["actions"]] == ["delete", "send", "mute"]
    send, mute = payload["actions"][1], payload["actions"][2]
    assert send["text"] == "the member, offers like this are not allowed here (3 strikes)."
    until = datetime.fromisoformat(mute["until"])
    assert before + timedelta(hours=1) <= until <= after + timedelta(hours=1)


def test_explain_ladder_reaches_a_higher_step_with_more_strikes() -> None:
    payload = explain_json("--strikes", "3", "earn from home now")

    assert payload["ladder"] == {"strikes_before": 3, "strikes_after": 5, "step": "ban for 7d"}
    assert [a["action"] for a in payload["actions"]] == ["delete", "send", "ban"]


def test_explain_admin_is_skipped_and_nothing_happens() -> None:
    result = run_cli("explain", "--admin", "--rules", RULES, "earn from home now")

    assert (
        "SKIP   scam-phrases (tests/data/cli/rules.yaml:12): "
        "matched, but admins are exempt from this rule"
    ) in result.output.splitlines()
    assert "MATCH" not in result.output
    assert "Actions:" not in result.output
    assert result.code == 0


def test_explain_admin_json() -> None:
    payload = explain_json("--admin", "earn from home now")

    assert payload["matches"] == []
    assert {
        "rule": "scam-phrases",
        "reason": "matched, but admins are exempt from this rule",
    } in payload["skipped"]
    assert payload["ladder"] == {"strikes_before": 0, "strikes_after": 0, "step": None}
    assert payload["actions"] == []


def test_explain_admin_lists_only_the_rules_the_text_would_break() -> None:
    # Listing every rule as "skipped" hides which rule the admin's text would have broken.
    payload = explain_json("--admin", "earn from home now")

    assert [s["rule"] for s in payload["skipped"]] == ["scam-phrases"]


def test_explain_newcomer_rule_needs_a_join_time() -> None:
    unknown = explain_json("look at example.com")
    newcomer = explain_json("--joined", "2h", "look at example.com")
    old_timer = explain_json("--joined", "3d", "look at example.com")

    assert unknown["matches"] == []
    assert [m["rule"] for m in newcomer["matches"]] == ["newcomer-links"]
    assert [e["test"] for e in newcomer["matches"][0]["evidence"]] == ["member", "links"]
    assert old_timer["matches"] == []


def test_explain_text_shows_the_join_time() -> None:
    result = run_cli("explain", "--joined", "2h", "--rules", RULES, "look at example.com")

    lines = result.output.splitlines()
    assert lines[1] == "Member: level 0, joined 2h ago, 100 messages, 0 strikes"
    assert "MATCH  newcomer-links (tests/data/cli/rules.yaml:22) [delete]" in lines


def test_explain_bad_joined_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli("explain", "--joined", "soon", "--rules", RULES, "hello")

    assert result.code == 2
    assert result.output == ""
    assert capsys.readouterr().err == (
        "steward explain: --joined: cannot read duration 'soon'; "
        "write it like 30s, 10m, 2h, 7d, 2w or 1h30m\n"
    )


def test_explain_with_an_invalid_rule_file_prints_its_errors() -> None:
    result = run_cli("explain", "--rules", BROKEN, "hello")

    assert result.output == BROKEN_DIAGNOSTIC
    assert result.code == 1


# -- test -----------------------------------------------------------------------------------


def test_test_passing_examples() -> None:
    result = run_cli("test", RULES)

    assert result.output == "tests/data/cli/rules.yaml ......\nexamples: 6 passed, 0 failed\n"
    assert result.code == 0


def test_test_verbose_lists_every_example() -> None:
    result = run_cli("test", "-v", RULES)

    assert result.output.splitlines()[1:4] == [
        "  scam-phrases::match[0] PASSED",
        "  scam-phrases::no_match[0] PASSED",
        "  newcomer-links::match[0] PASSED",
    ]


def test_test_failing_examples_name_rule_example_and_why() -> None:
    result = run_cli("test", FAILING)

    assert result.output == (
        "tests/data/cli/failing-example.yaml .F.F\n"
        "FAILED tests/data/cli/failing-example.yaml:4 no-spam::match[1]\n"
        "    expected rule 'no-spam' to match 'spammy offer', but it did not\n"
        "FAILED tests/data/cli/failing-example.yaml:4 no-spam::no_match[1]\n"
        "    expected rule 'no-spam' not to match 'spam is tasty', but it did:\n"
        "      words: whole word 'spam' («spam»)\n"
        "examples: 2 passed, 2 failed\n"
    )
    assert result.code == 1


def test_test_counts_files_with_errors() -> None:
    result = run_cli("test", BROKEN, RULES)

    assert result.output == (
        BROKEN_DIAGNOSTIC + "tests/data/cli/rules.yaml ......\n"
        "examples: 6 passed, 0 failed, 1 file with errors\n"
    )
    assert result.code == 1


# -- schema ---------------------------------------------------------------------------------


def test_schema_prints_json_schema() -> None:
    result = run_cli("schema")

    schema = json.loads(result.output)
    assert schema == rule_file_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"version", "extends", "lists", "ladder", "defaults", "rules"} <= set(
        schema["properties"]
    )
    assert result.code == 0


def test_schema_output_option_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "steward-rules.schema.json"

    result = run_cli("schema", "-o", str(target))

    assert result.output == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == run_cli("schema").output
    assert result.code == 0


def test_committed_schema_is_up_to_date() -> None:
    committed = COMMITTED_SCHEMA.read_text(encoding="utf-8")

    assert committed == run_cli("schema").output, (
        "rules/steward-rules.schema.json is out of date with the rule models; "
        "run `steward schema -o rules/steward-rules.schema.json` and commit the result"
    )


# -- end to end -----------------------------------------------------------------------------


def _steward_command() -> list[str]:
    """The installed console script, or the module when the venv has no script (e.g. no pip)."""
    script = Path(sys.executable).with_name("steward")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def test_console_script_end_to_end() -> None:
    good = subprocess.run(
        [*_steward_command(), "check", RULES],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    bad = subprocess.run(
        [*_steward_command(), "check", BROKEN],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (good.returncode, good.stdout, good.stderr) == (
        0,
        "tests/data/cli/rules.yaml: ok (3 rules: 2 enforce, 1 shadow)\n",
        "",
    )
    assert (bad.returncode, bad.stdout) == (1, BROKEN_DIAGNOSTIC)
