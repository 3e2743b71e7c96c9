"""`Record`: the base of the small immutable values the engine builds for every event.

Verdicts, matches, evidence, keyword hits and links are built per event, often several per
message. As frozen dataclasses or named tuples each costs a call into Python-level code
(`dataclasses` generates `__init__` as Python even in a compiled module; a named tuple's
`__new__` is Python too): about 0.2–0.4 µs each, several percent of evaluating a message.
A compiled class with a hand-written `__init__` costs about a tenth of that.

Subclasses declare their fields three times, which is the price: in `__slots__`, in `_fields`
(for equality, hashing and repr) and as `Final` attributes set in `__init__`. `Final` makes mypy
reject any assignment after `__init__`, and the compiled build refuses one at run time
(`AttributeError: attribute … is not writable`); the pure-Python fallback relies on mypy alone.
"""

from __future__ import annotations

from typing import ClassVar


class Record:
    """Equality, hashing and repr from the fields a subclass names in `_fields`."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        # False rather than NotImplemented for other types: compiled code must return a bool
        # here, and a record is never equal to anything but a record of its own type.
        if type(other) is not type(self) or not isinstance(other, Record):
            return False
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"
