"""Load rule files: YAML → validated models → semantic checks → a compiled `RuleSet`.

Every problem in every file is collected before giving up, so `steward check` shows them all at
once. Errors stop the load (a running bot keeps its last good rule set); warnings, such as a
duration a platform will clamp, are returned beside the rule set.

Combining files: `extends:` pulls shared files in first, and a rule in the extending file replaces
a rule with the same id from the extended one (that is what extending is for). Files named side by
side (a group's `rules:` list, or several files on the command line) must not repeat an id. Lists
merge by name, later files winning; the last file that defines a `ladder` provides it, and with
none at all the built-in default ladder applies.
"""

from __future__ import annotations

import difflib
import os
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from bot.actions import ActionKind
from bot.capabilities import KNOWN_PLATFORMS
from bot.events import EventKind
from rules.compiler import ConditionCompiler, Guard
from rules.context import RegexSets
from rules.diagnostics import Diagnostic, RuleFileError, Severity
from rules.ladder import DEFAULT_LADDER, Decay, Ladder, LadderStep
from rules.ruleset import CompiledRule, Punishment, RuleSet
from rules.schema import PLACEHOLDERS, ActionSpec, DirectKind, ListFile, Mode, Rule, RuleFile
from rules.terms import TermIndex
from rules.validation import translate
from rules.yamlsource import Document, KeyPath, SourceText, decode_utf8, parse_yaml, read_source

MAX_LIST_FILE_BYTES = 16 * 1024 * 1024
# Platforms whose limits `steward check` warns about (the console has none).
DEFAULT_PLATFORMS = ("telegram", "discord")


@dataclass
class LoadedRules:
    ruleset: RuleSet
    warnings: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # Every file read (rule files, extended files, list files), for reloading when one changes.
    sources: list[Path] = field(default_factory=list)


@dataclass
class _Layer:
    """One parsed and validated file."""

    doc: Document
    model: RuleFile
    directory: Path
    depth: int  # 0 for files named directly, >0 for files pulled in by `extends`


@dataclass
class _Placed:
    rule: Rule
    index: int
    layer: _Layer


def load_rules(
    paths: Sequence[str | os.PathLike[str]], *, platforms: Iterable[str] = DEFAULT_PLATFORMS
) -> LoadedRules:
    """Load and compile files that together form one group's rules."""
    loader = _Loader(tuple(platforms))
    for path in paths:
        loader.read_file(Path(path), display=str(path), depth=0, chain=())
    return loader.finish()


def load_rule_text(
    text: str,
    name: str = "<rules>",
    *,
    base: str | os.PathLike[str] = ".",
    platforms: Iterable[str] = DEFAULT_PLATFORMS,
) -> LoadedRules:
    """Load rules from a string (tests, `steward explain` with inline rules)."""
    loader = _Loader(tuple(platforms))
    loader.read_text(SourceText(name, text), Path(base), depth=0, chain=())
    return loader.finish()


