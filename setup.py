"""Build hook: the rule engine's hot modules are compiled to C with mypyc.

Everything else about the distribution is in pyproject.toml. These modules run for every event
the bot sees; they are already `mypy --strict` clean, and mypyc turns that typed Python into a C
extension (the way black and mypy itself ship), which measured about a third faster on
bench/engine.py. The .py files stay the source of truth: nothing is written twice.

The compiled build is optional. Without a C compiler, or with `STEWARD_PURE_PYTHON=1` in the
environment, the same modules install as plain Python and behave the same, only slower.
docs/compiled.md says how to tell which one is running and how to rebuild after an edit.
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules on the path of every event (see docs/compiled.md before adding one: a compiled
# module's classes cannot be monkeypatched or subclassed from plain Python).
COMPILED = [
    "rules/compiler.py",
    "rules/context.py",
    "rules/ladder.py",
    "rules/normalize.py",
    "rules/record.py",
    "rules/ruleset.py",
    "rules/terms.py",
    "rules/textfeatures.py",
]


def compiled_extensions() -> list[object]:
    if os.environ.get("STEWARD_PURE_PYTHON", "") not in ("", "0"):
        print("steward: STEWARD_PURE_PYTHON is set, installing the pure-Python engine")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("steward: mypyc is not available, installing the pure-Python engine")
        return []
    try:
        extensions = mypycify(COMPILED, opt_level="3", group_name="steward")
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error
        print(f"steward: mypyc could not compile the engine ({exc}); installing pure Python")
        return []
    for extension in extensions:
        # A failed C build (no compiler, no Python headers) skips the module instead of failing
        # the install: the .py file beside it is then imported.
        extension.optional = True
    return extensions


if __name__ == "__main__":
    setup(ext_modules=compiled_extensions())
