"""Pytest fixtures for Steward, registered through the `pytest11` entry point.

`steward` gives a started harness on the stock rules; `steward_factory` builds harnesses with
other rules or options. Both are async fixtures and need pytest-asyncio (asyncio mode "auto", or
mark tests with `@pytest.mark.asyncio`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.testing import StewardHarness

try:
    import pytest_asyncio
except ImportError as exc:  # pragma: no cover - the fixtures cannot exist without it
    raise ImportError(
        "Steward's pytest fixtures need pytest-asyncio: pip install 'steward[testing]'"
    ) from exc

HarnessFactory = Callable[..., Awaitable[StewardHarness]]


@pytest_asyncio.fixture
async def steward_factory() -> AsyncIterator[HarnessFactory]:
    """Build started harnesses: `await steward_factory(rules_text="...")`; all closed at the end."""
    made: list[StewardHarness] = []

    async def make(**options: Any) -> StewardHarness:
        harness = StewardHarness(**options)
        made.append(harness)
        return await harness.start()

    yield make
    for harness in made:
        await harness.close()


@pytest_asyncio.fixture
async def steward(steward_factory: HarnessFactory) -> StewardHarness:
    """A started harness running the stock rules."""
    return await steward_factory()
