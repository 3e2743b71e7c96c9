"""Discord, through discord.py (install with `pip install 'steward[discord]'`)."""

from __future__ import annotations

from adapters.discord.adapter import DiscordAdapter
from bot.clock import Clock
from bot.config import LoadedConfig


def create(config: LoadedConfig, clock: Clock) -> DiscordAdapter:
    """The adapter `steward run` starts when DISCORD_BOT_TOKEN is set."""
    return DiscordAdapter(config.config.adapters.discord, clock)


__all__ = ["DiscordAdapter", "create"]
