"""Canonical events: what happened in a chat, independent of the platform it happened on.

Adapters translate platform updates into these frozen values and fill only what their platform
knows; everything above the adapters (rules, pipeline, plugins) sees nothing else. Ids are strings
because platforms disagree on their type (Telegram ints, Discord snowflakes), and times are aware
UTC so that decay, windows and schedules never mix time zones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar


class MediaKind(StrEnum):
    """Kinds of attachment a message can carry; rules test them by these names."""

    PHOTO = "photo"
    VIDEO = "video"
    ANIMATION = "animation"
    AUDIO = "audio"
    VOICE = "voice"
    VIDEO_NOTE = "video_note"
    DOCUMENT = "document"
    STICKER = "sticker"
    POLL = "poll"
    CONTACT = "contact"
    LOCATION = "location"
    GAME = "game"
    STORY = "story"


class EventKind(StrEnum):
    """The names rules use in `on:` to say which events they apply to."""

    MESSAGE = "message"
    JOIN = "join"
    LEAVE = "leave"
    REACTION = "reaction"
    JOIN_REQUEST = "join_request"
    COMMAND = "command"
    BUTTON = "button"


def _require_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"event time {at.isoformat()} has no time zone; adapters must give UTC")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class User:
    """A platform account. `name` is for people to read; `id` is what everything keys on."""

    id: str
    name: str = ""
    username: str = ""
    is_bot: bool = False

    @property
    def display(self) -> str:
        """The friendliest name we know, for messages and logs."""
        if self.name:
            return self.name
        if self.username:
            return "@" + self.username
        return self.id


@dataclass(frozen=True, slots=True)
class Chat:
    """A group, supergroup, Discord channel or console room."""

    id: str
    title: str = ""
    # Discord channels live in a guild; moderation state is kept per guild, so the adapter
    # sets `space` to the guild id there and leaves it equal to `id` elsewhere.
    space: str = ""

    @property
    def scope(self) -> str:
        """Where strikes and member facts are kept: the guild on Discord, the chat elsewhere."""
        return self.space or self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every event has. `id` is unique per (platform, chat) and makes redelivery harmless."""

    platform: str
    chat: Chat
    actor: User
    at: datetime
    id: str

    kind: ClassVar[EventKind]

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _require_utc(self.at))


@dataclass(frozen=True, slots=True)
class ForwardInfo:
    """Where a forwarded message came from, as far as the platform tells."""

    from_id: str = ""
    from_name: str = ""
    from_channel: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Event):
    """A message or an edit of one. Captions count as text."""

    text: str = ""
    message_id: str = ""
    links: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    media: frozenset[MediaKind] = frozenset()
    reply_to_message: str = ""
    reply_to_user: User | None = None
    forward: ForwardInfo | None = None
    edited: bool = False
    # Telegram albums arrive as several messages sharing this id; flood counts them once.
    media_group: str = ""
    # The platform's own filter kept this message from being posted (Discord AutoMod), and
    # says which rule: the event is all that exists of it, with nothing to delete or reply to.
    blocked_by: str = ""

    kind: ClassVar[EventKind] = EventKind.MESSAGE

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if not self.message_id:
            object.__setattr__(self, "message_id", self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(Event):
    """A member joined. `actor` is the member; `invited_by` is set when someone added them."""

    invited_by: User | None = None

    kind: ClassVar[EventKind] = EventKind.JOIN


@dataclass(frozen=True, slots=True, kw_only=True)
class Leave(Event):
    """A member left or was removed. `removed_by` is set when someone else removed them."""

    removed_by: User | None = None

    kind: ClassVar[EventKind] = EventKind.LEAVE


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction(Event):
    """`actor` reacted to a message written by `target_user` (when the platform says who)."""

    message_id: str
    emoji: tuple[str, ...] = ()
    target_user: User | None = None
    removed: bool = False

    kind: ClassVar[EventKind] = EventKind.REACTION


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequest(Event):
    """`actor` asked to join a chat that requires approval."""

    bio: str = ""

    kind: ClassVar[EventKind] = EventKind.JOIN_REQUEST


@dataclass(frozen=True, slots=True, kw_only=True)
class Command(Event):
    """A parsed `/verb args` message. A reply or an `@name` argument names the `target`."""

    name: str
    args: tuple[str, ...] = ()
    target: User | None = None
    message_id: str = ""
    reply_to_message: str = ""

    kind: ClassVar[EventKind] = EventKind.COMMAND


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonPress(Event):
    """`actor` pressed an inline button whose payload is `data`."""

    data: str
    message_id: str = ""

    kind: ClassVar[EventKind] = EventKind.BUTTON


AnyEvent = Message | Join | Leave | Reaction | JoinRequest | Command | ButtonPress
