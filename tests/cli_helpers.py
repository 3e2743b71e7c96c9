"""Helpers shared by the loader-diagnostics and CLI tests.

`run_cli` calls `bot.cli.main` in-process with a buffer for its output, the same entry point the
console script uses. Golden files pin what an admin reads; regenerate them with
`STEWARD_UPDATE_GOLDEN=1 python -m pytest tests/test_loader_errors.py` and read every changed
file before committing it: a golden is a promise about wording, not a snapshot of whatever the
code printed.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bot.cli import main

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TESTS = PROJECT_ROOT / "tests"
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
UPDATE_GOLDEN_ENV = "STEWARD_UPDATE_GOLDEN"

_HEADER = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?:error|warning): \S")


@dataclass(frozen=True)
class CliResult:
    code: int
    output: str


def run_cli(*argv: str) -> CliResult:
    """Run `steward ARGV…` in-process and return its exit code and what it printed."""
    buffer = io.StringIO()
    code = main(list(argv), out=buffer)
    return CliResult(code=code, output=buffer.getvalue())


def assert_matches_golden(name: str, actual: str) -> None:
    """Compare with tests/golden/NAME.txt, or rewrite it when STEWARD_UPDATE_GOLDEN=1."""
    path = GOLDEN / f"{name}.txt"
    if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), (
        f"no golden file {path.relative_to(PROJECT_ROOT)}; create it with "
        f"{UPDATE_GOLDEN_ENV}=1, then read it as an admin would"
    )
    expected = path.read_text(encoding="utf-8")
    assert actual == expected


def assert_diagnostics_well_formed(output: str) -> None:
    """Every problem starts `FILE:LINE:COL: error|warning: …`; a quoted line has a caret at COL.

    So a golden rewritten by STEWARD_UPDATE_GOLDEN=1 cannot silently pin a caret that points
    somewhere other than the column the message names.
    """
    lines = output.splitlines()
    assert lines, "no output"
    i = 0
    while i < len(lines):
        header = _HEADER.match(lines[i])
        if header is None:
            # The summary line "FILE: ok (N rules: …)" closes the report of a valid file.
            assert ": ok (" in lines[i], f"not a diagnostic or summary line: {lines[i]!r}"
            i += 1
            continue
        col = int(header["col"])
        if i + 1 < len(lines) and lines[i + 1].startswith("    "):
            assert i + 2 < len(lines), f"quoted source line without a caret after {lines[i]!r}"
            caret = lines[i + 2]
            assert caret == "    " + " " * (col - 1) + "^", (
                f"caret of {lines[i]!r} is not at column {col}: {caret!r}"
            )
            i += 3
        else:
            i += 1