class _Loader:
    def __init__(self, platforms: tuple[str, ...]) -> None:
        self.platforms = platforms
        self.problems: list[Diagnostic] = []
        self.layers: list[_Layer] = []
        self.files: list[str] = []
        self.seen: set[Path] = set()
        self.sources: list[Path] = []

    # -- reading ---------------------------------------------------------------------

    def read_file(self, path: Path, *, display: str, depth: int, chain: tuple[Path, ...]) -> None:
        resolved = path.resolve()
        if resolved in self.seen:
            return  # a shared file extended twice is read once
        self.seen.add(resolved)
        self.sources.append(resolved)
        try:
            source = read_source(path, display=display)
        except RuleFileError as exc:
            self.problems.extend(exc.diagnostics)
            return
        self.read_text(source, path.parent, depth=depth, chain=(*chain, resolved))

    def read_text(
        self, source: SourceText, directory: Path, *, depth: int, chain: tuple[Path, ...]
    ) -> None:
        self.files.append(source.path)
        try:
            doc = parse_yaml(source)
        except RuleFileError as exc:
            self.problems.extend(exc.diagnostics)
            return
        if not isinstance(doc.data, dict):
            got = "a list" if isinstance(doc.data, list) else "a single value"
            hint = "put the rules under `rules:`" if isinstance(doc.data, list) else ""
            message = (
                f"a rule file is a mapping with keys such as `rules:` and `ladder:`, got {got}"
            )
            self.problems.append(doc.diagnostic((), message, hint=hint))
            return
        try:
            model = RuleFile.model_validate(doc.data)
        except ValidationError as exc:
            self.problems.extend(translate(exc, doc, RuleFile))
            return
        for i, extended in enumerate(model.extends):
            target = (directory / extended).resolve()
            if target in chain:
                cycle = [_display(p) for p in chain[chain.index(target) :]] + [_display(target)]
                if len(cycle) == 2:
                    message = f"'{extended}' extends itself"
                else:
                    message = f"extending '{extended}' makes a cycle: {' → '.join(cycle)}"
                hint = "remove one of these `extends:` entries"
                self.problems.append(doc.diagnostic(("extends", i), message, hint=hint))
                continue
            if not target.exists():
                message = f"extended file '{extended}' not found (looked for {_display(target)})"
                hint = "`extends:` paths are relative to the file that names them"
                self.problems.append(doc.diagnostic(("extends", i), message, hint=hint))
                continue
            self.read_file(
                target, display=_display(directory / extended), depth=depth + 1, chain=chain
            )
        self.layers.append(_Layer(doc, model, directory, depth))

    # -- combining and compiling ----------------------------------------------------------

    def finish(self) -> LoadedRules:
        if not self.layers and not self.problems:
            self.problems.append(Diagnostic("<none>", 1, 1, "no rule files given"))
        lists = self._lists()
        ladder = self._ladder()
        placed = self._rules()
        index = TermIndex()
        regexes = RegexSets()
        compiler = ConditionCompiler(lists, index, regexes)
        compiled = [self._compile(p, compiler) for p in placed]
        index.build()
        try:
            regexes.build(index)
        except Exception as exc:  # re2.error: RE2 could not build the combined set
            self.problems.append(
                Diagnostic(
                    self.files[0] if self.files else "<rules>",
                    1,
                    1,
                    f"the regexes of these rules are too large to match together ({exc})",
                    hint="simplify the largest patterns (long {m,n} repeats are costly) or use "
                    "`keywords:` lists instead",
                )
            )
        errors = [d for d in self.problems if d.severity is Severity.ERROR]
        if errors:
            raise RuleFileError(self.problems)
        ruleset = RuleSet(
            rules=tuple(r for r in compiled if r is not None),
            ladder=ladder,
            index=index,
            regexes=regexes,
            history_window=compiler.history_window,
            join_window=compiler.join_window,
            files=tuple(self.files),
        )
        return LoadedRules(ruleset, self.problems, self.files, self.sources)

    def _lists(self) -> dict[str, list[str]]:
        lists: dict[str, list[str]] = {}
        for layer in self.layers:
            for name, value in layer.model.lists.items():
                if isinstance(value, ListFile):
                    entries = self._read_list_file(layer, name, value.file)
                    if entries is None:
                        continue
                    lists[name] = entries
                else:
                    lists[name] = list(value)
        return lists

    def _read_list_file(self, layer: _Layer, name: str, relative: str) -> list[str] | None:
        path = layer.directory / relative
        self.sources.append(path.resolve())
        where: KeyPath = ("lists", name, "file")
        try:
            size = path.stat().st_size
        except OSError:
            self.problems.append(layer.doc.diagnostic(where, f"list file '{relative}' not found"))
            return None
        if size > MAX_LIST_FILE_BYTES:
            self.problems.append(
                layer.doc.diagnostic(
                    where,
                    f"list file '{relative}' is {size / 1_048_576:.1f} MB; the limit is 16 MB",
                )
            )
            return None
        try:
            text = decode_utf8(path.read_bytes(), str(path))
        except RuleFileError as exc:
            self.problems.extend(exc.diagnostics)
            return None
        entries = []
        for line in text.splitlines():
            entry = line.strip()
            if entry and not entry.startswith("#"):
                entries.append(entry)
        return entries

    def _ladder(self) -> Ladder:
        chosen: _Layer | None = None
        for layer in self.layers:
            if layer.model.ladder is None:
                continue
            if chosen is not None and layer.depth == 0 and chosen.depth == 0:
                line, col = layer.doc.position(("ladder",), key=True)
                self.problems.append(
                    layer.doc.source.diagnostic(
                        line,
                        col,
                        f"this ladder replaces the one in {chosen.doc.source.path}",
                        severity=Severity.WARNING,
                        key_path="ladder",
                    )
                )
            chosen = layer
        if chosen is None or chosen.model.ladder is None:
            return DEFAULT_LADDER
        spec = chosen.model.ladder
        doc = chosen.doc
        seen: dict[int, int] = {}
        previous = 0
        for i, step in enumerate(spec.steps):
            path: KeyPath = ("ladder", "steps", i, "at")
            if step.at in seen:
                self.problems.append(
                    doc.diagnostic(
                        path,
                        f"two steps at {step.at} strikes (step {seen[step.at] + 1} and {i + 1})",
                    )
                )
            elif step.at < previous:
                self.problems.append(
                    doc.diagnostic(path, f"steps must go up: {step.at} comes after {previous}")
                )
            seen.setdefault(step.at, i)
            previous = max(previous, step.at)
            self._check_template(doc, ("ladder", "steps", i, "message"), step.message, "")
            if step.duration is not None:
                self._check_duration(
                    doc,
                    ("ladder", "steps", i, "duration"),
                    ActionKind(step.action.value),
                    step.duration,
                    "",
                )
        steps = tuple(
            sorted(
                {
                    s.at: LadderStep(
                        s.at,
                        ActionKind(s.action.value),
                        s.duration,
                        frozenset(s.permissions),
                        s.message or "",
                    )
                    for s in spec.steps
                }.values(),
                key=lambda s: s.at,
            )
        )
        decay = Decay(spec.decay.points, spec.decay.every) if spec.decay else None
        return Ladder(steps, decay, source=doc.source.path)

    def _rules(self) -> list[_Placed]:
        placed: dict[str, _Placed] = {}
        for layer in self.layers:
            for i, rule in enumerate(layer.model.rules):
                earlier = placed.get(rule.id)
                if earlier is not None:
                    same_file = earlier.layer is layer
                    overriding = layer.depth < earlier.layer.depth
                    if same_file or not overriding:
                        first = earlier.layer.doc.position(("rules", earlier.index, "id"))
                        where = "" if same_file else f"{earlier.layer.doc.source.path}:"
                        self.problems.append(
                            layer.doc.diagnostic(
                                ("rules", i, "id"),
                                f"duplicate rule id '{rule.id}' "
                                f"(first defined at {where}line {first[0]})",
                                rule_id=rule.id,
                                hint="rule ids must be unique; rename one of them",
                            )
                        )
                        continue
                    del placed[rule.id]
                placed[rule.id] = _Placed(rule, i, layer)
        return list(placed.values())

    def _compile(self, placed: _Placed, compiler: ConditionCompiler) -> CompiledRule | None:
        rule, i, layer = placed.rule, placed.index, placed.layer
        doc = layer.doc
        base: KeyPath = ("rules", i)
        before = len(self.problems)
        if rule.when is None:
            self.problems.append(
                doc.diagnostic(
                    (*base, "id"),
                    "rule has no condition",
                    rule_id=rule.id,
                    hint="add `when:` with at least one test",
                )
            )
        has_action = rule.strike or rule.delete or rule.reply or rule.action or rule.notify_admins
        if not has_action:
            self.problems.append(
                doc.diagnostic(
                    (*base, "id"),
                    "rule has no action",
                    rule_id=rule.id,
                    hint="add `strike: N`, `delete: true`, `reply: …`, `action: …` "
                    "or `notify_admins: true`",
                )
            )
        self._check_template(doc, (*base, "reply"), rule.reply, rule.id)
        punishment = self._punishment(rule, doc, base)
        seen_problems = len(compiler.problems)
        when = compiler.compile(rule.when, (*base, "when")) if rule.when is not None else None
        unless = (
            compiler.compile(rule.unless, (*base, "unless")) if rule.unless is not None else None
        )
        for path, message, hint in compiler.problems[seen_problems:]:
            self.problems.append(doc.diagnostic(path, message, rule_id=rule.id, hint=hint))
        if len(self.problems) > before and any(
            d.severity is Severity.ERROR for d in self.problems[before:]
        ):
            return None
        assert when is not None
        kinds = frozenset(rule.on if isinstance(rule.on, list) else [rule.on])
        defaults = layer.model.defaults
        guard: Guard = when.guard
        line = doc.position((*base, "id"))[0]
        return CompiledRule(
            id=rule.id,
            kinds=kinds,
            when=when.check,
            unless=unless.check if unless else None,
            guard=guard,
            mode=rule.mode or defaults.mode,
            strike=rule.strike or 0,
            delete=rule.delete,
            reply=rule.reply or "",
            punishment=punishment,
            notify_admins=rule.notify_admins,
            exempt_admins=defaults.exempt_admins
            if rule.exempt_admins is None
            else rule.exempt_admins,
            reason=rule.reason,
            description=rule.description,
            file=doc.source.path,
            line=line,
            examples=rule.examples,
        )

    def _punishment(self, rule: Rule, doc: Document, base: KeyPath) -> Punishment | None:
        spec = rule.action
        if spec is None:
            return None
        if isinstance(spec, DirectKind):
            spec = ActionSpec(type=spec)
        kind = ActionKind(spec.type.value)
        self._check_template(doc, (*base, "action", "message"), spec.message, rule.id)
        if spec.duration is not None:
            self._check_duration(doc, (*base, "action", "duration"), kind, spec.duration, rule.id)
        if (
            EventKind.JOIN_REQUEST in (rule.on if isinstance(rule.on, list) else [rule.on])
            and kind is ActionKind.MUTE
        ):
            self.problems.append(
                doc.diagnostic(
                    (*base, "action"),
                    "a member asking to join cannot be muted",
                    rule_id=rule.id,
                    hint="use `ban` or leave the request to admins",
                )
            )
        return Punishment(kind, spec.duration, frozenset(spec.permissions), spec.message or "")

    def _check_template(
        self, doc: Document, path: KeyPath, template: str | None, rule_id: str
    ) -> None:
        if not template:
            return
        try:
            fields = [
                name for _, name, _, _ in string.Formatter().parse(template) if name is not None
            ]
        except ValueError as exc:
            self.problems.append(
                doc.diagnostic(
                    path,
                    f"cannot read placeholders: {exc}",
                    rule_id=rule_id,
                    hint="write {{ and }} for literal braces",
                )
            )
            return
        for name in fields:
            if name not in PLACEHOLDERS:
                close = difflib.get_close_matches(name, sorted(PLACEHOLDERS), n=1, cutoff=0.6)
                listed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
                hint = f"did you mean '{{{close[0]}}}'?" if close else f"placeholders: {listed}"
                self.problems.append(
                    doc.diagnostic(
                        path, f"unknown placeholder '{{{name}}}'", rule_id=rule_id, hint=hint
                    )
                )

    def _check_duration(
        self, doc: Document, path: KeyPath, kind: ActionKind, duration: timedelta, rule_id: str
    ) -> None:
        for platform in self.platforms:
            capabilities = KNOWN_PLATFORMS.get(platform)
            if capabilities is None:
                continue
            _, note = capabilities.clamp(kind, duration)
            if note:
                self.problems.append(
                    doc.diagnostic(path, note, severity=Severity.WARNING, rule_id=rule_id)
                )


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def rules_mode_counts(ruleset: RuleSet) -> dict[Mode, int]:
    counts = dict.fromkeys(Mode, 0)
    for rule in ruleset.rules:
        counts[rule.mode] += 1
    return counts
