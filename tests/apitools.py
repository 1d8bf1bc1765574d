"""An API client for tests: the real app on a real backend, logged in as a shop's employee."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from closer.app import create_app
from core.config import Settings
from sales import accounts
from sales.accounts import hash_password
from storage.db import close_database, open_database
from storage.models import Employee
from tests.dbtools import truncate_all
from tests.factories import Shop, make_shop

PASSWORD = "manager-password"


@cache
def password_hash() -> str:
    """One argon2 hash of PASSWORD for the whole run: each costs ~0.1 s of CPU, and every API test needs one."""
    return hash_password(PASSWORD)


@cache
def _hash_of(password: str) -> str:
    return hash_password(password)


@contextmanager
def _each_password_hashed_once() -> Iterator[None]:
    """Meanwhile a password hashed before in this process is not hashed again: each shop make_api makes costs its
    owner's argon2 hash (0.1-0.4 s of CPU, more on a loaded machine), overwritten with `password_hash()` the moment
    after. The hash stays a real one of the password given, should anything else hash one meanwhile."""
    real = accounts.hashed_password  # an AttributeError, should it be renamed: not a silent slowdown

    async def hashed_once(password: str) -> str:
        return await accounts.off_the_loop(_hash_of, password)

    accounts.hashed_password = hashed_once
    try:
        yield
    finally:
        accounts.hashed_password = real


@dataclass
class Api:
    client: object
    shop: Shop
    other: Shop
    csrf: str = ""

    async def log_in(self, email: str, password: str = PASSWORD) -> str:
        response = await self.client.post("/api/v1/session", json={"email": email, "password": password})
        assert response.status == 200, await response.text()
        self.csrf = (await response.json())["csrf_token"]
        return self.csrf

    async def as_(self, employee: Employee) -> Api:
        await self.log_in(employee.email)
        return self

    def _headers(self) -> dict:
        return {"X-CSRF-Token": self.csrf}

    async def get(self, path: str, **params):
        response = await self.client.get(path, params=params or None)
        return response.status, await response.json()

    async def post(self, path: str, body=None):
        response = await self.client.post(path, json=body if body is not None else {}, headers=self._headers())
        return response.status, await response.json()

    async def patch(self, path: str, body):
        response = await self.client.patch(path, json=body, headers=self._headers())
        return response.status, await response.json()


async def make_api(url: str, aiohttp_client, *, managers: int = 2, settings: dict | None = None) -> Api:
    ctx = await open_database(url)
    await truncate_all()
    with _each_password_hashed_once():
        shop, other = await make_shop(managers=managers), await make_shop(managers=1)
    await Employee.all().update(password_hash=password_hash())
    await close_database(ctx)
    app = create_app(
        Settings(database_url=url, telegram_api_url="http://127.0.0.1:1", **(settings or {})), scheduler=False
    )
    return Api(await aiohttp_client(app), shop, other)
