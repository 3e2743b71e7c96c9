"""Platform limits: Telegram's 30 s – 366 d window, Discord's 28-day timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.actions import ActionKind
from bot.capabilities import CONSOLE, DISCORD, KNOWN_PLATFORMS, TELEGRAM

TIMED = [ActionKind.MUTE, ActionKind.RESTRICT, ActionKind.BAN]


@pytest.mark.parametrize("kind", TIMED)
def test_telegram_raises_short_durations_to_30_seconds(kind: ActionKind) -> None:
    duration, note = TELEGRAM.clamp(kind, timedelta(seconds=10))

    assert duration == timedelta(seconds=30)
    assert note == (
        f"telegram treats a {kind.value} shorter than 30s as permanent; 10s will be raised to 30s"
    )


@pytest.mark.parametrize("kind", TIMED)
def test_telegram_lowers_long_durations_to_366_days(kind: ActionKind) -> None:
    duration, note = TELEGRAM.clamp(kind, timedelta(days=400))

    assert duration == timedelta(days=366)
    assert note == (
        f"telegram treats a {kind.value} longer than 366d as permanent; "
        "400d will be clamped to 366d"
    )


@pytest.mark.parametrize(
    "duration", [timedelta(seconds=30), timedelta(hours=1), timedelta(days=366)]
)
def test_telegram_keeps_durations_inside_its_window(duration: timedelta) -> None:
    assert TELEGRAM.clamp(ActionKind.MUTE, duration) == (duration, "")


def test_discord_renews_mutes_longer_than_28_days() -> None:
    duration, note = DISCORD.clamp(ActionKind.MUTE, timedelta(days=60))

    assert duration == timedelta(days=60)
    assert note == "discord mutes last at most 28d; Steward renews a 60d mute until it ends"


def test_discord_mutes_up_to_28_days_need_no_note() -> None:
    assert DISCORD.clamp(ActionKind.MUTE, timedelta(days=28)) == (timedelta(days=28), "")


def test_discord_bans_have_no_length_limit() -> None:
    assert DISCORD.clamp(ActionKind.BAN, timedelta(days=1000)) == (timedelta(days=1000), "")
    assert DISCORD.native_temp_ban is False


def test_console_has_no_limits() -> None:
    assert CONSOLE.clamp(ActionKind.MUTE, timedelta(seconds=1)) == (timedelta(seconds=1), "")


def test_known_platforms() -> None:
    assert KNOWN_PLATFORMS == {"telegram": TELEGRAM, "discord": DISCORD, "console": CONSOLE}
    assert TELEGRAM.delete_window == timedelta(hours=48)


@given(
    seconds=st.integers(min_value=1, max_value=10**9),
    kind=st.sampled_from(TIMED),
)
def test_telegram_clamp_lands_in_its_window(seconds: int, kind: ActionKind) -> None:
    asked = timedelta(seconds=seconds)

    duration, note = TELEGRAM.clamp(kind, asked)

    assert timedelta(seconds=30) <= duration <= timedelta(days=366)
    assert (note == "") == (duration == asked)
