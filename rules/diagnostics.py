"""Problems found in rule and config files, shaped for people and for editors.

Every problem names file, line and column (1-based, as editors count), the rule and key path it
belongs to, and a hint when we can guess what was meant. Warnings do not stop a file from loading;
errors do, and an invalid file never replaces a running bot's last good rule set.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem at one place."""

    file: str
    line: int
    col: int
    message: str
    severity: Severity = Severity.ERROR
    rule_id: str = ""
    key_path: str = ""
    hint: str = ""
    source_line: str = ""

    def format(self) -> str:
        """`FILE:LINE:COL: error: MESSAGE`, context, then the source line with a caret."""
        text = f"{self.file}:{self.line}:{self.col}: {self.severity.value}: {self.message}"
        context = []
        if self.rule_id:
            context.append(f"rule '{self.rule_id}'")
        if self.key_path:
            context.append(f"at {self.key_path}")
        if context:
            text += f" ({', '.join(context)})"
        if self.hint:
            text += f"; {self.hint}"
        if self.source_line:
            shown = self.source_line.rstrip("\n").replace("\t", " ")
            text += f"\n    {shown}\n    {' ' * max(self.col - 1, 0)}^"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity.value,
            "message": self.message,
            "rule_id": self.rule_id,
            "key_path": self.key_path,
            "hint": self.hint,
        }


class RuleFileError(Exception):
    """Raised when a file cannot be used; carries every problem found, warnings included."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        first = errors[0].format().splitlines()[0] if errors else "invalid rule file"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A "did you mean …?" hint, or "" when nothing is close enough to be a plausible typo."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return ""


def format_key_path(path: Iterable[str | int]) -> str:
    """`rules[3].when.keywords` from ('rules', 3, 'when', 'keywords')."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
