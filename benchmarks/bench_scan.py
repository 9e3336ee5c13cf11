"""Scan a generated GitOps tree of N manifests (default 20,000) and print manifests/second and peak memory.

python benchmarks/bench_scan.py [--manifests 20000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from upgradectl.tools.analysis.scanner import Scanner, ScanReport, parse_targets

KINDS = [
    ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease"),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
    ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("source.toolkit.fluxcd.io/v1beta2", "HelmRepository"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("networking.k8s.io/v1", "Ingress"),
    ("batch/v1beta1", "CronJob"),
    ("policy/v1beta1", "PodDisruptionBudget"),
]


def generate(root: Path, count: int, seed: int = 7) -> None:
    """count manifests in files of 1-5 documents, spread over team/app directories."""
    rng = random.Random(seed)
    written = 0
    file_no = 0
    while written < count:
        docs = min(rng.randint(1, 5), count - written)
        folder = root / f"team-{file_no % 40}" / f"app-{file_no % 500}"
        folder.mkdir(parents=True, exist_ok=True)
        parts = []
        for i in range(docs):
            api, kind = rng.choice(KINDS)
            parts.append(
                f"# generated {kind}\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: obj-{file_no}-{i}\n"
                f"  namespace: team-{file_no % 40}\n  labels:\n    app: app-{file_no % 500}\nspec:\n"
                f"  interval: 10m\n  values:\n    replicas: {rng.randint(1, 6)}\n"
                f"    image: repo/app:{rng.randint(1, 99)}\n"
            )
        (folder / f"manifest-{file_no}.yaml").write_text("---\n".join(parts))
        written += docs
        file_no += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifests", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        generate(root, args.manifests)
        gen = time.perf_counter() - t0
        scanner = Scanner(parse_targets("k8s=1.30,flux=2.8"))
        report = ScanReport(targets=scanner.targets)
        t1 = time.perf_counter()
        scanner.scan_manifests(root, report)
        elapsed = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scanned = report.scanned.get("manifests", 0)
    print(f"generated {args.manifests} manifests in {gen:.1f}s")
    print(
        f"scanned {scanned} manifests in {elapsed:.2f}s: {scanned / elapsed:,.0f} manifests/s; "
        f"{len(report.usages)} deprecated/removed usages; peak RSS {peak_mb:.0f} MiB"
    )
    if scanned != args.manifests:
        print(f"error: expected {args.manifests} manifests, scanned {scanned}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
