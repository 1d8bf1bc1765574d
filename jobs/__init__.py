"""Scheduled work (APScheduler ticks) that calls the rules of `sales`; each tick runs once across processes."""
