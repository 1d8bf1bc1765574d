"""The README's test command starts with scripts/services.sh: without PostgreSQL it stops, naming it, instead of letting
the suite run (and pass) on less."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def _services(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/services.sh"], cwd=ROOT, env={**os.environ, "WAIT_SECONDS": "1", **env},
                          capture_output=True, text=True, timeout=120)


def test_services_pass_when_postgres_redis_and_chromium_are_there():
    done = _services()
    assert done.returncode == 0, done.stderr


def test_services_fail_loudly_naming_postgres_when_it_cannot_be_reached():
    done = _services(PG_PORT=str(free_port()))
    assert done.returncode != 0
    assert "PostgreSQL" in done.stderr and "Redis" not in done.stderr
