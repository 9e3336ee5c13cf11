"""Benchmark credential redaction (tools/redact.py) on the demo fleet's recorded objects, as
LiveCluster and the snapshot recorder run it on every object they read. Not run by the tests.

    python benchmarks/bench_redact.py          # every object of every demo cluster, 5 rounds
    python benchmarks/bench_redact.py 20       # more rounds

Prints objects, megabytes of YAML they came from, the first (cold) round's and the later (warm: repeated
names and images are remembered) rounds' objects per second. detect-secrets' detectors made redaction
about 3x slower than key-name rules alone (issue 19); a live read is bound by the API server's paging,
far below these rates.
"""

from __future__ import annotations

import sys
import time

from upgradectl.tools import yamlio
from upgradectl.tools.cluster.fleet import demo_fleet_path
from upgradectl.tools.redact import redact


def main(rounds: int = 5) -> None:
    files = sorted((demo_fleet_path().parent / "clusters").glob("*/resources/**/*.yaml"))
    objects = [item for file in files for item in (yamlio.load(file.read_text()) or {}).get("items") or []]
    size = sum(f.stat().st_size for f in files) / 1e6
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for obj in objects:
            redact(obj)
        timings.append(time.perf_counter() - started)
    warm = sum(timings[1:]) / max(len(timings) - 1, 1)
    print(f"{len(objects)} objects ({size:.1f} MB of YAML) from {len(files)} lists")
    print(f"cold: {timings[0]:.3f} s ({len(objects) / timings[0]:,.0f} objects/s)")
    print(f"warm: {warm:.3f} s ({len(objects) / warm:,.0f} objects/s, mean of {rounds - 1} rounds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    sys.exit(0)
