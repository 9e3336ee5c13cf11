"""Scan a generated GitOps tree of N manifests (default 20,000): manifests/second and peak memory of the
scanner, then `upgradectl scan` as a user runs it (a fresh process, text and JSON output to /dev/null)
against parsing the same files with PyYAML's C loader (CSafeLoader, every document of every file).

python benchmarks/bench_scan.py [--manifests 20000] [--runs 3] [--keep DIR]

Each time is the best of --runs (the machine is shared). Target (issue 15): the scan command's wall time
at most 1.25x the parse.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from upgradectl.tools.analysis.scanner import Scanner, ScanReport, parse_targets

TARGETS = "k8s=1.30,flux=2.8"

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


def parse_seconds(root: Path) -> float:
    """Every document of every YAML file under root, loaded with CSafeLoader."""
    started = time.perf_counter()
    for file in sorted(root.rglob("*.yaml")):
        list(yaml.load_all(file.read_text(), Loader=yaml.CSafeLoader))  # noqa: S506 - a safe loader
    return time.perf_counter() - started


def cli_seconds(root: Path, output_format: str) -> float:
    """Wall time of `upgradectl scan --manifests root` in a fresh process, output to /dev/null."""
    exe = Path(sys.executable).with_name("upgradectl")
    cmd = [str(exe), "scan", "--manifests", str(root), "--target", TARGETS, "--format", output_format]
    started = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 2, 3, 4):
        sys.exit(f"scan failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        generate(root, args.manifests)
        gen = time.perf_counter() - t0
        scanner = Scanner(parse_targets(TARGETS))
        report = ScanReport(targets=scanner.targets)
        t1 = time.perf_counter()
        scanner.scan_manifests(root, report)
        elapsed = time.perf_counter() - t1
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        parse = min(parse_seconds(root) for _ in range(args.runs))
        text = min(cli_seconds(root, "text") for _ in range(args.runs))
        json_ = min(cli_seconds(root, "json") for _ in range(args.runs))
    scanned = report.scanned.get("manifests", 0)
    print(f"generated {args.manifests} manifests in {gen:.1f}s")
    print(
        f"scanner: {scanned} manifests in {elapsed:.2f}s: {scanned / elapsed:,.0f} manifests/s; "
        f"{len(report.usages)} deprecated/removed usages; peak RSS {peak_mb:.0f} MiB"
    )
    print(f"CSafeLoader parse of the same files: {parse:.2f}s (best of {args.runs})")
    print(f"upgradectl scan, text: {text:.2f}s wall = {text / parse:.2f}x the parse (best of {args.runs}, "
          "start-up included)")
    print(f"upgradectl scan, json: {json_:.2f}s wall = {json_ / parse:.2f}x the parse")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if scanned != args.manifests:
        print(f"error: expected {args.manifests} manifests, scanned {scanned}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
