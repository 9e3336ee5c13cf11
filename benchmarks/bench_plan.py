"""Time `upgradectl plan` on the demo fleet as a user runs it (a fresh process each time, no network,
no API key). Target from issue 2: under 10 s wall on a 2-core machine.

    python benchmarks/bench_plan.py [--runs 3] [--tool karpenter]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REQUEST = "Karpenter needs upgrade for better bin packing and cost optimization"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tool", default="")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("upgradectl")
    cmd = [
        str(exe),
        "plan",
        *(["--tool", args.tool] if args.tool else [REQUEST]),
        "--fleet",
        "demo",
        "--format",
        "json",
    ]
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
        if result.returncode not in (0, 1):
            sys.exit(f"plan failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"plan on the demo fleet: median {statistics.median(times):.2f}s wall, min {min(times):.2f}s, "
        f"max {max(times):.2f}s over {args.runs} runs; "
        f"CPU per run {(child.ru_utime + child.ru_stime) / args.runs:.2f}s; "
        f"peak RSS {child.ru_maxrss / 1024:.0f} MiB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
