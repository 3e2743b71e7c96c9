"""What each platform can do, so that rules are checked against it and actions clamped to it.

The facts live here, in the core, rather than in the adapters because `steward check` must warn
about a rule that asks for the impossible without importing any platform library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.actions import ActionKind
from bot.durations import format_duration


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Limits of one platform. `None` means the platform sets no limit."""

    platform: str
    # Shortest and longest time a platform keeps a timed restriction or ban; outside this window
    # Telegram silently makes it permanent, so the executor clamps into it.
    min_timed: timedelta | None = None
    max_timed: timedelta | None = None
    # Longest native mute. A longer one is renewed by a scheduled job when `renews_mutes`.
    max_mute: timedelta | None = None
    renews_mutes: bool = False
    # Timed actions the platform cannot end by itself; Steward schedules the undo (a Discord ban
    # has no duration, so a temporary ban is a ban plus a persisted unban job).
    untimed: frozenset[ActionKind] = frozenset()
    per_permission_restrict: bool = True
    # How old a message may be and still be deleted by a bot.
    delete_window: timedelta | None = None
    # Whether a notice to the admins reaches them privately (Discord: a moderators-only channel
    # or the owner's direct messages). Otherwise it is posted in the chat itself (a Telegram bot
    # cannot write to admins who never started it), for every member to read.
    private_notices: bool = False

    @property
    def native_temp_ban(self) -> bool:
        return ActionKind.BAN not in self.untimed

    def clamp(self, kind: ActionKind, duration: timedelta) -> tuple[timedelta, str]:
        """The duration the platform will really apply, and a sentence when it differs."""
        if kind is ActionKind.MUTE and self.max_mute is not None and duration > self.max_mute:
            if self.renews_mutes:
                return duration, (
                    f"{self.platform} mutes last at most {format_duration(self.max_mute)}; "
                    f"Steward renews a {format_duration(duration)} mute until it ends"
                )
            return self.max_mute, (
                f"{self.platform} mutes last at most {format_duration(self.max_mute)}; "
                f"{format_duration(duration)} will be clamped to {format_duration(self.max_mute)}"
            )
        if self.max_timed is not None and duration > self.max_timed:
            return self.max_timed, (
                f"{self.platform} treats a {kind.value} longer than "
                f"{format_duration(self.max_timed)} as permanent; "
                f"{format_duration(duration)} will be clamped to {format_duration(self.max_timed)}"
            )
        if self.min_timed is not None and duration < self.min_timed:
            return self.min_timed, (
                f"{self.platform} treats a {kind.value} shorter than "
                f"{format_duration(self.min_timed)} as permanent; "
                f"{format_duration(duration)} will be raised to {format_duration(self.min_timed)}"
            )
        return duration, ""


TELEGRAM = Capabilities(
    platform="telegram",
    min_timed=timedelta(seconds=30),
    max_timed=timedelta(days=366),
    delete_window=timedelta(hours=48),
)
DISCORD = Capabilities(
    platform="discord",
    max_mute=timedelta(days=28),
    renews_mutes=True,
    untimed=frozenset({ActionKind.BAN, ActionKind.RESTRICT}),
    per_permission_restrict=False,
    private_notices=True,
)
CONSOLE = Capabilities(platform="console")

KNOWN_PLATFORMS: dict[str, Capabilities] = {c.platform: c for c in (TELEGRAM, DISCORD, CONSOLE)}
