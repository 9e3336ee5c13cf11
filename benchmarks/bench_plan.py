"""Start-up and the demo plan as a user runs them (a fresh process each time, no network, no API key):
`upgradectl --help`, then `upgradectl plan ... --out DIR` (plan.md, plan.json and the cost plots) on the demo
fleet with an empty parse cache (the first plan on a recording) and with a warm one (every later plan on it;
tools/parse_cache.py). Each figure is the best of --runs wall times, with that run's CPU time and the least CPU
time of all runs: the machine may be shared, and CPU time varies less with its load. Targets (issue 15):
--help <= 0.3 s, the demo plan <= 1.5 s on 2 cores.

    python benchmarks/bench_plan.py [--runs 5] [--tool karpenter]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUEST = "Karpenter needs upgrade for better bin packing and cost optimization"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; exits when the command fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{' '.join(cmd[:3])} failed ({code}): {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tool", default="", help="plan --tool TOOL instead of the Karpenter request in words")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("upgradectl"))
    base = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        plan = [exe, "plan", *(["--tool", args.tool] if args.tool else [REQUEST]), "--fleet", "demo", "--llm", "off",
                "--out", f"{tmp}/plan"]  # as the README runs it: plan.md, plan.json and the cost plots written
        help_runs = [timed([exe, "--help"], base) for _ in range(args.runs)]
        cold = []
        for run in range(args.runs):  # a new, empty cache each time
            cold.append(timed(plan, {**base, "UPGRADECTL_CACHE_DIR": f"{tmp}/cold-{run}"}))
        warm_env = {**base, "UPGRADECTL_CACHE_DIR": f"{tmp}/cold-0"}
        warm = [timed(plan, warm_env) for _ in range(args.runs)]
    for name, runs in (("upgradectl --help", help_runs), ("plan, empty cache", cold), ("plan, warm cache", warm)):
        best = min(runs)
        print(f"{name}: {best[0]:.2f}s wall (best of {len(runs)}; CPU {best[1]:.2f}s); "
              f"median {sorted(r[0] for r in runs)[len(runs) // 2]:.2f}s; least CPU {min(r[1] for r in runs):.2f}s")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min), "
          f"{os.getloadavg()[2]:.1f} (15 min)")


if __name__ == "__main__":
    main()
