"""Hot reload: which file changes reload a group, and what a broken edit leaves running."""

from __future__ import annotations

from pathlib import Path

from bot.rulesets import RuleBook

BASE = """
lists:
  bad: [spam]
rules:
  - id: bad-words
    when: {keywords: {list: bad}}
    delete: true
"""
GROUP = """
extends: [base.yaml]
rules:
  - id: links
    when: {links: {count: {gte: 3}}}
    delete: true
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rule_ids(book: RuleBook) -> list[str]:
    return [r.id for r in book.ruleset("g").rules]


def test_an_edit_to_an_extended_file_reloads_the_group(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", BASE)
    group = write(tmp_path / "group.yaml", GROUP)
    book = RuleBook()
    book.load("g", [group])

    write(tmp_path / "base.yaml", BASE.replace("bad-words", "bad-words-v2"))
    results = book.reload_changed()

    assert [(r.group, r.changed, r.ok) for r in results] == [("g", True, True)]
    assert rule_ids(book) == ["bad-words-v2", "links"]


def test_an_edit_to_a_list_file_reloads_the_group(tmp_path: Path) -> None:
    write(tmp_path / "words.txt", "spam\n")
    group = write(
        tmp_path / "group.yaml",
        "lists:\n  bad: {file: words.txt}\nrules:\n"
        "  - id: bad-words\n    when: {keywords: {list: bad}}\n    delete: true\n",
    )
    book = RuleBook()
    book.load("g", [group])

    write(tmp_path / "words.txt", "spam\nscam and more\n")

    assert [r.changed for r in book.reload_changed()] == [True]
    assert book.reload_changed() == []  # nothing changed since


def test_a_broken_edit_keeps_the_last_good_rules(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", BASE)
    group = write(tmp_path / "group.yaml", GROUP)
    book = RuleBook()
    book.load("g", [group])

    write(tmp_path / "base.yaml", BASE.replace("delete: true", "delete: yes"))
    results = book.reload_changed()

    assert [(r.changed, r.ok) for r in results] == [(False, False)]
    assert "expected true or false" in results[0].errors[0].message
    assert rule_ids(book) == ["bad-words", "links"]
