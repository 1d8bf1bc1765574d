"""Hand-written statements (storage/sql.py) behave the same on PostgreSQL and SQLite: a write carried along with the
next statement is written with it, a join's models come back whole or as None, and SQLite's spelling has no row
locks."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from storage import sql
from storage.models import Offer, Widget
from tests.factories import make_shop, new_client

_TOUCH = sql.Statement("UPDATE offer SET title = $2 WHERE id = $1")
_CLIENT_NAME = sql.Statement("SELECT name FROM client WHERE id = $1 AND account_id = $2")
_BROKEN_INSERT = sql.Statement("INSERT INTO offer (id) VALUES ($1) RETURNING id")
_JOINED = sql.Statement(
    "SELECT c.id AS client_id, {offer}, {widget} FROM client c "
    "LEFT JOIN offer o ON o.id = $2 AND o.account_id = c.account_id "
    "LEFT JOIN widget w ON w.id = $3 AND w.account_id = c.account_id WHERE c.id = $1 FOR UPDATE OF c"
)


def test_sqlite_spelling_numbers_its_values_and_drops_row_locks():
    locked = sql.Statement("SELECT 1 FROM client c JOIN offer o ON o.id = $2 WHERE c.id = $1 FOR UPDATE OF c")
    assert locked.sqlite == "SELECT 1 FROM client c JOIN offer o ON o.id = ?2 WHERE c.id = ?1"
    assert sql.Statement("SELECT 1 FROM client WHERE id = $1 FOR UPDATE").sqlite == "SELECT 1 FROM client WHERE id = ?1"


async def test_a_carried_write_is_written_with_the_next_statement(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop, name="Ann")
    async with in_transaction():
        row = await sql.first(_CLIENT_NAME, client.id, shop.account.id,
                              along=sql.Write(_TOUCH, (shop.offer.id, "Renamed with the read")))
    assert row["name"] == "Ann"
    assert (await Offer.get(id=shop.offer.id)).title == "Renamed with the read"


async def test_a_carried_write_is_undone_with_a_statement_that_fails(db):
    shop = await make_shop(managers=1)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await sql.first(_BROKEN_INSERT, shop.offer.id, along=sql.Write(_TOUCH, (shop.offer.id, "Lost")))
    assert (await Offer.get(id=shop.offer.id)).title == "Course"


async def test_a_write_cannot_be_carried_before_a_statement_with_its_own_with(db):
    shop = await make_shop(managers=1)
    nested = sql.Statement("WITH o AS (SELECT id FROM offer WHERE id = $1) SELECT id FROM o")
    with pytest.raises(ValueError):
        await sql.first(nested, shop.offer.id, along=sql.Write(_TOUCH, (shop.offer.id, "Never")))
    assert (await Offer.get(id=shop.offer.id)).title == "Course"


async def test_the_models_of_a_join_come_back_whole_or_as_none(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    joined = sql.Statement(_JOINED.postgres.format(offer=sql.columns_of(Offer, "o"),
                                                   widget=sql.columns_of(Widget, "w")))
    async with in_transaction():
        row = await sql.first(joined, client.id, shop.offer.id, shop.widget.id + 1000)
    offer = sql.part(Offer, row, "o")
    assert (offer.id, offer.account_id, offer.title, offer.price, offer.active) == (
        shop.offer.id, shop.account.id, "Course", shop.offer.price, True)
    assert sql.part(Widget, row, "w") is None
    assert row["client_id"] == client.id
