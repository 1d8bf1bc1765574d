#!/usr/bin/env bash
# Makes sure PostgreSQL (database `test`, trust auth) and Redis run on 127.0.0.1, installing them when missing.
set -euo pipefail

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  # A fresh install: allow local trust auth and create the test database.
  su postgres -c "psql -Atc \"ALTER USER postgres PASSWORD NULL\"" >/dev/null 2>&1 || true
  su postgres -c "createdb test" 2>/dev/null || true
fi

if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# The inbox's browser tests drive Debian's Chromium (playwright cannot download its own here).
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi

# `docker-compose config` checks docker-compose.yml in the tests (no containers are started).
if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose
fi
