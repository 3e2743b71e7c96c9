"""Recent activity that flood, repeated-text and raid rules look at.

Only as much history is kept as the longest window any loaded rule set uses (`history_window`,
`join_window`), so memory stays flat however busy a chat is. This state is deliberately not
persisted: windows are seconds or minutes long, and a restart that forgets them forgives at
most one burst.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from bot.facts import RecentMessage
from bot.storage.base import MemberKey

# Hard cap per member and per chat, whatever the windows: a flood detector needs a few dozen.
MAX_REMEMBERED = 64


class ActivityLog:
    def __init__(self) -> None:
        self.history_window = timedelta(0)
        self.join_window = timedelta(0)
        self._messages: dict[MemberKey, deque[RecentMessage]] = {}
        self._joins: dict[tuple[str, str], deque[datetime]] = {}

    def widen(self, history: timedelta, joins: timedelta) -> None:
        """Make sure windows of at least these lengths are kept (called when rules load)."""
        self.history_window = max(self.history_window, history)
        self.join_window = max(self.join_window, joins)

    def recent_messages(self, key: MemberKey, now: datetime) -> tuple[RecentMessage, ...]:
        entries = self._messages.get(key)
        if not entries:
            return ()
        self._trim(entries, now - self.history_window)
        return tuple(entries)

    def record_message(self, key: MemberKey, message: RecentMessage) -> None:
        if not self.history_window:
            return
        entries = self._messages.get(key)
        if entries is None:
            entries = self._messages[key] = deque(maxlen=MAX_REMEMBERED)
        entries.append(message)
        self._trim(entries, message.at - self.history_window)

    def recent_joins(self, platform: str, chat: str, now: datetime) -> tuple[datetime, ...]:
        entries = self._joins.get((platform, chat))
        if not entries:
            return ()
        while entries and entries[0] < now - self.join_window:
            entries.popleft()
        return tuple(entries)

    def record_join(self, platform: str, chat: str, at: datetime) -> None:
        if not self.join_window:
            return
        entries = self._joins.setdefault((platform, chat), deque(maxlen=MAX_REMEMBERED * 4))
        entries.append(at)

    def sweep(self, now: datetime) -> None:
        """Drop members and chats whose history has aged out entirely."""
        cutoff = now - self.history_window
        for key in [k for k, v in self._messages.items() if not v or v[-1].at < cutoff]:
            del self._messages[key]
        join_cutoff = now - self.join_window
        for chat in [k for k, v in self._joins.items() if not v or v[-1] < join_cutoff]:
            del self._joins[chat]

    @staticmethod
    def _trim(entries: deque[RecentMessage], cutoff: datetime) -> None:
        while entries and entries[0].at < cutoff:
            entries.popleft()
