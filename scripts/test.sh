#!/usr/bin/env bash
# Sets up everything and runs the whole test suite against real PostgreSQL, Redis and SQLite.
# Most tests run in two processes at once (pytest-xdist: each has its own databases, Redis server and ports); the
# tests marked `alone` (wall-clock figures, several app processes) run afterwards with the machine to themselves.
# Arguments go to both runs (e.g. `./scripts/test.sh tests/test_pacing.py -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/setup.sh
.venv/bin/ruff check .
workers="${TEST_WORKERS:-2}"
set +e
.venv/bin/python -m pytest -n "$workers" -m "not alone" --durations=30 "$@"
shared=$?
.venv/bin/python -m pytest -p no:xdist -m alone --durations=15 "$@"
alone=$?
set -e
# pytest's 5 is "collected nothing": one part may select nothing for a chosen file, the whole may not.
if [ "$shared" = 5 ] && [ "$alone" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
for status in "$shared" "$alone"; do
  if [ "$status" != 0 ] && [ "$status" != 5 ]; then
    echo "tests failed (in parallel: exit $shared; alone: exit $alone)" >&2
    exit "$status"
  fi
done
echo "tests passed (in parallel: exit $shared; alone: exit $alone)"
