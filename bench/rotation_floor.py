"""The storage floor of benchmark 4 (issue 14): what `sales.orders.create_order` does to the database for one order,
hand-written over asyncpg, one transaction per order; run by `python -m bench.rotation floor …` in place of closer's
worker (same clients, same start signal, same 4 processes, one order at a time in each).

Per order, in one transaction, the statements closer issues (read from Tortoise's statement log):
the client locked (`SELECT … FOR UPDATE`; his personal manager copied onto the order), the offer and the widget in
the account; the widget's managers less its exclusions; sticky: his chat's assignee and his latest earlier order's
manager; the widget's rotation pointer locked (`SELECT … FOR UPDATE`) and moved; the order inserted with its manager
(closer inserts, then updates it); its audit row; its outbox rows (the manager's ping and the widget's e-mail).

The floor follows the everyday branch only (no capacities set, a manager eligible): anything else raises, so a run
that strays from it fails loudly rather than measuring something else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.common import timed_after_signal

CLIENT = 'SELECT personal_manager_id FROM client WHERE id = $1 AND account_id = $2 FOR UPDATE'
OFFER = 'SELECT price, currency, active FROM offer WHERE id = $1 AND account_id = $2'
WIDGET = 'SELECT notification_emails FROM widget WHERE id = $1 AND account_id = $2'
CANDIDATES = (
    "SELECT e.id, e.active, e.away, e.capacity, "
    "EXISTS (SELECT 1 FROM widget_exclusion x WHERE x.widget_id = $2 AND x.employee_id = e.id) AS excluded "
    "FROM employee e WHERE e.account_id = $1 AND e.role = 'manager' ORDER BY e.id"
)
STICKY = (
    "SELECT (SELECT assignee_id FROM chat WHERE client_id = $1) AS assignee, "
    "(SELECT order_manager_id FROM orders WHERE client_id = $1 AND order_manager_id IS NOT NULL "
    "ORDER BY created_at DESC, id DESC LIMIT 1) AS previous"
)
POINTER = 'SELECT id, last_employee_id FROM rotation_state WHERE widget_id = $1 FOR UPDATE'
MOVE = 'UPDATE rotation_state SET last_employee_id = $1, updated_at = $2 WHERE id = $3'
ORDER = (
    "INSERT INTO orders (status, amount, currency, assigned_at, customer_info, created_at, updated_at, account_id, "
    "client_id, offer_id, order_manager_id, personal_manager_id, widget_id) "
    "VALUES ('new', $1, $2, $3, '', $3, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
)
AUDIT = (
    "INSERT INTO assignment_log (target, reason, created_at, account_id, order_id, to_employee_id) "
    "VALUES ('order', $1, $2, $3, $4, $5) RETURNING id"
)
OUTBOX = (
    "INSERT INTO outbox (kind, payload, dedupe_key, status, attempts, available_at, created_at, account_id, "
    "employee_id) SELECT k, p::jsonb, d, 'pending', 0, $1, $1, $2, e "
    "FROM unnest($3::text[], $4::text[], $5::text[], $6::int[]) AS r(k, p, d, e)"
)


class NotEveryday(Exception):
    pass


async def create_order(conn: asyncpg.Connection, account_id: int, client_id: int, offer_id: int,
                       widget_id: int) -> int:
    now = datetime.now(UTC)
    async with conn.transaction():
        personal = await conn.fetchrow(CLIENT, client_id, account_id)
        offer = await conn.fetchrow(OFFER, offer_id, account_id)
        emails = await conn.fetchval(WIDGET, widget_id, account_id)
        if personal is None or offer is None or not offer["active"] or emails is None:
            raise NotEveryday("no such client, offer or widget")
        candidates = await conn.fetch(CANDIDATES, account_id, widget_id)
        if any(c["capacity"] is not None for c in candidates):
            raise NotEveryday("capacities: not the floor's branch")
        pool = [c["id"] for c in candidates if c["active"] and not c["away"] and not c["excluded"]]
        sticky = await conn.fetchrow(STICKY, client_id)
        keeper = next((k for k in (sticky["assignee"], sticky["previous"]) if k is not None and k in pool), None)
        if keeper is not None:
            manager, reason = keeper, "sticky"
        else:
            pointer = await conn.fetchrow(POINTER, widget_id)
            if not pool:
                raise NotEveryday("nobody eligible")
            last = pointer["last_employee_id"]
            manager = next((i for i in pool if last is not None and i > last), pool[0])
            reason = "rotation"
            await conn.execute(MOVE, manager, now, pointer["id"])
        order_id = await conn.fetchval(ORDER, offer["price"], offer["currency"], now, account_id, client_id,
                                       offer_id, manager, personal["personal_manager_id"], widget_id)
        log_id = await conn.fetchval(AUDIT, reason, now, account_id, order_id, manager)
        kinds, payloads, keys, employees = ["order.assigned"], [json.dumps({"order_id": order_id, "reason": reason})], \
            [f"order.assigned:{log_id}"], [manager]
        if emails:
            kinds.append("order.created_email")
            payloads.append(json.dumps({"order_id": order_id, "order_manager_id": manager, "to": list(emails)}))
            keys.append(f"order.created_email:{order_id}")
            employees.append(None)
        await conn.execute(OUTBOX, now, account_id, kinds, payloads, keys, employees)
    return order_id


async def worker(url: str, account_id: int, offer_id: int, widget_id: int, count: int, prefix: str,
                 start: Path) -> dict:
    conn = await asyncpg.connect(url)
    # notification_emails is a JSON column: decoded, as closer's model reads it.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        ids = await conn.fetch(
            "INSERT INTO client (email, name, phone, notes, language, unreachable, created_at, account_id) "
            "SELECT $2 || '-' || i || '@rotation.bench', '', '', '', 'en', false, now(), $1 "
            "FROM generate_series(0, $3 - 1) AS i RETURNING id", account_id, prefix, count)
        ids = sorted(r["id"] for r in ids)
        return await timed_after_signal(
            ids, start, lambda client_id: create_order(conn, account_id, client_id, offer_id, widget_id))
    finally:
        await conn.close()
