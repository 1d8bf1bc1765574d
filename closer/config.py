"""Settings from the environment (SPEC §8). Nothing else in closer reads os.environ."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = "sqlite://closer.db"
    redis_url: str | None = None
    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    public_url: str = "http://127.0.0.1:8080"
    webhook_base_url: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    # With a secret key, a bot order gets a Stripe Checkout page instead of a Telegram invoice.
    stripe_secret_key: SecretStr | None = None
    stripe_api_url: str = "https://api.stripe.com"
    payments_webhook_secret: SecretStr | None = None
    # LiqPay's merchant private key (SPEC §5.5): it signs the callbacks.
    liqpay_private_key: SecretStr | None = None
    smtp_url: SecretStr | None = None
    # The From address of notification e-mails.
    mail_from: str = "closer@localhost"
    # Telegram Payments' provider token for invoices (empty works for Telegram Stars and for the emulator).
    telegram_provider_token: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)

    # false: this process serves HTTP only and leaves the outbox to the others (e.g. a web-only replica).
    delivery_worker: bool = True
    # How long a delivery worker holds a claimed outbox row; a crashed worker's rows are sent again after it.
    delivery_lease_seconds: int = Field(default=60, ge=1, le=3600)
    # How often the auto-detach sweep runs, in seconds (SPEC §1.3).
    detach_sweep_seconds: int = Field(default=60, ge=1)
    # How often unanswered clients (SPEC §10.5) and snoozed chats are looked at, in seconds.
    conversation_sweep_seconds: int = Field(default=30, ge=1)
    log_level: str = "INFO"
    # Set by `closer demo` only: owner and admins may make an order's payment fail from the inbox.
    demo: bool = False

    @field_validator("redis_url", "webhook_base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
