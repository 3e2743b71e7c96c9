"""Small helpers both platform adapters use, so the same logic is written once."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(table: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Keep `key` as the newest entry of a bounded memory, forgetting the oldest beyond `limit`
    (recent messages, interactions, membership changes: what a redelivery could repeat)."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)
