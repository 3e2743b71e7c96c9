"""The rule language: YAML loader, schema, diagnostics, conditions, compiled rule sets, ladder.

Pure: given an event, member facts and the time, a `RuleSet` returns a `Verdict`. No I/O beyond
reading rule files at load time, no asyncio, no globals.
"""

from pathlib import Path

# First, before any compiled module is imported (see rules/build.py).
from rules.build import ENGINE_BUILD
from rules.context import Evidence
from rules.diagnostics import Diagnostic, RuleFileError, Severity
from rules.ladder import DEFAULT_LADDER, Ladder, LadderDecision, LadderStep, StrikeEntry
from rules.loader import LoadedRules, load_rule_text, load_rules
from rules.ruleset import RuleMatch, RuleSet, Verdict, plan

LIBRARY = Path(__file__).parent / "library"

__all__ = [
    "DEFAULT_LADDER",
    "ENGINE_BUILD",
    "LIBRARY",
    "Diagnostic",
    "Evidence",
    "Ladder",
    "LadderDecision",
    "LadderStep",
    "LoadedRules",
    "RuleFileError",
    "RuleMatch",
    "RuleSet",
    "Severity",
    "StrikeEntry",
    "Verdict",
    "load_rule_text",
    "load_rules",
    "plan",
]
