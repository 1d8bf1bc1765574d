#!/usr/bin/env bash
# Sets up (PostgreSQL, Redis, .venv) and runs every benchmark; figures go to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/setup.sh
exec .venv/bin/python -m bench "$@"
