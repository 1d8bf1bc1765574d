"""`closer demo` (the README's first command): it starts on the embedded default and a person can talk to the bot."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiohttp
from aiohttp.test_utils import unused_port


async def _wait_for_line(stream: asyncio.StreamReader, needle: str, timeout: float) -> list[str]:
    lines: list[str] = []

    async def read() -> None:
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("closer demo ended early:\n" + "".join(lines))
            lines.append(line)
            if needle in line:
                return

    await asyncio.wait_for(read(), timeout)
    return lines


async def test_closer_demo_serves_the_bot_through_the_emulated_telegram(tmp_path):
    port = unused_port()
    while port + 1 > 65535:
        port = unused_port()
    env = {**os.environ, "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "closer.cli", "demo", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        lines = await _wait_for_line(demo.stdout, "login:", timeout=120)
        banner = "".join(lines)
        assert f"http://127.0.0.1:{port + 1}/" in banner and "owner@demo.closer" in banner
        emulator = f"http://127.0.0.1:{port + 1}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                assert health.status == 200
            async with http.get(f"{emulator}/") as page:
                assert "Telegram stand-in" in await page.text()
            async with http.post(f"{emulator}/_emulator/send", json={"user_id": 1001, "text": "Can I pay next week?"}):
                pass
            forwarded = []
            for _ in range(100):
                async with http.get(f"{emulator}/_emulator/transcript", params={"user_id": "2001"}) as response:
                    forwarded = [m.get("text", "") for m in (await response.json())["messages"]]
                if any("Can I pay next week?" in t for t in forwarded):
                    break
                await asyncio.sleep(0.1)
            assert any("Can I pay next week?" in t and "Anna" in t for t in forwarded), json.dumps(forwarded)
        # The printed login opens the inbox, where every tab has something to show.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            base = f"http://127.0.0.1:{port}"
            async with browser.post(f"{base}/api/v1/session",
                                    json={"email": "owner@demo.closer", "password": "demo-password"}) as response:
                assert response.status == 200
            async with browser.get(f"{base}/api/v1/important") as response:
                assert [i["client"]["name"] for i in (await response.json())["items"]] == ["Petro Client"]
            async with browser.get(f"{base}/api/v1/chats", params={"tab": "unassigned"}) as response:
                assert [c["client"]["name"] for c in (await response.json())["items"]] == ["Olha Lead"]
            async with browser.get(f"{base}/api/v1/chats", params={"tab": "all"}) as response:
                chats = {c["client"]["name"]: c for c in (await response.json())["items"]}
            assert chats["Taras Lead"]["assignee"] is not None and chats["Taras Lead"]["unread"] == 1
            # The demo makes a payment fail as a provider would: Anna joins the owner's Important tab.
            async with browser.get(f"{base}/api/v1/session") as response:
                csrf = (await response.json())["csrf_token"]
            async with browser.get(f"{base}/api/v1/orders") as response:
                orders = (await response.json())["items"]
            anna_order = next(o for o in orders if o["client"]["name"] == "Anna Client")
            async with browser.post(f"{base}/api/v1/demo/orders/{anna_order['id']}/fail-payment", json={},
                                    headers={"X-CSRF-Token": csrf}) as response:
                assert response.status == 200, await response.text()
            async with browser.get(f"{base}/api/v1/important") as response:
                assert sorted(i["client"]["name"] for i in (await response.json())["items"]) == [
                    "Anna Client", "Petro Client"]
            async with browser.get(f"{base}/inbox/") as response:
                assert response.status == 200 and "Important" in await response.text()
        assert (tmp_path / "closer-demo.db").exists()
    finally:
        demo.terminate()
        await asyncio.wait_for(demo.wait(), timeout=30)


async def _failable_order(api):
    from sales.orders import create_order
    from tests.factories import new_client

    client = await new_client(api.shop, name="Demo buyer")
    return await create_order(api.shop.account.id, client_id=client.id, offer_id=api.shop.flagged_offer.id)


async def test_the_demo_lets_owner_and_admins_make_a_payment_fail(database_urls, aiohttp_client):
    from storage.models import Order, PaymentEvent
    from tests.apitools import make_api
    from tests.conftest import require_backend

    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client, settings={"demo": True})
    order = await _failable_order(api)
    await api.as_(api.shop.managers[0])
    assert (await api.post(f"/api/v1/demo/orders/{order.id}/fail-payment", {}))[0] == 403
    await api.as_(api.other.owner)
    assert (await api.post(f"/api/v1/demo/orders/{order.id}/fail-payment", {}))[0] == 404
    await api.as_(api.shop.admin)
    status, body = await api.post(f"/api/v1/demo/orders/{order.id}/fail-payment", {"reason": "insufficient_funds"})
    assert status == 200 and body == {"order_id": order.id, "effect": "applied"}
    assert (await Order.get(id=order.id)).status == "failed"
    assert await PaymentEvent.filter(order_id=order.id, provider="demo", reason="insufficient_funds").count() == 1
    assert (await api.get("/api/v1/session"))[1]["demo"] is True


async def test_outside_the_demo_nothing_can_make_a_payment_fail(database_urls, aiohttp_client):
    from tests.apitools import make_api
    from tests.conftest import require_backend

    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    order = await _failable_order(api)
    await api.as_(api.shop.owner)
    assert (await api.post(f"/api/v1/demo/orders/{order.id}/fail-payment", {}))[0] == 404
    assert (await api.get("/api/v1/session"))[1]["demo"] is False


def test_a_demo_variable_in_the_environment_does_not_switch_the_demo_on(monkeypatch):
    from closer.cli import load_settings
    from core.config import Settings

    monkeypatch.setenv("DEMO", "true")
    assert Settings().demo is True  # the variable is read: only the command line's settings ignore it
    assert load_settings().demo is False
