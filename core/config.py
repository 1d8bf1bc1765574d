"""Settings from the environment (SPEC §8). Nothing else in closer reads os.environ."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    delivery_lease_seconds: int = Field(default=15, ge=1, le=3600)
    # How often the auto-detach sweep runs, in seconds (SPEC §1.3).
    detach_sweep_seconds: int = Field(default=60, ge=1)
    # How often unanswered clients (SPEC §10.5) and snoozed chats are looked at, in seconds.
    conversation_sweep_seconds: int = Field(default=30, ge=1)
    # Housekeeping (SPEC §7): sent outbox rows, job runs, used invites… are purged after this many days (Telegram
    # update claims after at least 48 h, expired sessions at once); the job runs this often, in seconds.
    retention_days: int = Field(default=7, ge=1)
    housekeeping_seconds: int = Field(default=3600, ge=1)
    # Files (SPEC §11.1), relative to the working directory unless absolute: uploads waiting to be sent (kept) and
    # copies fetched from Telegram (a cache of at most FILES_CACHE_MB megabytes, the least recently viewed leave
    # first). Every process of a deployment needs the same directory (a shared volume).
    files_dir: Path = Path("closer-files")
    files_cache_mb: int = Field(default=1024, ge=1)
    # An employee's upload stays on disk this many days after Telegram has it; then it is fetched back when viewed.
    files_uploads_keep_days: int = Field(default=30, ge=1)
    log_level: str = "INFO"
    # Set by `closer demo` only: owner and admins may make an order's payment fail from the inbox.
    demo: bool = False
    # Log-in throttle (SPEC §7): wrong passwords counted over a sliding window, in Redis or else the database. An
    # address with this many failures (for any e-mails) is refused; an e-mail with this many (from any addresses)
    # refuses further wrong guesses, while a correct password from an address with no failures still logs in.
    login_window_seconds: int = Field(default=900, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_failures_per_email: int = Field(default=5, ge=1)
    # Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed: behind them a caller's
    # address is the right-most X-Forwarded-For entry that is not one of them. Empty: the peer address, always.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    @field_validator("redis_url", "webhook_base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        try:
            return tuple(ip_network(str(part), strict=False) for part in value)  # type: ignore[union-attr]
        except (TypeError, ValueError) as error:
            raise ValueError(f"TRUSTED_PROXIES is a comma-separated list of IP addresses or networks: {error}") from None

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def telegram_webhook_base(self) -> str | None:
        """Where Telegram posts updates, or None to long-poll: WEBHOOK_BASE_URL if set, else PUBLIC_URL when it is
        https (Telegram calls webhooks over https only, so an http public address means polling)."""
        if self.webhook_base_url:
            return self.webhook_base_url.rstrip("/")
        return self.public_url if self.public_url.startswith("https://") else None
