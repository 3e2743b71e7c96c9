"""Small helpers both platform adapters use, so the same logic is written once."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def remember(table: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Keep `key` as the newest entry of a bounded memory, forgetting the oldest beyond `limit`
    (recent messages, interactions, membership changes: what a redelivery could repeat)."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    retries: int,
    backoff: float,
    transient: Callable[[Exception], bool],
) -> T:
    """`call()`, made again after an error `transient` accepts (the request may not have
    reached the platform), at most `retries` more times, waiting `backoff` seconds and twice
    as long each time after; any other error, or the last transient one, is raised."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            if attempt >= retries or not transient(exc):
                raise
        await asyncio.sleep(backoff * 2**attempt)
        attempt += 1
