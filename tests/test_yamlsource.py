"""The YAML reader: YAML 1.2-style scalars, marks for every key and value, and refusals.

Rule files are edited by hand, so the reader must not turn `no` into False, must not let a
repeated key overwrite the first one silently, and must not let a small file expand into
millions of values.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from rules.diagnostics import Diagnostic, RuleFileError
from rules.loader import load_rules
from rules.yamlsource import Document, SourceText, parse_yaml, read_source

NO_HANG_SECONDS = 10.0


def parse(text: str) -> Document:
    return parse_yaml(SourceText("test.yaml", text))


def value(scalar: str) -> Any:
    """What `key: SCALAR` reads as."""
    return parse(f"key: {scalar}\n").data["key"]


def problems(text: str) -> list[Diagnostic]:
    with pytest.raises(RuleFileError) as caught:
        parse(text)
    return caught.value.diagnostics


# -- scalars ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scalar", "expected"), [("true", True), ("false", False), ("True", True), ("FALSE", False)]
)
def test_only_true_and_false_are_booleans(scalar: str, expected: bool) -> None:
    assert value(scalar) is expected


@pytest.mark.parametrize("scalar", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF"])
def test_yaml11_boolean_spellings_stay_text(scalar: str) -> None:
    assert value(scalar) == scalar


def test_on_as_a_key_stays_the_text_on() -> None:
    doc = parse("on: join\nyes: 1\n")

    assert doc.data == {"on": "join", "yes": 1}


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [("0", 0), ("3", 3), ("-2", -2), ("+7", 7), ("100", 100), ("010", 10)],
)
def test_integers(scalar: str, expected: int) -> None:
    read = value(scalar)

    assert type(read) is int
    assert read == expected


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [("2.5", 2.5), ("-0.5", -0.5), (".5", 0.5), ("1e3", 1000.0), ("1.5E-2", 0.015)],
)
def test_floats(scalar: str, expected: float) -> None:
    read = value(scalar)

    assert type(read) is float
    assert read == expected


@pytest.mark.parametrize("scalar", ["~", "null", "Null", "NULL", ""])
def test_nulls(scalar: str) -> None:
    assert value(scalar) is None


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ('"3"', "3"),
        ("'2.5'", "2.5"),
        ('"true"', "true"),
        ("'false'", "false"),
        ('"null"', "null"),
        ("'~'", "~"),
        ('""', ""),
        ("|\n  3\n", "3\n"),
    ],
)
def test_quoted_and_block_scalars_stay_text(scalar: str, expected: str) -> None:
    assert value(scalar) == expected


@pytest.mark.parametrize("scalar", ["2024-01-15", "2024-01-15T10:00:00Z", "2024-01-15 10:00:00"])
def test_dates_stay_text(scalar: str) -> None:
    assert value(scalar) == scalar


@pytest.mark.parametrize("scalar", ["12:30", "1:20:30", "1h30m", "7d"])
def test_sexagesimal_and_durations_stay_text(scalar: str) -> None:
    # YAML 1.1 reads 12:30 as the number 750; a time or a duration must reach us as written.
    assert value(scalar) == scalar


# -- marks ----------------------------------------------------------------------------------

RULES = """\
version: 1
rules:
  - id: no-spam
    when:
      keywords: [spam, scam]
    delete: true
