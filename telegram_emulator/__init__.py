"""A Telegram Bot API emulator for tests and the demo: aiogram talks to it as to Telegram (TELEGRAM_API_URL)."""
