"""The rule set each group runs, and reloading it safely.

Rule files are re-read when they change on disk (polled; no extra dependency) or on `/reload`.
A reload that fails keeps the last good rule set running and returns the diagnostics, which the
runtime reports to the admins; a group whose files are broken at start-up refuses to start
instead, because there is no good set to fall back on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from rules.diagnostics import Diagnostic, RuleFileError
from rules.loader import load_rules
from rules.ruleset import RuleSet

log = logging.getLogger("steward.rules")


@dataclass
class GroupRules:
    name: str
    files: list[Path]
    ruleset: RuleSet
    # Every file the rules came from, extended and list files included: a change to any of
    # them reloads the group.
    watched: list[Path] = field(default_factory=list)
    stamps: dict[Path, tuple[float, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReloadResult:
    group: str
    changed: bool
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class RuleBook:
    """All groups' rule sets. Loading is synchronous and pure; it runs between events."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupRules] = {}

    def load(self, name: str, files: list[Path]) -> list[Diagnostic]:
        """Load a group at start-up; raises `RuleFileError` when its files are invalid."""
        loaded = load_rules(files)
        watched = loaded.sources or list(files)
        self.groups[name] = GroupRules(name, list(files), loaded.ruleset, watched, _stamps(watched))
        return loaded.warnings

    def ruleset(self, name: str) -> RuleSet:
        return self.groups[name].ruleset

    def reload(self, name: str, *, force: bool = False) -> ReloadResult:
        group = self.groups[name]
        stamps = _stamps(group.watched)
        if not force and stamps == group.stamps:
            return ReloadResult(name, changed=False)
        group.stamps = stamps
        try:
            loaded = load_rules(group.files)
        except RuleFileError as exc:
            log.warning("rules of group %s not reloaded: %s", name, exc)
            return ReloadResult(name, changed=False, errors=tuple(exc.errors), warnings=())
        group.ruleset = loaded.ruleset
        group.watched = loaded.sources or group.watched
        group.stamps = _stamps(group.watched)
        log.info("rules of group %s reloaded (%d rules)", name, len(loaded.ruleset.rules))
        return ReloadResult(name, changed=True, warnings=tuple(loaded.warnings))

    def reload_changed(self) -> list[ReloadResult]:
        """Reload every group whose files changed on disk."""
        return [r for r in (self.reload(n) for n in list(self.groups)) if r.changed or r.errors]


def _stamps(files: list[Path]) -> dict[Path, tuple[float, int]]:
    stamps: dict[Path, tuple[float, int]] = {}
    for path in files:
        try:
            info = path.stat()
        except OSError:
            stamps[path] = (0.0, -1)
            continue
        stamps[path] = (info.st_mtime, info.st_size)
    return stamps
