"""The storage floor of benchmark 1 (issue 14): closer's own statements for one customer text update, hand-written
over asyncpg, one transaction per update, behind the same webhook and driven by the same load.

`python -m bench.floor --port P --database URL --secret S --bot-id B --connections 20` serves
`POST /webhooks/telegram/{bot_id}` as closer does (secret token checked, the update stored before the 200), with
nothing of closer's Python in the way: no aiogram, no pydantic, no Tortoise, no Redis. Per update, in one
transaction, the statements closer issues (read from PostgreSQL's statement log of `closer run`, see
bench/results/2026-11-30-profile.md):

1. claim the update id (`telegram_update`; a duplicate is answered 200 and skipped, as closer does);
2. find the sender: a client (by his Telegram id) and, in the same read, whether an active employee has that id;
3. lock his chat (`SELECT … FOR UPDATE`);
4. insert the message;
5. find the recipients (closer's query: open orders' managers, personal manager, chat assignee; active ones), which
   also tells whether the chat's assignee still answers (he is among them exactly when active);
6. move the chat: `last_inbound_message_id`, `last_message_at` (and `status`, `waiting_since` when closer would);
7. the outbox rows closer writes: one `message.to_staff` per recipient and one `chat.event`, same keys and payloads,
   in one INSERT as closer does.

What the floor does not do: a sender that is not a known client with a chat, a chat whose assignee left (closer
routes it anew) are answered 500 and counted as errors, so a run that strays from the everyday update shows it.
closer's process also runs its outbox delivery worker (it marks the rows sent); the floor leaves them pending.
"""

from __future__ import annotations

import argparse
import hmac
import json
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POOL = web.AppKey("pool", asyncpg.Pool)

CLAIM = ('INSERT INTO telegram_update (bot_id, update_id, received_at) VALUES ($1, $2, $3) '
         'ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING id')
# The sender, and whether he is staff, in one read (as sales.clients.telegram_sender for a known customer).
SENDER = ('SELECT c.id, EXISTS (SELECT 1 FROM employee e WHERE e.account_id = $1 AND e.telegram_user_id = $2 '
          'AND e.active) AS staff FROM client c WHERE c.account_id = $1 AND c.telegram_user_id = $2 LIMIT 1')
LOCK_CHAT = ('SELECT id, assignee_id, status, last_message_at, waiting_since FROM chat WHERE client_id = $1 '
             'LIMIT 1 FOR UPDATE')
MESSAGE = ("INSERT INTO message (direction, sender_kind, text, telegram_message_id, created_at, chat_id, employee_id) "
           "VALUES ('in', 'client', $1, $2, $3, $4, NULL) RETURNING id")
MOVE_CHAT = ('UPDATE chat SET last_inbound_message_id = $1, last_message_at = $2, status = $3, waiting_since = $4, '
             'unanswered_alerted_at = CASE WHEN $5 THEN NULL ELSE unanswered_alerted_at END WHERE id = $6')
RECIPIENTS = (
    'SELECT id FROM employee WHERE (id IN (SELECT order_manager_id FROM orders WHERE client_id = $1 '
    "AND status IN ('new', 'awaiting_payment', 'failed')) OR id IN (SELECT personal_manager_id FROM client "
    'WHERE id = $1) OR id IN (SELECT assignee_id FROM chat WHERE client_id = $1)) AND active ORDER BY id'
)
OUTBOX = (
    "INSERT INTO outbox (kind, payload, dedupe_key, status, attempts, available_at, created_at, account_id, "
    "client_id, employee_id) SELECT k, p::jsonb, d, 'pending', 0, $1, $1, $2, $3, e "
    "FROM unnest($4::text[], $5::text[], $6::text[], $7::int[]) AS r(k, p, d, e)"
)


class NotEveryday(Exception):
    """An update outside the floor's path (an unknown sender, no chat yet, an assignee who left)."""


async def store(conn: asyncpg.Connection, *, account_id: int, bot_id: int, update: dict) -> None:
    message = update["message"]
    user_id = message["from"]["id"]
    now = datetime.now(UTC)
    async with conn.transaction():
        if await conn.fetchval(CLAIM, bot_id, update["update_id"], now) is None:
            return  # a resend: skipped, as closer's update-once middleware does
        sender = await conn.fetchrow(SENDER, account_id, user_id)
        if sender is None:
            raise NotEveryday("an unknown customer")
        if sender["staff"]:
            raise NotEveryday("a staff member's message")
        client_id = sender["id"]
        chat = await conn.fetchrow(LOCK_CHAT, client_id)
        if chat is None or chat["assignee_id"] is None:
            raise NotEveryday("a chat to route")
        message_id = await conn.fetchval(MESSAGE, message["text"], message["message_id"], now, chat["id"])
        # Those who answer include the assignee exactly when he is still active (closer reads it once too).
        recipients = [r["id"] for r in await conn.fetch(RECIPIENTS, client_id)]
        if chat["assignee_id"] not in recipients:
            raise NotEveryday("an assignee who left")
        last = chat["last_message_at"]
        waiting = chat["waiting_since"]
        await conn.execute(MOVE_CHAT, message_id, now if last is None or last < now else last, "open",
                           waiting or now, waiting is None, chat["id"])
        event = {"chat_id": chat["id"], "event": "message", "assignee_id": chat["assignee_id"], "status": "open",
                 "audience": {"employee_ids": sorted(recipients), "managers": False}, "message_id": message_id,
                 "direction": "in"}
        kinds = ["message.to_staff"] * len(recipients) + ["chat.event"]
        payloads = [json.dumps({"message_id": message_id})] * len(recipients) + [json.dumps(event)]
        keys = [f"message.to_staff:{message_id}:{e}" for e in recipients] + [f"chat.event:{chat['id']}:message:"
                                                                             f"{message_id}"]
        await conn.execute(OUTBOX, now, account_id, client_id, kinds, payloads, keys, [*recipients, None])


def build_app(database: str, secret: str, bot_id: int, connections: int) -> web.Application:
    app = web.Application()
    state: dict = {}

    async def webhook(request: web.Request) -> web.Response:
        if request.match_info["bot_id"] != str(bot_id):
            return web.json_response({"error": "unknown bot"}, status=404)
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            return web.json_response({"error": "wrong secret"}, status=401)
        try:
            update = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        try:
            async with app[POOL].acquire() as conn:
                await store(conn, account_id=state["account_id"], bot_id=bot_id, update=update)
        except NotEveryday as error:
            return web.json_response({"error": str(error)}, status=500)
        return web.json_response({"ok": True})

    async def pool(app: web.Application):
        app[POOL] = await asyncpg.create_pool(database, min_size=connections, max_size=connections)
        # closer knows its bot's account from memory (its bot registry): so does the floor.
        state["account_id"] = await app[POOL].fetchval("SELECT id FROM account WHERE bot_token LIKE $1",
                                                       f"{bot_id}:%")
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    app.router.add_post("/webhooks/telegram/{bot_id}", webhook)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--bot-id", type=int, required=True)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    web.run_app(build_app(args.database, args.secret, args.bot_id, args.connections), host="127.0.0.1",
                port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
