"""`python -m bench.profile FILE [N]`: the top frames of a py-spy collapsed-stack profile, by inclusive share,
grouped by our own modules and by libraries, so a bottleneck's owner is plain."""

from __future__ import annotations

import re
import sys
from collections import Counter

FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:]+)(?::\d+)?\)$")


def _where(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame)
    if not match:
        return frame, frame
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})", path.split("/", 1)[0]


def summarise(path: str, top: int = 40) -> str:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_where(fr) for fr in stack.split(";")[1:]]
            for frame in {name for name, _ in frames}:
                inclusive[frame] += n
            if frames:
                self_time[frames[-1][0]] += n
                packages[frames[-1][1]] += n
    out = [f"{total} samples", "", "self time by package:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in packages.most_common(15)]
    out += ["", "inclusive:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in self_time.most_common(top // 2)]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40))
