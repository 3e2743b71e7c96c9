"""Recent activity that flood, repeated-text and raid rules look at.

Only as much history is kept as the longest window any loaded rule set uses (`history_window`,
`join_window`), so memory stays flat however busy a chat is. This state is deliberately not
persisted: windows are seconds or minutes long, and a restart that forgets them forgives at
most one burst.

A member's history is a tuple of plain (time, fingerprint, media group) tuples, not a deque of
`RecentMessage` objects: most members have a handful of recent messages, a deque costs over 600
bytes even when empty (75 MB for 100,000 members), and the garbage collector stops tracking
tuples of plain values, while hundreds of thousands of live `RecentMessage` objects made every
full collection walk them (together with the pipeline's event ids, full collections took a sixth
of the run time with 100,000 members). The rules get `RecentMessage` objects, made when asked.
Members are kept in order of their latest message, so `sweep` stops at the first member still
inside the window instead of visiting everyone.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta
from itertools import starmap

from bot.facts import RecentMessage
from bot.storage.base import MemberKey

# Hard cap per member and per chat, whatever the windows: a flood detector needs a few dozen.
MAX_REMEMBERED = 64

# A `RecentMessage` as a plain tuple: (at, fingerprint, media_group).
_Entry = tuple[datetime, int, str]


class ActivityLog:
    def __init__(self) -> None:
        self.history_window = timedelta(0)
        self.join_window = timedelta(0)
        # Oldest activity first: `record_message` moves the member to the end.
        self._messages: OrderedDict[MemberKey, tuple[_Entry, ...]] = OrderedDict()
        self._joins: dict[tuple[str, str], deque[datetime]] = {}

    def widen(self, history: timedelta, joins: timedelta) -> None:
        """Make sure windows of at least these lengths are kept (called when rules load)."""
        self.history_window = max(self.history_window, history)
        self.join_window = max(self.join_window, joins)

    def recent_messages(self, key: MemberKey, now: datetime) -> tuple[RecentMessage, ...]:
        entries = self._messages.get(key)
        if not entries:
            return ()
        trimmed = _trim(entries, now - self.history_window)
        if trimmed is not entries:
            self._messages[key] = trimmed
        return tuple(starmap(RecentMessage, trimmed))

    def record_message(self, key: MemberKey, message: RecentMessage) -> None:
        if not self.history_window:
            return
        entries = self._messages.get(key, ())
        if len(entries) >= MAX_REMEMBERED:
            entries = entries[len(entries) - MAX_REMEMBERED + 1 :]
        entry = (message.at, message.fingerprint, message.media_group)
        self._messages[key] = _trim((*entries, entry), message.at - self.history_window)
        self._messages.move_to_end(key)

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
        messages = self._messages
        while messages:
            key, entries = next(iter(messages.items()))
            if entries and entries[-1][0] >= cutoff:
                break  # everyone after this member wrote later
            del messages[key]
        join_cutoff = now - self.join_window
        for chat in [k for k, v in self._joins.items() if not v or v[-1] < join_cutoff]:
            del self._joins[chat]


def _trim(entries: tuple[_Entry, ...], cutoff: datetime) -> tuple[_Entry, ...]:
    """Without the leading entries older than `cutoff` (the same tuple when none are)."""
    start = 0
    while start < len(entries) and entries[start][0] < cutoff:
        start += 1
    return entries[start:] if start else entries
