#!/usr/bin/env bash
# Makes sure PostgreSQL (database `test`, trust auth) and Redis run on 127.0.0.1, installing them when missing, and
# that Chromium and docker-compose are there. Exits non-zero, naming what is missing, when any of them cannot be had:
# the test suite must not start without them and pass having checked less.
# PG_PORT and REDIS_PORT (defaults 5432 and 6379) say where to look; WAIT_SECONDS (30) how long a service may take.
set -euo pipefail

PG_PORT="${PG_PORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
WAIT_SECONDS="${WAIT_SECONDS:-30}"
missing=()

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq || return 1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; }
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql || true
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_ready; then
  # Already running on another port, or failing to start: the check below says so.
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>/dev/null || true
  for _ in $(seq 1 "$WAIT_SECONDS"); do pg_ready && break; sleep 1; done
fi
if pg_ready && ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  # A fresh install: allow local trust auth and create the test database.
  su postgres -c "psql -p $PG_PORT -Atc \"ALTER USER postgres PASSWORD NULL\"" >/dev/null 2>&1 || true
  su postgres -c "createdb -p $PG_PORT test" 2>/dev/null || true
fi
if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  missing+=("PostgreSQL: no database \`test\` answering at 127.0.0.1:$PG_PORT as user postgres")
fi

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; }
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server || true
fi
if command -v redis-server >/dev/null 2>&1 && ! redis_ready; then
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null || true
  for _ in $(seq 1 "$WAIT_SECONDS"); do redis_ready && break; sleep 1; done
fi
if ! redis_ready; then
  missing+=("Redis: nothing answers PING at 127.0.0.1:$REDIS_PORT")
fi

# The inbox's browser tests drive Debian's Chromium (playwright cannot download its own here).
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium || true
fi
if ! command -v chromium >/dev/null 2>&1; then
  missing+=("Chromium: no \`chromium\` on PATH (apt-get install chromium)")
fi

# `docker-compose config` checks docker-compose.yml in the tests (no containers are started).
if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose || true
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  missing+=("docker-compose: not on PATH (apt-get install docker-compose)")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "scripts/services.sh: the tests need these and they could not be had:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
