"""Read YAML the way admins expect, keeping where every value came from.

PyYAML's own constructors follow YAML 1.1, where `yes`, `no`, `on` and `off` are booleans and a
repeated key silently overwrites the first one. Rule files are edited by hand, so we compose the
node tree ourselves: only `true`/`false` are booleans, duplicate keys are errors, and every value
keeps its line and column for diagnostics.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from rules.diagnostics import Diagnostic, RuleFileError, format_key_path

# Rule files are short; a bigger file is almost surely a mistake (a log, a dump), and parsing it
# would keep `steward check` busy for minutes. Long lists belong in `lists: {name: {file: …}}`.
MAX_FILE_BYTES = 1024 * 1024
# Aliases can make a small file expand enormously ("billion laughs"); this bounds the work.
MAX_NODES = 500_000
# Rule files nest a few levels; a very deep one is a mistake and would exhaust the stack.
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """Composes nodes without PyYAML's YAML 1.1 type guessing; `_scalar` types plain values.

    Besides the `yes`/`no` trap, PyYAML's resolver is written in Python and dominates the time
    spent on large files, so skipping it makes `steward check` several times faster.
    """

    yaml_implicit_resolvers: dict[str, Any] = {}  # noqa: RUF012


_INT = re.compile(r"[-+]?[0-9][0-9_]*")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCT = re.compile(r"0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*\.[0-9]*|[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


@dataclass
class SourceText:
    """A file's text, split into lines for quoting in diagnostics."""

    path: str
    text: str
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def diagnostic(self, line: int, col: int, message: str, **extra: Any) -> Diagnostic:
        return Diagnostic(
            file=self.path,
            line=line,
            col=col,
            message=message,
            source_line=self.line(line),
            **extra,
        )


@dataclass
class Document:
    """Plain Python data from a YAML file plus the position of every value and key in it."""

    source: SourceText
    data: Any
    value_marks: dict[KeyPath, tuple[int, int]]
    key_marks: dict[KeyPath, tuple[int, int]]

    def position(self, path: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """Best position for a path: the key or value itself, or its nearest known parent."""
        marks = self.key_marks if key else self.value_marks
        probe = path
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), (1, 1))

    def diagnostic(
        self, path: KeyPath, message: str, *, key: bool = False, **extra: Any
    ) -> Diagnostic:
        line, col = self.position(path, key=key)
        extra.setdefault("key_path", format_key_path(path))
        return self.source.diagnostic(line, col, message, **extra)


_EMPTY_HINT = "a rule file starts with `version: 1` and lists its rules under `rules:`"


def read_source(path: str | os.PathLike[str], *, display: str | None = None) -> SourceText:
    """Read a file as UTF-8 text, turning every way it can fail into a diagnostic."""
    shown = display or str(path)
    file = Path(path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise RuleFileError([Diagnostic(shown, 1, 1, "file not found")]) from None
    except OSError as exc:
        raise RuleFileError(
            [Diagnostic(shown, 1, 1, f"cannot read file: {exc.strerror}")]
        ) from None
    if file.is_dir():
        raise RuleFileError([Diagnostic(shown, 1, 1, "is a directory, not a rule file")])
    if size > MAX_FILE_BYTES:
        raise RuleFileError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    f"file is {size / 1_048_576:.1f} MB; rule files may be at most "
                    f"{MAX_FILE_BYTES // 1_048_576} MB",
                    hint="put long word or domain lists in a text file and name it under "
                    "`lists: {NAME: {file: PATH}}`",
                )
            ]
        )
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise RuleFileError(
            [Diagnostic(shown, 1, 1, f"cannot read file: {exc.strerror}")]
        ) from None
    return SourceText(shown, decode_utf8(raw, shown))


