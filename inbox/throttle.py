"""Log-in throttling (SPEC §7): per address and per e-mail, the same for every process of the deployment.

Wrong passwords are counted over a sliding window (`LOGIN_WINDOW_SECONDS`, 15 minutes by default):

- an address with `LOGIN_FAILURES_PER_ADDRESS` failures (20), whatever e-mails they were for, is refused outright;
- an e-mail with `LOGIN_FAILURES_PER_EMAIL` failures (5), from whatever addresses, is locked: every wrong guess at it
  is answered 429, and an address with failures of its own is refused before its password is even checked. A correct
  password from an address without failures still logs in, so whoever locked the e-mail cannot lock its owner out;
- a successful log-in forgives the failures its own address made for that e-mail (its owner's typos).

E-mails are counted as typed (trimmed, lower-cased), whether anybody has them or not, so a lock says nothing about
which e-mails exist. The counts live in Redis when there is one; without Redis, or while it errs or hangs, in the
database (`login_failure`): Redis is never needed to log in. Failures counted in one store while the other was in use
are not seen by the other, so around an outage an attacker may get up to twice the limits, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from sales.clock import utcnow
from sales.errors import DomainError
from storage.models import LoginFailure
from storage.redis import REDIS_FAILURES, RedisFallback

log = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


def email_key(email: str) -> str:
    """What failures are counted under: a digest of the e-mail as typed, so none is kept in the clear."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------- addresses


def _parse(text: str | None) -> Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # 203.0.113.7:5678
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def address_key(address: Address) -> str:
    """IPv4 addresses count one by one; IPv6 ones by their /64, since anybody gets a whole /64 to hop around in."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Iterable[Network]) -> str:
    """Who is calling: the peer, unless the peer is a trusted proxy; then the right-most X-Forwarded-For entry that is
    not a trusted proxy (each proxy appends the address it saw, so entries left of that are the caller's say-so)."""
    proxies = tuple(trusted_proxies)
    address = _parse(peer)
    if address is None:
        return (peer or "unknown")[:64]
    if proxies and _trusted(address, proxies):
        hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
        for hop in reversed(hops):
            parsed = _parse(hop)
            if parsed is None:  # not an address where a trusted proxy wrote one: believe nothing further left
                break
            address = parsed
            if not _trusted(parsed, proxies):
                break
    return address_key(address)


def request_address(request: web.Request, trusted_proxies: Iterable[Network]) -> str:
    return client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted_proxies)


# ------------------------------------------------------------------------------------------------------------- stores


class DatabaseFailures:
    """One `login_failure` row per wrong password; rows older than the window go as new ones come."""

    PURGE_BATCH = 100

    async def counts(self, address: str, key: str, since: datetime) -> tuple[int, int]:
        by_address = await LoginFailure.filter(address=address, failed_at__gt=since).count()
        by_email = await LoginFailure.filter(email_key=key, failed_at__gt=since).count()
        return by_address, by_email

    async def add(self, address: str, key: str, at: datetime, window: timedelta) -> None:
        await LoginFailure.create(address=address, email_key=key, failed_at=at)
        # A bounded batch, skipping rows another log-in is deleting: concurrent failures never wait on (or deadlock
        # over) the same old rows, and after a flood of failures no single log-in deletes them all.
        async with in_transaction():
            # (`only`, not `values_list`: Tortoise drops FOR UPDATE from a values query.)
            old = await (LoginFailure.filter(failed_at__lte=at - window).order_by("id").limit(self.PURGE_BATCH)
                         .select_for_update(skip_locked=True).only("id"))
            if old:
                await LoginFailure.filter(id__in=[row.id for row in old]).delete()

    async def forgive(self, address: str, key: str) -> None:
        await LoginFailure.filter(address=address, email_key=key).delete()


