"""Deployment (SPEC §9): the compose file is valid and has the production shape (one published proxy in front of
the app replicas, no credential in the file), and `closer run --workers N` serves from N processes on one port."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from ipaddress import ip_address
from pathlib import Path

import aiohttp
import yaml

from core.config import Settings
from storage.db import migrate
from tests.conftest import redis_database, require_backend
from harness.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
# `${NAME}`, `${NAME:-default}`, `${NAME:?message}`; `$$` is a literal dollar.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}")
CREDENTIAL_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|SMTP_URL", re.IGNORECASE)
URL_PASSWORD = re.compile(r"://[^/:@\s]*:([^@\s]*)@")


def _env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _operator_env() -> dict[str, str]:
    """What an operator's .env holds: every variable of .env.example, the required empty ones filled in."""
    return dict(os.environ) | {name: value or f"example-{name.lower()}" for name, value in _env_example().items()}


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _caddyfile() -> str:
    """deploy/Caddyfile without its comments."""
    return "\n".join(line.split("#", 1)[0].rstrip() for line in CADDYFILE.read_text().splitlines())


def _caddy_blocks(text: str) -> dict[str, str]:
    """The Caddyfile's top-level blocks by their label (a snippet is `(name)`)."""
    lines = text.splitlines()
    blocks: dict[str, str] = {}
    label, body, depth = "", [], 0
    for line in lines:
        if depth == 0 and line.endswith("{"):
            label, body = line[:-1].strip(), []
        elif depth > 0:
            body.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and label:
            blocks[label] = "\n".join(body[:-1])
            label = ""
    return blocks


def _directive_blocks(body: str, directive: str) -> list[str]:
    """Every `directive ... {` block inside a site: its first line is what follows the directive (a matcher, or
    upstreams), then its body, with imported snippets left as `import name`."""
    found, lines = [], body.splitlines()
    for i, line in enumerate(lines):
        words = line.split()
        if words[:1] == [directive] and line.endswith("{"):
            depth, inner = 0, []
            for inner_line in lines[i:]:
                depth += inner_line.count("{") - inner_line.count("}")
                inner.append(inner_line)
                if depth == 0:
                    break
            found.append("\n".join([" ".join(words[1:-1])] + inner[1:-1]))
    return found


def test_docker_compose_accepts_the_file_with_two_app_replicas_and_health_checks():
    compose = shutil.which("docker-compose")
    assert compose, "scripts/services.sh installs docker-compose"
    checked = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env=_operator_env())
    assert checked.returncode == 0, checked.stderr
    config = checked.stdout
    assert "replicas: 2" in config
    for service in ("proxy", "postgres", "redis", "app"):
        assert f"\n  {service}:" in config
    assert config.count("healthcheck:") == 4


def test_docker_compose_refuses_to_start_without_the_database_password():
    compose = shutil.which("docker-compose")
    assert compose, "scripts/services.sh installs docker-compose"
    env = _operator_env() | {"POSTGRES_PASSWORD": ""}
    checked = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env=env)
    assert checked.returncode != 0 and "POSTGRES_PASSWORD" in checked.stderr


def test_only_the_proxy_publishes_ports():
    publishing = [name for name, service in _services().items() if service.get("ports")]
    assert publishing == ["proxy"]


def test_the_app_runs_two_replicas_or_more():
    assert _services()["app"]["deploy"]["replicas"] >= 2


def test_no_credential_is_written_into_the_compose_file():
    def values(node: object, name: str = "") -> list[tuple[str, str]]:
        if isinstance(node, dict):
            return [pair for key, child in node.items() for pair in values(child, str(key))]
        if isinstance(node, list):
            return [pair for child in node for pair in values(child, name)]
        return [(name, str(node))] if node is not None else []

    found = values(yaml.safe_load(COMPOSE.read_text()))
    assert found
    for name, value in found:
        if CREDENTIAL_NAME.search(name):
            assert REFERENCE.fullmatch(value), f"{name} is written into the file"
        for password in URL_PASSWORD.findall(value):
            assert REFERENCE.fullmatch(password), f"{name} carries a password in its URL"


def test_every_variable_the_compose_file_reads_is_in_env_example():
    read = set(VARIABLE.findall(COMPOSE.read_text()))
    assert {"PUBLIC_URL", "POSTGRES_PASSWORD", "BOT_TOKEN"} <= read
    assert read - set(_env_example()) == set()


def test_env_is_ignored_by_git_and_env_example_is_not():
    assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT).returncode == 0
    assert subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT).returncode == 1


def test_the_proxy_spreads_requests_over_every_app_replica():
    blocks = _caddy_blocks(_caddyfile())
    assert "{$PUBLIC_URL}" in blocks
    port = _services()["app"]["environment"]["HTTP_PORT"]
    snippets = {label[1:-1]: body for label, body in blocks.items() if label.startswith("(")}
    proxies = _directive_blocks(blocks["{$PUBLIC_URL}"], "reverse_proxy")
    assert proxies and len(proxies) == len(re.findall(r"^\s*reverse_proxy\b", blocks["{$PUBLIC_URL}"], re.M))
    for proxy in proxies:
        imported = [snippets[line.split()[1]] for line in proxy.splitlines() if line.split()[:1] == ["import"]]
        settings = "\n".join([proxy, *imported])
        # Docker's DNS answers one address per replica of `app`, looked up again and again; a static `app:8080` is
        # one upstream, resolved once.
        assert re.search(rf"^\s*dynamic a app {port} {{", settings, re.MULTILINE), proxy
        matcher, *static = proxy.split("\n", 1)[0].split() or [""]
        assert (matcher == "" or matcher.startswith("@")) and not static, proxy
        assert not re.search(r"^\s*to\s", settings, re.MULTILINE), proxy
        assert re.search(r"^\s*lb_policy \S+", settings, re.MULTILINE), proxy


