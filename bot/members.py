"""Member state in memory, written back to the store in batches.

Every message updates its author's facts (last seen, message count). Writing each update in its
own transaction would cap Steward at a few thousand events per second, so clean updates are
kept in memory and flushed in one transaction every 2 s (sooner in a burst; see bot.pipeline).
Infractions do not wait for this: they are committed at once with their case (see the pipeline).
A crash loses at most the last unflushed message counts, never a strike or an action.

Strike ledgers are cached beside the members: most members have none, and a member's total is
needed for every rule that tests `member.strikes` and for every offence.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from bot.events import User
from bot.storage.base import MemberKey, MemberRecord, Store
from rules.ladder import StrikeEntry


class MemberCache:
    """Loaded members and strike ledgers, least recently used evicted first (after flushing)."""

    def __init__(self, store: Store, *, capacity: int = 200_000) -> None:
        self.store = store
        self.capacity = capacity
        self._members: OrderedDict[MemberKey, MemberRecord] = OrderedDict()
        self._ledgers: dict[MemberKey, list[StrikeEntry]] = {}
        self._dirty: dict[MemberKey, MemberRecord] = {}

    async def get(self, key: MemberKey, user: User, at: datetime) -> MemberRecord:
        """The member, loaded or created; name and username are refreshed from the event."""
        record = self._members.get(key)
        if record is None:
            record = await self.store.member(key)
            if record is None:
                record = MemberRecord(key=key, first_seen=at, last_seen=at)
                self._dirty[key] = record
            self._members[key] = record
            ledger = await self.store.strikes(key)
            if ledger:  # most members have none: no empty list kept per member
                self._ledgers[key] = ledger
            else:
                self._ledgers.pop(key, None)
            if len(self._members) > self.capacity:
                await self._evict()
        else:
            self._members.move_to_end(key)
        if (user.name and user.name != record.name) or (
            user.username and user.username != record.username
        ):
            record.name = user.name or record.name
            record.username = user.username or record.username
            self._dirty[key] = record
        return record

    def touch(self, record: MemberRecord) -> None:
        """Mark a member as changed so the next flush writes it."""
        self._dirty[record.key] = record

    def ledger(self, key: MemberKey) -> Sequence[StrikeEntry]:
        """The member's strike ledger, oldest first (empty when they have none)."""
        return self._ledgers.get(key, ())

    def add_strike(self, key: MemberKey, entry: StrikeEntry) -> None:
        """Mirror a strike already committed to the store."""
        self._ledgers.setdefault(key, []).append(entry)

    def forget_ledger(self, key: MemberKey) -> None:
        self._ledgers.pop(key, None)

    async def reload_ledger(self, key: MemberKey) -> list[StrikeEntry]:
        entries = await self.store.strikes(key)
        if entries:
            self._ledgers[key] = entries
        else:
            self._ledgers.pop(key, None)
        return entries

    def forget_scope(self, platform: str, scope: str) -> None:
        """Drop cached members of a scope (after it moved); the store has them under the new id."""
        for key in [k for k in self._members if k.platform == platform and k.scope == scope]:
            self._members.pop(key, None)
            self._ledgers.pop(key, None)
            self._dirty.pop(key, None)

    def find_by_username(self, platform: str, scope: str, username: str) -> MemberRecord | None:
        wanted = username.lstrip("@").lower()
        for key, record in reversed(self._members.items()):
            if (
                key.platform == platform
                and key.scope == scope
                and record.username.lower() == wanted
            ):
                return record
        return None

    @property
    def pending(self) -> int:
        return len(self._dirty)

    async def flush(self) -> None:
        if not self._dirty:
            return
        batch = list(self._dirty.values())
        self._dirty = {}
        try:
            await self.store.save_members(batch)
        except BaseException:
            for record in batch:  # keep them for the next attempt: nothing is lost
                self._dirty.setdefault(record.key, record)
            raise

    async def _evict(self) -> None:
        if len(self._members) <= self.capacity:
            return
        await self.flush()
        while len(self._members) > self.capacity:
            key, _ = self._members.popitem(last=False)
            self._ledgers.pop(key, None)