class RedisFailures:
    """Sorted sets of failure ids scored by time: one per address, one per e-mail, one per (address, e-mail) pair so
    that a success can take its own address's failures out of the other two."""

    def __init__(self, redis: Redis, prefix: str = "closer:login") -> None:
        self.redis, self.prefix = redis, prefix

    def _keys(self, address: str, key: str) -> tuple[str, str, str]:
        p = self.prefix
        return f"{p}:address:{address}", f"{p}:email:{key}", f"{p}:pair:{address}:{key}"

    async def counts(self, address: str, key: str, since: datetime) -> tuple[int, int]:
        by_address, by_email, _ = self._keys(address, key)
        low = f"({since.timestamp()}"
        async with self.redis.pipeline(transaction=False) as pipe:
            a, e = await pipe.zcount(by_address, low, "+inf").zcount(by_email, low, "+inf").execute()
        return int(a), int(e)

    async def add(self, address: str, key: str, at: datetime, window: timedelta) -> None:
        score, cutoff = at.timestamp(), (at - window).timestamp()
        member = f"{score:.6f}:{secrets.token_hex(6)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            for name in self._keys(address, key):
                pipe.zadd(name, {member: score}).zremrangebyscore(name, "-inf", cutoff)
                pipe.expire(name, int(window.total_seconds()) + 1)
            await pipe.execute()

    async def forgive(self, address: str, key: str) -> None:
        by_address, by_email, pair = self._keys(address, key)
        members = await self.redis.zrange(pair, 0, -1)
        async with self.redis.pipeline(transaction=True) as pipe:
            if members:
                pipe.zrem(by_address, *members).zrem(by_email, *members)
            await pipe.delete(pair).execute()


# ----------------------------------------------------------------------------------------------------------- throttle


@dataclass(frozen=True)
class Admission:
    # The e-mail is locked: the caller's password is checked (his address has no failures) but a wrong one is a 429.
    email_locked: bool


class LoginThrottle:
    # Redis gets this long per call before the database counts instead; after a failure it is left alone this long.
    REDIS_TIMEOUT = 1.0
    REDIS_RETRY_SECONDS = 5.0

    def __init__(
        self,
        redis: Redis | None = None,
        *,
        per_address: int = 20,
        per_email: int = 5,
        window_seconds: int = 900,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.per_address, self.per_email = per_address, per_email
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock
        self.database = DatabaseFailures()
        self.redis = RedisFailures(redis) if redis is not None else None
        self.redis_state = RedisFallback("login throttle", "failures counted in the database",
                                         retry_seconds=self.REDIS_RETRY_SECONDS)

    def _refused(self) -> TooManyAttempts:
        minutes = max(1, round(self.window.total_seconds() / 60))
        return TooManyAttempts("too many failed log-ins; try again in {minutes} minutes", field="password",
                               minutes=minutes)

    async def _use(self, operation: str, *args: object):
        if self.redis is not None and self.redis_state.worth_trying():
            try:
                async with asyncio.timeout(self.REDIS_TIMEOUT):
                    result = await getattr(self.redis, operation)(*args)
            except REDIS_FAILURES as error:
                self.redis_state.failed(error)
            else:
                self.redis_state.answered()
                return result
        return await getattr(self.database, operation)(*args)

    async def admit(self, address: str, email: str) -> Admission:
        """Before the password is checked: refuse a capped address, and an address with failures of its own when
        the e-mail is locked."""
        by_address, by_email = await self._use("counts", address, email_key(email), self.clock() - self.window)
        locked = by_email >= self.per_email
        if by_address >= self.per_address or (locked and by_address > 0):
            raise self._refused()
        return Admission(email_locked=locked)

    async def failed(self, address: str, email: str, admission: Admission) -> TooManyAttempts | None:
        """Count a wrong password; returns the 429 to answer instead of 403 when the e-mail is locked."""
        await self._use("add", address, email_key(email), self.clock(), self.window)
        return self._refused() if admission.email_locked else None

    async def succeeded(self, address: str, email: str) -> None:
        await self._use("forgive", address, email_key(email))


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
