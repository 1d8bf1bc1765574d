"""Starting closer's processes and the Telegram emulator for tests and benchmarks (not shipped)."""
