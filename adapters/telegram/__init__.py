"""Telegram, through python-telegram-bot (install with `pip install 'steward[telegram]'`)."""

from __future__ import annotations

from adapters.telegram.adapter import TelegramAdapter
from bot.clock import Clock
from bot.config import LoadedConfig


def create(config: LoadedConfig, clock: Clock) -> TelegramAdapter:
    """The adapter `steward run` starts when TELEGRAM_BOT_TOKEN is set."""
    return TelegramAdapter(config.config.adapters.telegram, clock)


__all__ = ["TelegramAdapter", "create"]
