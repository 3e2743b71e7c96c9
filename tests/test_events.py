"""Canonical events: aware UTC times, frozen values, sensible defaults."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.events import (
    ButtonPress,
    Chat,
    Command,
    EventKind,
    Join,
    JoinRequest,
    Leave,
    Message,
    Reaction,
    User,
)
from tests.helpers import ALICE, CHAT

NAIVE = datetime(2026, 1, 15, 12, 0)
MOSCOW = timezone(timedelta(hours=3))

BUILDERS = {
    "message": lambda at: Message(platform="test", chat=CHAT, actor=ALICE, at=at, id="1"),
    "join": lambda at: Join(platform="test", chat=CHAT, actor=ALICE, at=at, id="1"),
    "leave": lambda at: Leave(platform="test", chat=CHAT, actor=ALICE, at=at, id="1"),
    "reaction": lambda at: Reaction(
        platform="test", chat=CHAT, actor=ALICE, at=at, id="1", message_id="9"
    ),
    "join_request": lambda at: JoinRequest(platform="test", chat=CHAT, actor=ALICE, at=at, id="1"),
    "command": lambda at: Command(
        platform="test", chat=CHAT, actor=ALICE, at=at, id="1", name="warn"
    ),
    "button": lambda at: ButtonPress(
        platform="test", chat=CHAT, actor=ALICE, at=at, id="1", data="x"
    ),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_naive_datetime_is_refused(kind: str) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        BUILDERS[kind](NAIVE)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_time_is_converted_to_utc(kind: str) -> None:
    event = BUILDERS[kind](datetime(2026, 1, 15, 15, 0, tzinfo=MOSCOW))

    assert event.at == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert event.at.tzinfo == UTC
    assert event.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_events_are_frozen(kind: str) -> None:
    event = BUILDERS[kind](datetime(2026, 1, 15, 12, 0, tzinfo=UTC))

    with pytest.raises(dataclasses.FrozenInstanceError):
        event.id = "2"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.at = datetime(2027, 1, 1, tzinfo=UTC)  # type: ignore[misc]


def test_event_kinds_are_the_names_rules_use() -> None:
    at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    assert {name: BUILDERS[name](at).kind for name in BUILDERS} == {
        "message": EventKind.MESSAGE,
        "join": EventKind.JOIN,
        "leave": EventKind.LEAVE,
        "reaction": EventKind.REACTION,
        "join_request": EventKind.JOIN_REQUEST,
        "command": EventKind.COMMAND,
        "button": EventKind.BUTTON,
    }


def test_message_id_defaults_to_event_id() -> None:
    at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    plain = Message(platform="test", chat=CHAT, actor=ALICE, at=at, id="41")
    explicit = Message(platform="test", chat=CHAT, actor=ALICE, at=at, id="42", message_id="7")

    assert plain.message_id == "41"
    assert explicit.message_id == "7"


def test_users_and_chats_are_frozen_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALICE.name = "Mallory"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CHAT.title = "Other"  # type: ignore[misc]
    assert User(id="1", name="Ann") == User(id="1", name="Ann")


def test_user_display_prefers_name_then_username_then_id() -> None:
    assert User(id="1", name="Ann", username="ann").display == "Ann"
    assert User(id="1", username="ann").display == "@ann"
    assert User(id="1").display == "1"


def test_chat_scope_is_the_space_when_set() -> None:
    assert Chat(id="channel-1", space="guild-9").scope == "guild-9"
    assert Chat(id="group-1").scope == "group-1"
