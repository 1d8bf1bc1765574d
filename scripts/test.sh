#!/usr/bin/env bash
# Sets up everything and runs the whole test suite against real PostgreSQL, Redis and SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/setup.sh
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest --durations=30 "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
