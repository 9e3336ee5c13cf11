"""Benchmark the cost analysis (KPIs, consolidation packing, LP lower bound, independent checker) on
generated clusters of 500 / 5,000 / 50,000 pods. Not run by the tests.

    python benchmarks/bench_cost.py                 # all three sizes, generator seed 7
    python benchmarks/bench_cost.py 50000           # one size
    python benchmarks/bench_cost.py 500 --seed 3    # another generated mix

Prints, per size: seconds for generation and for the analysis (from in-memory objects: no YAML parsing),
the simulation's own seconds, peak resident memory of the process, and the ratio of projected cost to
the lower bound (whole cluster, and new nodes only). Target: 50,000 pods under 10 s on 2 cores and
within 5% of the bound.
"""

from __future__ import annotations

import resource
import sys
import time

from upgradectl.tools.cost.cluster_generator import generate_cluster
from upgradectl.tools.cost.kpis import analyze_cluster
from upgradectl.tools.cost.prices import load_prices


def main(sizes: list[int], seed: int = 7) -> None:
    prices = load_prices()
    print(f"{'pods':>7} {'gen s':>6} {'analyze s':>9} {'sim s':>6} {'peak MiB':>8} {'nodes':>13} "
          f"{'proj/bound':>10} {'new/bound':>9} {'violations':>10}")
    for size in sizes:
        started = time.perf_counter()
        source = generate_cluster(size, seed=seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        report = analyze_cluster(source, prices, "ap-south-1", "eks")
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        c = report.consolidation
        print(f"{size:>7} {generated:>6.2f} {seconds:>9.2f} {c.seconds:>6.2f} {peak:>8.0f} "
              f"{report.current.nodes:>6}->{report.projected.nodes:<6} {c.ratio_to_bound:>10.4f} "
              f"{c.movable_ratio_to_bound:>9.4f} {len(c.violations):>10}")


if __name__ == "__main__":
    args = sys.argv[1:]
    seed = 7
    if "--seed" in args:
        at = args.index("--seed")
        seed = int(args[at + 1])
        del args[at : at + 2]
    main([int(a) for a in args] or [500, 5000, 50000], seed)
