"""Platform-neutral scenario drivers: the same story told through the Telegram and Discord fakes."""