def test_the_proxy_passes_the_live_websocket_on_to_the_app():
    routes = (ROOT / "inbox" / "routes.py").read_text()
    live_path = re.search(r'add_get\("([^"]+)", live\.websocket\)', routes).group(1)
    site = _caddy_blocks(_caddyfile())["{$PUBLIC_URL}"]
    matchers = {m.group(1): m.group(2) for m in re.finditer(r"^\s*@(\w+) \{\n(.*?)^\s*\}", site, re.M | re.S)}
    upgrade = [name for name, body in matchers.items()
               if re.search(rf"^\s*path {re.escape(live_path)}$", body, re.M)
               and re.search(r"^\s*header Upgrade websocket$", body, re.M)
               and re.search(r"^\s*header Connection \*Upgrade\*$", body, re.M)]
    assert upgrade, f"no matcher for the WebSocket upgrade at {live_path}"
    live = [block for block in _directive_blocks(site, "reverse_proxy") if block.split("\n", 1)[0] == f"@{upgrade[0]}"]
    assert live, "the WebSocket matcher is not proxied"
    # The upgrade goes through only with its hop-by-hop headers, and the socket's origin check needs the real Host.
    assert not re.search(r"header_up\s+-?(Upgrade|Connection|Host)\b", _caddyfile(), re.IGNORECASE)
    assert re.search(r"^\s*stream_close_delay \S+", live[0], re.M)


def test_the_proxy_keeps_metrics_off_the_public_entry():
    site = _caddy_blocks(_caddyfile())["{$PUBLIC_URL}"]
    assert re.search(r"^\s*respond /metrics\*? 404$", site, re.M)


def test_the_app_reads_the_client_address_the_proxy_saw():
    app_env = _services()["app"]["environment"]
    trusted = Settings(trusted_proxies=app_env["TRUSTED_PROXIES"]).trusted_proxies
    # Docker gives compose networks subnets of 172.17.0.0/16 ... 172.31.0.0/16 and 192.168.0.0/20 ... by default.
    for proxy_address in ("172.18.0.5", "172.31.255.2", "192.168.16.3"):
        assert any(ip_address(proxy_address) in network for network in trusted), proxy_address
    # A proxy told to trust nobody replaces the client's X-Forwarded-For instead of appending to a forged one.
    assert "trusted_proxies" not in _caddyfile()


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


async def test_closer_run_with_two_workers_serves_from_two_processes_and_restarts_a_dead_one(database_urls,
                                                                                              redis_url):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "WEBHOOK_BASE_URL")}
    env |= {"DATABASE_URL": url, "REDIS_URL": redis_database(redis_url, 11), "HTTP_PORT": str(port),
            "TELEGRAM_API_URL": "http://127.0.0.1:1", "LOG_LEVEL": "WARNING"}
    parent = subprocess.Popen([sys.executable, "-m", "closer.cli", "run", "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first: list[int] = []
    try:
        async with aiohttp.ClientSession() as http:
            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            # Each worker imports for seconds of CPU; on a loaded machine three processes starting need far more.
            for _ in range(600):
                if await healthy() and len(_children(parent.pid)) == 2:
                    break
                await asyncio.sleep(0.2)
            first = _children(parent.pid)
            assert len(first) == 2
            os.kill(first[0], 9)
            for _ in range(300):
                now = _children(parent.pid)
                if len(now) == 2 and first[0] not in now:
                    break
                await asyncio.sleep(0.2)
            assert len(now) == 2 and first[0] not in now and first[1] in now
            # The survivor may still be importing on a loaded machine; serving again is what counts.
            for _ in range(300):
                if await healthy():
                    break
                await asyncio.sleep(0.2)
            assert await healthy()
    finally:
        seen = set(first) | set(_children(parent.pid))
        parent.terminate()
        parent.wait(timeout=30)
    # Once the parent is gone its orphans would belong to init, so each worker is looked up by its own pid: one left
    # running would serve jobs on the shared test database.
    assert [pid for pid in seen if _alive(pid)] == []


def _alive(pid: int) -> bool:
    found = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return found.stdout.strip() not in ("", "Z")


def test_several_workers_on_sqlite_are_refused():
    env = dict(os.environ) | {"DATABASE_URL": "sqlite://:memory:"}
    run = subprocess.run([sys.executable, "-m", "closer.cli", "run", "--workers", "2"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "PostgreSQL" in run.stderr



async def test_closer_run_freezes_what_it_loaded_so_full_collections_skip_it(tmp_path):
    """Issue 14: a full pass of the garbage collector over aiogram's models and the rest of what was loaded held
    webhooks up for 100-300 ms; `closer run` freezes it once started (gc.freeze), and /metrics says how much."""
    from harness.processes import serve, stop
    from tests.dbtools import fresh_sqlite

    url = await fresh_sqlite(tmp_path / "frozen.db")
    port = free_port()
    app = await serve(url, port, LOG_LEVEL="WARNING")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as page:
            metrics = await page.text()
    finally:
        stop(app)
    frozen = float(re.search(r"^closer_gc_frozen_objects (\S+)$", metrics, re.MULTILINE).group(1))
    assert frozen > 100_000, frozen  # aiogram alone is several hundred thousand objects
