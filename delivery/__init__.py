"""The delivery worker: sends what the rules wrote to the outbox (Telegram now; live events and e-mail join it)."""
