"""Snapshots of what Steward knows about a member and a chat when an event arrives.

The rule engine is a pure function of (event, facts, time); these frozen snapshots are the
"facts" part. The pipeline builds them from storage and from its in-memory recent-activity log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RecentMessage:
    """One earlier message of the same member: enough for flood and repeated-text windows."""

    at: datetime
    fingerprint: int
    media_group: str = ""


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """A member as the rules see them.

    `joined_at` is None when Steward never saw the member join (they were there before the bot);
    conditions on days since joining then do not match, so long-standing members are not treated
    as newcomers on the day the bot is installed.
    """

    level: int = 0
    joined_at: datetime | None = None
    message_count: int = 0
    strikes: int = 0
    is_admin: bool = False
    # Earlier messages, oldest first, trimmed by the pipeline to the rule set's longest window.
    recent: tuple[RecentMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatFacts:
    """A chat as the rules see it: recent join times for raid detection."""

    recent_joins: tuple[datetime, ...] = ()


NO_CHAT_FACTS = ChatFacts()
