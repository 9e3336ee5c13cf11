"""Shared by the hostile-input tests: run the CLI in-process as `upgradectl` would, and the documented exits.

`cli(...)` goes through the same last line of defence as the installed script (upgradectl.cli.app.main),
so an exception a command lets escape shows as exit 70 with its message, exactly what a user would see.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from upgradectl.exit_codes import EXIT_INTERNAL, MEANING, SCAN_MEANING

ADVERSARIAL = Path(__file__).parent / "data" / "adversarial"
DOCUMENTED = set(MEANING) - {EXIT_INTERNAL}  # what a command may exit with; 70 is always a bug
SCAN_DOCUMENTED = set(SCAN_MEANING) - {EXIT_INTERNAL}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def cli(*args: str) -> Outcome:
    """`upgradectl ARGS` in this process, through main(): the exit code, stdout and stderr."""
    from upgradectl.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = ["upgradectl", *args]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
    return Outcome(code, out.getvalue(), err.getvalue())


MINI_LISTS = {  # resource list -> how many items of the demo's ravan to keep (None: all)
    "core/v1/namespaces.yaml": None,
    "core/v1/nodes.yaml": 2,
    "core/v1/pods.yaml": 6,
    "core/v1/configmaps.yaml": None,
    "core/v1/secrets.yaml": None,
    "apps/v1/daemonsets.yaml": None,
    "apps/v1/deployments.yaml": 3,
    "apiextensions.k8s.io/v1/customresourcedefinitions.yaml": 4,
}


def mini_fleet(base: Path) -> Path:
    """A one-cluster fleet (`mini`, dev, EKS) with a few resource lists of the demo's ravan: Cilium, its Helm
    releases, two nodes, some pods and CRDs, and the recorded metrics. Small enough to copy per example."""
    import shutil

    import yaml

    from upgradectl.tools.cluster.fleet import demo_fleet_path

    src, dst = demo_fleet_path().parent / "clusters" / "ravan", base / "clusters" / "mini"
    dst.mkdir(parents=True)
    shutil.copy(src / "cluster.yaml", dst / "cluster.yaml")
    shutil.copytree(src / "metrics", dst / "metrics")
    for rel, count in MINI_LISTS.items():
        doc = yaml.safe_load((src / "resources" / rel).read_text())
        doc["items"] = doc["items"][:count] if count else doc["items"]
        (dst / "resources" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / "resources" / rel).write_text(yaml.safe_dump(doc))
    entry = {"name": "mini", "environment": "dev", "provider": "eks", "region": "ap-south-1",
             "snapshot": "clusters/mini"}  # fmt: skip
    (base / "fleet.yaml").write_text(yaml.safe_dump({"name": "mini", "clusters": [entry]}))
    return base / "fleet.yaml"