"""


def test_marks_of_values_are_one_based_line_and_column() -> None:
    doc = parse(RULES)

    assert doc.value_marks[("version",)] == (1, 10)
    assert doc.value_marks[("rules", 0)] == (3, 5)
    assert doc.value_marks[("rules", 0, "id")] == (3, 9)
    assert doc.value_marks[("rules", 0, "when", "keywords", 1)] == (5, 24)
    assert doc.value_marks[("rules", 0, "delete")] == (6, 13)


def test_marks_of_keys() -> None:
    doc = parse(RULES)

    assert doc.key_marks[("version",)] == (1, 1)
    assert doc.key_marks[("rules",)] == (2, 1)
    assert doc.key_marks[("rules", 0, "id")] == (3, 5)
    assert doc.key_marks[("rules", 0, "when", "keywords")] == (5, 7)
    assert doc.key_marks[("rules", 0, "delete")] == (6, 5)


def test_position_of_a_missing_path_falls_back_to_its_nearest_parent() -> None:
    doc = parse(RULES)

    assert doc.position(("rules", 0, "when", "regex")) == (5, 7)
    assert doc.position(("rules", 0, "strike")) == (3, 5)
    assert doc.position(("rules", 0, "delete"), key=True) == (6, 5)


def test_diagnostic_carries_key_path_and_source_line() -> None:
    doc = parse(RULES)

    found = doc.diagnostic(("rules", 0, "delete"), "a message")

    assert found == Diagnostic(
        file="test.yaml",
        line=6,
        col=13,
        message="a message",
        key_path="rules[0].delete",
        source_line="    delete: true",
    )


# -- refusals -------------------------------------------------------------------------------


def test_duplicate_key_is_an_error_at_the_second_key() -> None:
    found = problems("version: 1\nrules: []\nversion: 2\n")

    assert [(d.line, d.col, d.message, d.key_path) for d in found] == [
        (3, 1, "duplicate key 'version' (first defined at line 1)", "version")
    ]


def test_every_duplicate_key_is_reported_at_once() -> None:
    found = problems("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")

    assert [(d.line, d.key_path) for d in found] == [(4, "b.c"), (5, "a")]


def test_duplicate_key_inside_a_rule_names_the_rule() -> None:
    text = "rules:\n  - id: no-spam\n    strike: 1\n    strike: 2\n"

    found = problems(text)

    assert [(d.line, d.rule_id, d.key_path) for d in found] == [(4, "no-spam", "rules[0].strike")]


def test_merge_keys_are_refused() -> None:
    text = "base: &base {delete: true}\nrule:\n  <<: *base\n  strike: 1\n"

    found = problems(text)

    assert [(d.line, d.col, d.message, d.hint) for d in found] == [
        (3, 3, "'<<' merge keys are not supported", "use `extends:` instead")
    ]


def test_a_key_that_is_not_text_is_refused() -> None:
    found = problems("[a, b]: 1\n")

    assert [(d.line, d.col, d.message) for d in found] == [(1, 1, "a key must be plain text")]


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_alias_bomb_is_refused_quickly() -> None:
    started = time.monotonic()
    found = problems(BILLION_LAUGHS)
    elapsed = time.monotonic() - started

    assert elapsed < NO_HANG_SECONDS
    assert len(found) == 1
    assert found[0].message == "document has more than 500000 values (too many aliases?)"


def test_a_few_aliases_are_fine() -> None:
    doc = parse("words: &w [spam, scam]\nalso: *w\n")

    assert doc.data == {"words": ["spam", "scam"], "also": ["spam", "scam"]}


def test_recursive_alias_is_an_error_not_a_crash() -> None:
    found = problems("a: &a [*a]\n")

    assert [d.line for d in found] == [1]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    depth = 5_000

    found = problems("a: " + "[" * depth + "]" * depth + "\n")

    assert [d.line for d in found] == [1]


def test_tab_in_indentation_names_its_column() -> None:
    found = problems("rules:\n  - id: a\n  \twhen: {}\n")

    assert [(d.line, d.col, d.message) for d in found] == [(3, 3, "tab character in indentation")]


def test_tabs_inside_block_text_and_after_a_colon_are_fine() -> None:
    doc = parse("reply: |\n  hello\n  \tworld\nwhen:\t{a: 1}\n")

    assert doc.data == {"reply": "hello\n\tworld\n", "when": {"a": 1}}


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_empty_text_is_refused(text: str) -> None:
    found = problems(text)

    assert [(d.line, d.col, d.message) for d in found] == [(1, 1, "file is empty")]


def test_only_comments_is_refused() -> None:
    found = problems("# nothing here\n")

    assert [d.message for d in found] == ["file is empty (only comments)"]


def test_syntax_error_names_line_and_column() -> None:
    found = problems("a: [1, 2\nb: 3\n")

    assert [(d.line, d.col) for d in found] == [(2, 2)]
    assert found[0].message.startswith("YAML syntax error: ")


# -- reading files --------------------------------------------------------------------------


def test_byte_order_mark_is_accepted_and_does_not_shift_columns(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + RULES.encode("utf-8"))

    doc = parse_yaml(read_source(path, display="bom.yaml"))

    assert doc.data["version"] == 1
    assert doc.key_marks[("version",)] == (1, 1)
    assert doc.value_marks[("version",)] == (1, 10)


def test_rule_file_with_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + RULES.encode("utf-8"))

    loaded = load_rules([path])

    assert [rule.id for rule in loaded.ruleset.rules] == ["no-spam"]


def test_text_that_is_not_utf8_names_line_and_column_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: café\n".encode("latin-1"))

    with pytest.raises(RuleFileError) as caught:
        read_source(path, display="latin1.yaml")

    found = caught.value.diagnostics
    assert [(d.file, d.line, d.col, d.hint) for d in found] == [
        ("latin1.yaml", 2, 7, "save the file as UTF-8")
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        read_source(tmp_path / "nope.yaml", display="nope.yaml")

    found = caught.value.diagnostics
    assert [(d.file, d.line, d.col, d.message) for d in found] == [
        ("nope.yaml", 1, 1, "file not found")
    ]


def test_directory_is_not_a_rule_file(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        read_source(tmp_path, display="rules/")

    assert [d.message for d in caught.value.diagnostics] == ["is a directory, not a rule file"]
