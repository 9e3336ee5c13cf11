"""`upgradectl doctor`: check each prerequisite of a fleet and of this machine, and say how to fix what is missing.

Required checks decide the exit code (the fleet file loads; every cluster's snapshot loads or kube context
answers; metrics URLs that are set answer; the GitOps directory exists; Terraform parses). Optional ones
(an API key, the binaries, a git work tree for `execute`, metrics URLs at all) are reported as warnings:
planning works without them. Every probe has a short timeout and tries once: doctor reports, it does not wait.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from upgradectl.tools.cluster.fleet import Fleet, FleetError, load_fleet
from upgradectl.tools.cluster.sources import SourceError
from upgradectl.tools.metrics.promql import PromClient, PromQLError
from upgradectl.tools.terraform import read_root

PROBE_TIMEOUT = 5.0
Status = Literal["ok", "fail", "warn"]

OPTIONAL_BINARIES: dict[str, tuple[str, str]] = {
    # name: (what upgradectl uses it for, how to install it)
    "kubectl": (
        "the commands in a plan's rollout steps; checking a kube context by hand",
        "https://kubernetes.io/docs/tasks/tools/ (or your distribution's kubectl package)",
    ),
    "helm": ("the Helm commands in rollout and rollback steps", "https://helm.sh/docs/intro/install/"),
    "flux": ("the Flux commands in rollout steps (reconcile, diff)", "https://fluxcd.io/flux/installation/"),
    "victoria-metrics": (
        "a local metrics store for trying baseline/validate gates",
        "apt-get install victoria-metrics (Debian/Ubuntu)",
    ),
    "git": ("reading and committing to the GitOps repo", "apt-get install git (or your OS's git package)"),
}


class Check(BaseModel):
    """One prerequisite: what was checked, whether it holds, and the fix when it does not."""

    name: str
    status: Status = Field(description="ok; fail (required and missing: exit 3); warn (optional and missing)")
    required: bool
    detail: str
    fix: str = ""


class DoctorReport(BaseModel):
    fleet: str
    fleet_dir: str = ""
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in ("ok", "fail", "warn")}


def diagnose(fleet_ref: str) -> DoctorReport:
    """Every check for one fleet reference ('demo', a fleet.yaml, or a directory holding one) and this machine."""
    checks: list[Check] = []
    fleet: Fleet | None = None
    try:
        fleet = load_fleet(fleet_ref)  # no live opener: contexts are probed below, lightly
        names = ", ".join(fleet.clusters)
        checks.append(
            Check(
                name="fleet file",
                status="ok",
                required=True,
                detail=f"fleet {fleet.name} loads from {fleet.root}: {len(fleet.clusters)} cluster(s) ({names})",
            )
        )
    except FleetError as exc:
        checks.append(
            Check(
                name="fleet file",
                status="fail",
                required=True,
                detail=str(exc),
                fix="pass --fleet PATH/fleet.yaml (format: docs/snapshot-format.md), or --fleet demo "
                "for the bundled demo fleet",
            )
        )
    if fleet is not None:
        checks.extend(cluster_checks(fleet))
        checks.extend(metrics_checks(fleet))
        checks.extend(gitops_checks(fleet))
        checks.extend(terraform_checks(fleet))
    checks.append(kubeconfig_check())
    checks.append(api_key_check())
    checks.extend(binary_checks())
    checks.extend(package_checks())
    return DoctorReport(fleet=fleet_ref, fleet_dir=str(fleet.root) if fleet is not None else "", checks=checks)


def cluster_checks(fleet: Fleet) -> Iterator[Check]:
    """Snapshots must load; kube contexts must answer GET /version."""
    for name, cluster in fleet.clusters.items():
        entry = cluster.entry
        if entry.git_only:
            yield git_only_check(fleet, name, entry.gitops_path, entry.kubernetes_version)
            continue
        if entry.snapshot:
            if cluster.source is not None:
                yield Check(
                    name=f"cluster {name}",
                    status="ok",
                    required=True,
                    detail=f"snapshot {cluster.info.source} loads (Kubernetes {cluster.info.kubernetes_version})",
                )
            else:
                yield Check(
                    name=f"cluster {name}",
                    status="fail",
                    required=True,
                    detail=cluster.error,
                    fix="record it again with `upgradectl snapshot --context CTX --out DIR`, or fix the "
                    "snapshot path in the fleet file (relative to fleet.yaml)",
                )
            continue
        yield context_check(name, entry.context, entry.kubeconfig)


def git_only_check(fleet: Fleet, name: str, gitops_path: str, kubernetes: str) -> Check:
    """A Git-only cluster needs its folder in the GitOps repository; its Kubernetes version is optional."""
    root = fleet.gitops_root
    folder = (root / gitops_path) if root is not None and gitops_path else None
    if gitops_path and (folder is None or not folder.exists()):
        return Check(name=f"cluster {name}", status="fail", required=True,
                     detail=f"Git-only cluster: gitops_path {gitops_path} not found in {root}",
                     fix="fix gitops_path (relative to the GitOps repo) or the fleet's gitops.path")  # fmt: skip
    version = f"Kubernetes {kubernetes}" if kubernetes else "Kubernetes version unknown (pass --kubernetes X.Y)"
    where = f"{gitops_path} in the GitOps repo" if gitops_path else "the fleet's Terraform"
    return Check(name=f"cluster {name}", status="ok", required=True,
                 detail=f"Git-only: planned from {where}; {version}")  # fmt: skip


def context_check(name: str, context: str, kubeconfig: str) -> Check:
    """One kube context: load it and GET /version once, with a short timeout."""
    fix = (
        f"check `kubectl --context {context} get --raw /version`: credentials (aws sso login, gcloud auth "
        "login), VPN or network, the context name (`kubectl config get-contexts`); or plan from a recorded "
        "snapshot (`upgradectl snapshot`)"
    )
    from upgradectl.tools.cluster.kubeapi import KubeReader  # the kubernetes client: loaded only for contexts

    try:
        reader = KubeReader.from_kubeconfig(context, kubeconfig or None, read_timeout=PROBE_TIMEOUT, attempts=1)
        version = reader.get("/version", what="reading the server version")
    except SourceError as exc:
        return Check(name=f"cluster {name}", status="fail", required=True, detail=str(exc), fix=fix)
    return Check(
        name=f"cluster {name}",
        status="ok",
        required=True,
        detail=f"kube context {context} answers: Kubernetes {version.get('gitVersion', '?')} at {reader.server}",
    )


def metrics_checks(fleet: Fleet) -> Iterator[Check]:
    """Each metrics_url that is set must answer an instant query; none set at all is a warning."""
    urls = {name: c.entry.metrics_url for name, c in fleet.clusters.items() if c.entry.metrics_url}
    if not urls:
        yield Check(
            name="metrics",
            status="warn",
            required=False,
            detail="no cluster has a metrics_url: baseline and validate gates would all be inconclusive",
            fix="add metrics_url (a Prometheus-compatible API root, e.g. http://vmsingle:8428) per cluster "
            "in the fleet file, or pass --metrics-url to baseline/validate",
        )
        return
    for name, url in urls.items():
        problem = probe_metrics(url)
        if problem:
            yield Check(
                name=f"metrics {name}",
                status="fail",
                required=True,
                detail=f"{url}: {problem}",
                fix=f"check that {url}/api/v1/query answers (port-forward or VPN), or fix metrics_url",
            )
        else:
            yield Check(name=f"metrics {name}", status="ok", required=True, detail=f"{url} answers PromQL queries")


def probe_metrics(url: str) -> str:
    """'' when the Prometheus-compatible API at url answers `vector(1)`, else what went wrong."""
    if not url.startswith(("http://", "https://")):
        return "must start with http:// or https://"
    try:
        with PromClient(url, timeout=PROBE_TIMEOUT, attempts=1) as client:
            client.query("vector(1)")
    except PromQLError as exc:
        return str(exc)
    return ""


def gitops_checks(fleet: Fleet) -> Iterator[Check]:
    """The GitOps directory must exist (plans cite its files); a git work tree is needed only to execute."""
    root = fleet.gitops_root
    if root is None:
        yield Check(
            name="gitops repo",
            status="warn",
            required=False,
            detail="the fleet names no gitops repo: plans cannot cite or edit HelmReleases/Applications",
            fix="add `gitops: {path: ../infra-flux}` (relative to fleet.yaml) to the fleet file",
        )
        return
    if not root.is_dir():
        yield Check(
            name="gitops repo",
            status="fail",
            required=True,
            detail=f"{root}: no such directory",
            fix="clone the GitOps repo there, or fix gitops.path in the fleet file (relative to fleet.yaml)",
        )
        return
    yield Check(name="gitops repo", status="ok", required=True, detail=f"{root} exists")
    top = git_toplevel(root)
    if top:
        yield Check(
            name="gitops git work tree", status="ok", required=False, detail=f"{root} is in the git work tree {top}"
        )
    else:
        yield Check(
            name="gitops git work tree",
            status="warn",
            required=False,
            detail=f"{root} is not inside a git work tree (or git is missing): planning reads the files, "
            "but executing an upgrade commits to the repo",
            fix=f"use a clone: git clone <your GitOps repo URL> {root}",
        )


def git_toplevel(path: Path) -> str:
    """The git work tree holding path, '' when none (or no git)."""
    git = shutil.which("git")
    if not git:
        return ""
    try:
        done = subprocess.run(
            [git, "-C", str(path), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def terraform_checks(fleet: Fleet) -> Iterator[Check]:
    """Each Terraform root must exist and parse (python-hcl2; no terraform binary needed)."""
    for root in fleet.terraform_roots:
        name = f"terraform {root.name}"
        if not root.is_dir():
            yield Check(
                name=name,
                status="fail",
                required=True,
                detail=f"{root}: no such directory",
                fix="fix terraform[].path in the fleet file (relative to fleet.yaml)",
            )
            continue
        parsed = read_root(root, root.parent)
        if parsed.problems:
            yield Check(
                name=name,
                status="fail",
                required=True,
                detail="; ".join(parsed.problems[:3]),
                fix="fix the HCL syntax there (`terraform fmt -check` or `terraform validate` point at it)",
            )
        else:
            yield Check(
                name=name,
                status="ok",
                required=True,
                detail=f"{root} parses: {len(parsed.helm_releases)} helm_release, {len(parsed.modules)} module "
                f"call(s), {len(parsed.providers)} locked provider(s)",
            )


def kubeconfig_check() -> Check:
    """Where kube contexts would come from (optional: snapshots need none)."""
    path = Path(os.path.expanduser(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"))
    if path.is_file():
        return Check(name="kubeconfig", status="ok", required=False, detail=f"{path} exists")
    return Check(
        name="kubeconfig",
        status="warn",
        required=False,
        detail=f"no kubeconfig at {path}: only recorded snapshots can be planned",
        fix="for live clusters: aws eks update-kubeconfig --name CLUSTER, gcloud container clusters "
        "get-credentials CLUSTER, or set KUBECONFIG",
    )


def api_key_check() -> Check:
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        return Check(
            name="ANTHROPIC_API_KEY",
            status="ok",
            required=False,
            detail="set: `plan --llm auto` adds Claude's findings and narrative on top of the playbooks",
        )
    return Check(
        name="ANTHROPIC_API_KEY",
        status="warn",
        required=False,
        detail="not set: plans run the deterministic playbooks only (complete, no narrative)",
        fix="export ANTHROPIC_API_KEY=... to let Claude add findings and the narrative (--llm on)",
    )


def binary_checks() -> Iterator[Check]:
    for binary, (why, install) in OPTIONAL_BINARIES.items():
        path = shutil.which(binary)
        if path:
            yield Check(name=binary, status="ok", required=False, detail=f"{path}")
        else:
            yield Check(
                name=binary,
                status="warn",
                required=False,
                detail=f"not found on PATH; used for {why}",
                fix=f"install: {install}",
            )


def package_checks() -> Iterator[Check]:
    """Optional Python packages behind `upgradectl mcp` and `langgraph dev`."""
    wanted = {
        "mcp": ("upgradectl mcp (Claude Code delegation)", "pip install 'mcp>=2'"),
        "langgraph_api": ("langgraph dev (LangGraph Server, in memory)", "pip install 'langgraph-cli[inmem]'"),
    }
    for module, (why, install) in wanted.items():
        if find_spec(module) is not None:
            yield Check(name=f"python {module}", status="ok", required=False, detail=f"installed: {why}")
        else:
            yield Check(
                name=f"python {module}",
                status="warn",
                required=False,
                detail=f"not installed: needed by {why}",
                fix=install,
            )
