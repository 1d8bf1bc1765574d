"""A seeded random sample of mutmut's mutants (docs/mutation.md): `python scripts/mutation_sample.py PREFIX N SEED [SKIP]`.

All of `sales/` is about 6,800 mutants, some 15 hours with one child; the score of a uniform random sample estimates
the whole's (a run of the sample's names: `scripts/mutation.sh $(python scripts/mutation_sample.py sales 240 SEED)`).
The names are read from the `mutants/` tree mutmut generates (`mutants/<package>/*.py.meta`), so run `mutmut run`
once first (any name: it generates every mutant, then runs those asked for). SKIP leaves out the first SKIP names of
the same shuffled order, so a second sample with the same seed never repeats the first.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def names(prefix: str, root: Path = Path("mutants")) -> list[str]:
    found: list[str] = []
    for meta in sorted((root / prefix.replace(".", "/")).rglob("*.meta")):
        found.extend(json.loads(meta.read_text())["exit_code_by_key"])
    return sorted(found)


def sample(prefix: str, count: int, seed: int, skip: int = 0) -> list[str]:
    every = names(prefix)
    return random.Random(seed).sample(every, min(len(every), skip + count))[skip:]


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    print("\n".join(sample(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else 0)))
