"""Golden tests: what `steward check` tells an admin about every kind of bad rule file.

Each bad input is a small file in tests/data/bad/NAME.yaml (the non-UTF-8 and the 20 MB files
are generated at test time) and the exact output of `steward check` is in tests/golden/NAME.txt.
Paths are printed as given on the command line, so the tests run from the project root (or the
temporary directory of a generated file) with relative paths.

Regenerate with `STEWARD_UPDATE_GOLDEN=1 python -m pytest tests/test_loader_errors.py`, then read
every changed golden as an admin would: file:line:col, rule id, key path, what was expected, a
hint, and the source line with the caret under the right column.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rules.diagnostics import RuleFileError, Severity
from rules.loader import load_rule_text, load_rules
from tests.cli_helpers import (
    DATA,
    GOLDEN,
    PROJECT_ROOT,
    assert_diagnostics_well_formed,
    assert_matches_golden,
    run_cli,
)

BAD = DATA / "bad"

# Every file in tests/data/bad/*.yaml and the exit code `steward check` must give for it.
EXPECTED_EXIT = {
    "action-kick-duration": 1,
    "duplicate-key": 1,
    "duplicate-rule-id": 1,
    "duration-beyond-platform": 0,  # a warning naming the clamp, not an error
    "duration-malformed": 1,
    "duration-negative": 1,
    "duration-no-unit": 1,
    "duration-zero": 1,
    "empty": 1,
    "extends-cycle": 1,
    "extends-missing": 1,
    "extends-self": 1,
    "keywords-not-a-list": 1,
    "merge-key": 1,
    "no-action": 1,
    "no-condition": 1,
    "not-a-mapping": 1,
    "only-comments": 1,
    "regex-backreference": 1,
    "regex-lookahead": 1,
    "regex-lookbehind": 1,
    "several-problems": 1,
    "tab-indent": 1,
    "unknown-condition-key": 1,
    "unknown-enum-value": 1,
    "unknown-key": 1,
    "unknown-list": 1,
    "unknown-placeholder": 1,
    "wrong-type-strike-string": 1,
    "wrong-type-yes": 1,
    "yaml-syntax": 1,
}
# Goldens whose input is not a committed file under tests/data/bad/.
GENERATED = ("missing", "not-utf8", "huge")

HUGE_BYTES = 20 * 1024 * 1024
# Generous: the point is that a huge file gets an answer, not that it gets one fast.
NO_HANG_SECONDS = 10.0


def test_every_bad_file_has_an_expected_exit_code() -> None:
    files = sorted(path.stem for path in BAD.glob("*.yaml"))

    assert files == sorted(EXPECTED_EXIT)


def test_every_golden_belongs_to_a_case() -> None:
    goldens = sorted(path.stem for path in GOLDEN.glob("*.txt"))

    assert goldens == sorted([*EXPECTED_EXIT, *GENERATED])


@pytest.mark.parametrize("name", sorted([*EXPECTED_EXIT, *GENERATED]))
def test_golden_is_well_formed(name: str) -> None:
    # Also guards goldens edited by hand: the caret must sit under the column the line names.
    assert_diagnostics_well_formed((GOLDEN / f"{name}.txt").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED_EXIT))
def test_check_bad_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)

    result = run_cli("check", f"tests/data/bad/{name}.yaml")

    assert_diagnostics_well_formed(result.output)
    assert_matches_golden(name, result.output)
    assert result.code == EXPECTED_EXIT[name]


def test_check_missing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    path = "tests/data/bad/does-not-exist.yaml"
    assert not Path(path).exists()

    result = run_cli("check", path)

    assert_diagnostics_well_formed(result.output)
    assert_matches_golden("missing", result.output)
    assert result.code == 1


def test_check_file_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saved as Latin-1 by an old editor: "à" is the single byte 0xe0.
    text = (
        "version: 1\n"
        "rules:\n"
        "  - id: greeting\n"
        "    when: {words: [bonjour]}\n"
        '    reply: "Bienvenue à tous"\n'
    )
    (tmp_path / "not-utf8.yaml").write_bytes(text.encode("latin-1"))
    monkeypatch.chdir(tmp_path)

    result = run_cli("check", "not-utf8.yaml")

    assert_diagnostics_well_formed(result.output)
    assert_matches_golden("not-utf8", result.output)
    assert result.code == 1


def _write_huge_rule_file(path: Path) -> None:
    """Exactly HUGE_BYTES of plausible rules: what pasting a log or a dump into a file gives."""
    rule = "  - id: rule-{n:07d}\n    when: {{keywords: [spam{n:07d}]}}\n    delete: true\n"
    with path.open("w", encoding="utf-8") as file:
        size = file.write("version: 1\nrules:\n")
        n = 0
        while size < HUGE_BYTES:
            chunk = rule.format(n=n)
            size += file.write(chunk[: HUGE_BYTES - size])
            n += 1
    assert path.stat().st_size == HUGE_BYTES


def test_check_huge_file_answers_without_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_huge_rule_file(tmp_path / "huge.yaml")
    monkeypatch.chdir(tmp_path)

    started = time.monotonic()
    result = run_cli("check", "huge.yaml")
    elapsed = time.monotonic() - started

    assert elapsed < NO_HANG_SECONDS
    assert_diagnostics_well_formed(result.output)
    assert_matches_golden("huge", result.output)
    assert result.code == 1


# -- the same problems through the library API ------------------------------------------------


def test_load_rules_collects_every_problem_with_rule_ids_and_key_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)

    with pytest.raises(RuleFileError) as caught:
        load_rules(["tests/data/bad/several-problems.yaml"])

    found = [(d.line, d.col, d.rule_id, d.key_path) for d in caught.value.errors]
    assert found == [
        (7, 21, "insults", "rules[0].when.words.list"),
        (11, 14, "doubled-word", "rules[1].when.regex"),
        (16, 12, "links", "rules[2].reply"),
    ]


def test_platform_clamp_is_a_warning_and_the_rules_still_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)

    loaded = load_rules(["tests/data/bad/duration-beyond-platform.yaml"])

    assert [rule.id for rule in loaded.ruleset.rules] == ["no-spam"]
    assert {w.severity for w in loaded.warnings} == {Severity.WARNING}
    assert [w.key_path for w in loaded.warnings] == ["rules[0].action.duration"] * 2


def test_first_error_is_the_exception_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)

    with pytest.raises(RuleFileError) as caught:
        load_rules(["tests/data/bad/several-problems.yaml"])

    assert str(caught.value) == (
        "tests/data/bad/several-problems.yaml:7:21: error: unknown list 'insult' "
        "(rule 'insults', at rules[0].when.words.list); did you mean 'insults'? (and 2 more)"
    )


def test_regexes_too_large_to_match_together_are_a_diagnostic_not_a_crash() -> None:
    rules = "\n".join(
        f"  - id: r{i}\n    when: {{regex: 'a{i}.{{0,80}}b.{{0,80}}c.{{0,80}}d'}}\n    delete: true"
        for i in range(80)
    )
    with pytest.raises(RuleFileError) as caught:
        load_rule_text(f"rules:\n{rules}\n", "big.yaml")

    (problem,) = caught.value.errors
    assert problem.message.startswith("the regexes of these rules are too large to match together")
    assert problem.file == "big.yaml"
