"""Which build of the engine runs: mypyc-compiled modules, or their plain Python sources.

setup.py compiles the engine's hot modules into C extensions that sit beside their `.py` files
(an editable install builds them in the checkout). Python imports an extension before a source
file of the same name, so after an edit to such a `.py` the old compiled code would keep running
without a word. `use_fresh_sources` notices that (a source newer than its extension) and then
imports every compiled module of the group from source, with one warning saying how to rebuild:
compiled modules call each other directly in C, so mixing the two builds is never safe.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).parent
_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def compiled_sources(package_dir: Path = PACKAGE_DIR) -> dict[str, tuple[Path, Path]]:
    """Module name → (its compiled extension, its source), for each compiled module here."""
    found: dict[str, tuple[Path, Path]] = {}
    for extension in package_dir.iterdir():
        suffix = next((s for s in _EXTENSION_SUFFIXES if extension.name.endswith(s)), None)
        if suffix is None:
            continue
        stem = extension.name[: -len(suffix)]
        source = package_dir / f"{stem}.py"
        if source.is_file():
            found[f"{package_dir.name}.{stem}"] = (extension, source)
    return found


def stale_modules(compiled: dict[str, tuple[Path, Path]]) -> list[str]:
    """The compiled modules whose source was changed after they were compiled."""
    return sorted(
        name
        for name, (extension, source) in compiled.items()
        if source.stat().st_mtime > extension.stat().st_mtime
    )


class _SourceFirst(MetaPathFinder):
    """Imports the named modules from their `.py` files, ahead of the compiled extensions."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self._sources = sources

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        source = self._sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def use_fresh_sources() -> str:
    """Choose the build to import (see the module's docstring): "compiled" or "pure Python"."""
    compiled = compiled_sources()
    if not compiled:
        return "pure Python"
    stale = stale_modules(compiled)
    if not stale:
        return "compiled"
    warnings.warn(
        f"{', '.join(stale)} changed after the engine was compiled; running the plain Python "
        "sources instead (slower). Run `pip install -e .` again to recompile.",
        stacklevel=3,
    )
    sys.meta_path.insert(0, _SourceFirst({name: src for name, (_, src) in compiled.items()}))
    return "pure Python"


# Decided when the package is first imported, before any compiled module (rules/__init__.py
# imports this module first): "compiled" or "pure Python".
ENGINE_BUILD = use_fresh_sources()
