"""The Telegram bot: dispatcher, bots, middlewares and the rate-limited sender (issue: Telegram bot)."""
