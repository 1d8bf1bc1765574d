"""aiogram Routers, one module per flow; each turns an update into one call of `sales` (issue: Telegram bot)."""
