#!/usr/bin/env bash
# Sets up closer and runs it on the embedded default: SQLite, no Redis, one process, a seeded demo account.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/closer demo "$@"