def decode_utf8(raw: bytes, shown: str) -> str:
    """Decode strictly, naming the line and column of the first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        line_end = raw.find(b"\n", exc.start)
        shown_line = raw[line_start : line_end if line_end >= 0 else len(raw)].decode(
            "utf-8", "replace"
        )
        raise RuleFileError(
            [
                Diagnostic(
                    shown,
                    line,
                    col,
                    f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    hint="save the file as UTF-8",
                    source_line=shown_line,
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def parse_yaml(source: SourceText) -> Document:
    """Compose and convert one YAML document, collecting every structural problem at once."""
    if not source.text.strip():
        raise RuleFileError([source.diagnostic(1, 1, "file is empty", hint=_EMPTY_HINT)])
    tab = _first_indentation_tab(source)
    if tab is not None:
        line, col = tab
        raise RuleFileError(
            [
                source.diagnostic(
                    line, col, "tab character in indentation", hint="YAML indents with spaces only"
                )
            ]
        )
    try:
        node = yaml.compose(source.text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise RuleFileError([_syntax_diagnostic(source, exc)]) from None
    except yaml.YAMLError as exc:
        raise RuleFileError([source.diagnostic(1, 1, f"YAML error: {exc}")]) from None
    if node is None:
        raise RuleFileError(
            [source.diagnostic(1, 1, "file is empty (only comments)", hint=_EMPTY_HINT)]
        )
    converter = _Converter(source)
    data = converter.convert(node, ())
    if converter.problems:
        raise RuleFileError(
            [
                replace(d, rule_id=rule_id_at(data, path)) if not d.rule_id else d
                for path, d in converter.problems
            ]
        )
    return Document(source, data, converter.value_marks, converter.key_marks)


def rule_id_at(data: Any, path: KeyPath) -> str:
    """The id of the rule a path points into (`rules[3]…`), or ''."""
    if (
        len(path) >= 2
        and path[0] == "rules"
        and isinstance(path[1], int)
        and isinstance(data, dict)
    ):
        rules = data.get("rules")
        if isinstance(rules, list) and path[1] < len(rules) and isinstance(rules[path[1]], dict):
            rule_id = rules[path[1]].get("id")
            return rule_id if isinstance(rule_id, str) else ""
    return ""


def load_yaml_file(path: str | os.PathLike[str], *, display: str | None = None) -> Document:
    return parse_yaml(read_source(path, display=display))


def _first_indentation_tab(source: SourceText) -> tuple[int, int] | None:
    in_block_scalar = False
    for number, line in enumerate(source.lines, start=1):
        stripped = line.lstrip(" ")
        if in_block_scalar and (not stripped or line.startswith(" ")):
            continue
        in_block_scalar = False
        if stripped.startswith("\t"):
            return number, len(line) - len(stripped) + 1
        if re.search(r"[|>][-+]?\s*(#.*)?$", line) and ":" in line:
            in_block_scalar = True
    return None


def _syntax_diagnostic(source: SourceText, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    col = mark.column + 1 if mark else 1
    problem = exc.problem or "cannot parse"
    message = f"YAML syntax error: {problem}"
    hint = ""
    opened = exc.context_mark
    if exc.context and opened is not None and opened is not mark:
        what = exc.context.removeprefix("while parsing ").removeprefix("while scanning ")
        what = what.removeprefix("a ").removeprefix("an ")
        where = f"line {opened.line + 1}, column {opened.column + 1}"
        hint = f"the {what} that starts at {where} is not closed properly"
    if "mapping values are not allowed" in problem:
        hint = "quote text that contains ': ' or check the indentation above"
    elif "found character '@'" in problem or "found character '`'" in problem:
        hint = "quote values that start with @ or `"
    elif "expected a single document" in (exc.context or "") or "another document" in problem:
        message = "a rule file holds one YAML document"
        hint = "remove the `---` separator and merge the documents, or split them into files"
    return source.diagnostic(line, col, message, hint=hint)


class _Converter:
    """Turns composed nodes into dicts, lists and scalars with YAML 1.2-style typing."""

    def __init__(self, source: SourceText) -> None:
        self.source = source
        self.value_marks: dict[KeyPath, tuple[int, int]] = {}
        self.key_marks: dict[KeyPath, tuple[int, int]] = {}
        self.problems: list[tuple[KeyPath, Diagnostic]] = []
        self.nodes = 0
        self._ancestors: set[int] = set()

    def _problem(self, path: KeyPath, line: int, col: int, message: str, **extra: Any) -> None:
        extra.setdefault("key_path", format_key_path(path))
        self.problems.append((path, self.source.diagnostic(line, col, message, **extra)))

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if id(node) in self._ancestors:
            self._problem(path, line, col, "an alias refers to a value that contains it (a cycle)")
            return None
        if len(self._ancestors) >= MAX_DEPTH:
            self._problem(path, line, col, f"values are nested deeper than {MAX_DEPTH} levels")
            return None
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self._problem(
                    path,
                    line,
                    col,
                    f"document has more than {MAX_NODES} values (too many aliases?)",
                )
            return None
        self.value_marks.setdefault(path, (line, col))
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        self._ancestors.add(id(node))
        try:
            return self._collection(node, path, line, col)
        finally:
            self._ancestors.discard(id(node))

    def _collection(self, node: yaml.Node, path: KeyPath, line: int, col: int) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        assert isinstance(node, yaml.SequenceNode)
        return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(path, *key_pos, "a key must be plain text")
                continue
            if key_node.value == "<<" and not key_node.style:
                self._problem(
                    path,
                    *key_pos,
                    "'<<' merge keys are not supported",
                    hint="use `extends:` instead",
                )
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                first = self.key_marks[child]
                self._problem(
                    child,
                    *key_pos,
                    f"duplicate key '{key}' (first defined at line {first[0]})",
                    hint="remove one of them; YAML would silently keep only the last",
                )
                continue
            self.key_marks[child] = key_pos
            result[key] = self.convert(value_node, child)
        return result


def _scalar(node: yaml.ScalarNode) -> Any:
    value: str = node.value
    if node.style:  # quoted or block scalars are always text (plain is None or "")
        return value
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.fullmatch(value):
        return int(value.replace("_", ""))
    if _HEX.fullmatch(value):
        return int(value, 16)
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _FLOAT.fullmatch(value):
        return float(value.replace("_", ""))
    if value in {".inf", "+.inf", ".Inf"}:
        return float("inf")
    if value in {"-.inf", "-.Inf"}:
        return float("-inf")
    return value
