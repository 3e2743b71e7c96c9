"""Who counts as an admin, cached with a short time-to-live.

Asking the platform on every message would be slow and rate-limited; caching forever would miss
a demotion. Five minutes is the compromise; adapters call `invalidate` when the platform says an
admin's status changed. If the platform cannot be asked, the last known list is kept: failing
closed (treating admins as members) could punish an admin, which Steward must never do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from bot.clock import Clock

log = logging.getLogger("steward.admins")

Fetch = Callable[[str, str], Awaitable[frozenset[str]]]


class AdminCache:
    def __init__(
        self, fetch: Fetch, clock: Clock, *, ttl: timedelta = timedelta(minutes=5)
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[datetime, frozenset[str]]] = {}
        self._configured: set[tuple[str, str]] = set()

    def add_configured(self, entries: Iterable[str]) -> None:
        """Admins named in the config (`PLATFORM:USER_ID`): admins in every chat on that platform.

        Meant for the owner's own accounts and for platforms that cannot list admins.
        """
        for entry in entries:
            platform, _, user = entry.partition(":")
            self._configured.add((platform, user))

    async def admins(self, platform: str, chat: str) -> frozenset[str]:
        key = (platform, chat)
        now = self._clock.now()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            fresh = await self._fetch(platform, chat)
        except Exception as exc:  # the platform is down or refuses: keep what we knew
            log.warning("cannot fetch admins of %s:%s: %s", platform, chat, exc)
            return cached[1] if cached is not None else frozenset()
        self._cache[key] = (now, fresh)
        return fresh

    def known(self, platform: str, chat: str, user: str) -> bool | None:
        """The answer from the cache alone, or None when the list is missing or stale.

        The pipeline asks for every event; answering from memory without a coroutine keeps
        that free, and `is_admin` is awaited only when the platform must be asked.
        """
        if (platform, user) in self._configured:
            return True
        cached = self._cache.get((platform, chat))
        if cached is None or self._clock.now() - cached[0] >= self._ttl:
            return None
        return user in cached[1]

    async def is_admin(self, platform: str, chat: str, user: str) -> bool:
        if (platform, user) in self._configured:
            return True
        return user in await self.admins(platform, chat)

    def invalidate(self, platform: str, chat: str) -> None:
        self._cache.pop((platform, chat), None)
