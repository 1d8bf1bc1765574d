#!/usr/bin/env bash
# Mutation testing (issue 17; docs/mutation.md): mutmut 3 mutates the rules (sales/), the API's authentication
# (inbox/auth.py), the webhook signatures (providers/signatures.py) and the delivery worker, and runs for each mutant
# the in-process tests that reach it, on SQLite. Configured in pyproject.toml under [tool.mutmut]. Not part of the
# test command: it takes hours for everything. Arguments go to `mutmut run`, e.g. a subset of mutant names:
#   scripts/mutation.sh 'providers.signatures*'
# Afterwards: .venv/bin/mutmut results (survivors), .venv/bin/mutmut show NAME (one mutant's diff).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
.venv/bin/python -m pip install -q "mutmut>=3.8,<4"
export CLOSER_TESTS_WITHOUT_POSTGRES=1
.venv/bin/mutmut run --max-children "${MUTATION_CHILDREN:-2}" "$@"
.venv/bin/mutmut results
