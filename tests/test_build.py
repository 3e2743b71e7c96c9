"""Choosing between the compiled engine and its sources (rules/build.py, setup.py)."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

import pytest

import rules
import rules.ruleset
from rules.build import _SourceFirst, compiled_sources, stale_modules

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def make_package(root: Path, *, source_newer: bool) -> Path:
    """A package with one 'compiled' module (a fake extension beside its source) and one not."""
    package = root / "fakepkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "hot.py").write_text("BUILD = 'source'\n")
    (package / "cold.py").write_text("BUILD = 'cold source'\n")
    extension = package / f"hot{SUFFIX}"
    extension.write_bytes(b"not a shared object: importing it would fail")
    older, newer = 1_000_000_000, 1_000_000_100
    source_time, extension_time = (newer, older) if source_newer else (older, newer)
    os.utime(package / "hot.py", (source_time, source_time))
    os.utime(extension, (extension_time, extension_time))
    return package


def test_finds_each_compiled_module_with_its_source(tmp_path: Path) -> None:
    package = make_package(tmp_path, source_newer=False)
    assert compiled_sources(package) == {
        "fakepkg.hot": (package / f"hot{SUFFIX}", package / "hot.py")
    }


def test_only_a_source_edited_after_compiling_is_stale(tmp_path: Path) -> None:
    fresh = make_package(tmp_path / "fresh", source_newer=False)
    edited = make_package(tmp_path / "edited", source_newer=True)
    assert stale_modules(compiled_sources(fresh)) == []
    assert stale_modules(compiled_sources(edited)) == ["fakepkg.hot"]


def test_stale_modules_are_imported_from_their_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = make_package(tmp_path, source_newer=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = _SourceFirst({name: src for name, (_, src) in compiled_sources(package).items()})
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    for name in ("fakepkg", "fakepkg.hot", "fakepkg.cold"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import fakepkg.cold  # type: ignore[import-not-found]
    import fakepkg.hot  # type: ignore[import-not-found]

    assert fakepkg.hot.BUILD == "source"  # the fake extension would not even load
    assert fakepkg.hot.__file__ == str(package / "hot.py")
    assert fakepkg.cold.BUILD == "cold source"  # other modules import as usual


def test_the_engine_says_which_build_runs() -> None:
    compiled = compiled_sources()
    expected = "compiled" if compiled and not stale_modules(compiled) else "pure Python"
    assert expected == rules.ENGINE_BUILD
    assert rules.ruleset.__file__ is not None
    assert rules.ruleset.__file__.endswith(".py") is (expected == "pure Python")
