"""`upgradectl execute` end to end on loopback: the demo fleet in a temp git repo, a test reconciler playing
Flux on its snapshots, a real VictoriaMetrics for the gates, SQLite and Postgres checkpointers, SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from conftest import require_binary
from gitops_reconciler import Reconciler, cilium_series, git, init_repo
from metrics_servers import DEMO, victoria_metrics, vm_delete, vm_import
from run_cli import upgradectl

CLUSTERS = ["dev-apps", "eks-staging-apps", "ravan"]
CHARTS = {c: f"infra-flux/infrastructure/cilium/{c}/helmrelease.yaml" for c in CLUSTERS}
STEPS = ["dev/1.14.5->1.14.19", "dev/1.14.19->1.15.19", "staging/1.14.5->1.14.19", "staging/1.14.19->1.15.19",
         "prod/1.14.5->1.14.19", "prod/1.14.19->1.15.19"]  # fmt: skip
pytestmark = pytest.mark.real


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return upgradectl(*args, timeout=timeout)


def popen(*args: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("upgradectl")
    return subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    binary = require_binary("victoria-metrics")
    work = tmp_path_factory.mktemp("vm")
    server = victoria_metrics(binary, work).start()
    now = time.time()
    data = work / "cilium.jsonl"
    data.write_text("".join(cilium_series(c, now - 3600, now + 1800) for c in CLUSTERS))
    vm_import(server, [data])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    """One plan (Cilium 1.14.5 -> 1.15.19 on dev-apps, eks-staging-apps, ravan, rolled out in place), reused on
    every fleet copy."""
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    result = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--clusters", ",".join(CLUSTERS), "--fleet", "demo",
                 "--strategy", "rolling", "--format", "json")  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    out.write_text(result.stdout)
    return out


def fleet_repo(root: Path, metrics_url: str) -> Path:
    """A copy of the demo fleet with metrics_url set, `git init`ed and committed."""
    shutil.copytree(DEMO, root)
    spec = yaml.safe_load((root / "fleet.yaml").read_text())
    for cluster in spec["clusters"]:
        cluster["metrics_url"] = metrics_url
    (root / "fleet.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    init_repo(root)
    return root


def run_args(plan: Path, fleet: Path, run_id: str, state: Path, *extra: str) -> list[str]:
    return ["--plan", str(plan), "--fleet", str(fleet), "--no-dry-run", "--run-id", run_id, "--state-dir", str(state),
            "--soak", "0.3", "--reconcile-timeout", "20", "--poll", "0.1", "--format", "json", *extra]  # fmt: skip


def branch_log(repo: Path, run_id: str) -> list[tuple[str, str, str]]:
    """(sha, subject, step) per commit on the run's branch after main, oldest first."""
    out = git(repo, "log", "--reverse", "--format=%H%x00%s%x00%(trailers:key=Upgradectl-Step,valueonly)%x01",
              f"main..upgradectl/{run_id}")  # fmt: skip
    rows = [r.strip().split("\x00") for r in out.split("\x01") if r.strip()]
    return [(sha, subject, step.strip().split("/", 1)[1]) for sha, subject, step in rows]


def approve_through(result: subprocess.CompletedProcess, run_id: str, state: Path, *extra: str,
                    on_pause=lambda paused: None) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Answer every pause of a run as its text asks (alice approves; --done for a checklist, --accept for each
    open high/critical finding) until it ends; the last result and every pause, in order."""
    pauses = []
    while result.returncode == 6:
        paused = json.loads(result.stdout)["paused"]
        pauses.append(paused)
        on_pause(paused)
        result = cli("approve", run_id, "--by", "alice", "--state-dir", str(state), *extra, *answer_flags(paused),
                     "--format", "json")  # fmt: skip
    return result, pauses


def answer_flags(paused: dict) -> list[str]:
    """What a pause asks for: --done for its checklist, --accept CODE for each open finding."""
    flags = ["--done"] if paused.get("checklist") else []
    for code in sorted({f["code"] for f in paused.get("findings", [])}):
        flags += ["--accept", code]
    return flags


@pytest.fixture(scope="module")
def uninterrupted(vm, plan_file, tmp_path_factory) -> dict:
    """The reference run: execute, pause before prod, approve, finish."""
    root = fleet_repo(tmp_path_factory.mktemp("ref") / "fleet", vm.url)
    state = root.parent / "state"
    reconciler = Reconciler(root, CHARTS)
    reconciler.start()
    try:
        started = time.monotonic()
        at_prod: list = []
        first = cli("execute", *run_args(plan_file, root, "ref", state))
        approved, pauses = approve_through(first, "ref", state, on_pause=lambda p: at_prod.extend(
            branch_log(root, "ref") if p["step"].startswith("prod/") and not at_prod else []))
        paused = {"status": "paused", "paused": next(p for p in pauses if p["step"].startswith("prod/"))}
        log_at_pause = at_prod
        finished = json.loads(approved.stdout) if approved.stdout else {}
        elapsed = time.monotonic() - started
    finally:
        reconciler.stop()
    return {"root": root, "state": state, "paused": paused, "log_at_pause": log_at_pause, "approve": approved,
            "pauses": pauses,
            "report": finished, "log": branch_log(root, "ref"), "tree": git(root, "rev-parse", "upgradectl/ref^{tree}"),
            "reconciler": reconciler, "elapsed": elapsed}  # fmt: skip


def test_commits_per_env_and_hop_in_order_pause_before_prod_then_finish(uninterrupted):
    paused = uninterrupted["paused"]
    assert paused["status"] == "paused" and paused["paused"]["step"] == "prod/1.14.5->1.14.19"
    assert "production changes always wait for an explicit approval" in paused["paused"]["reasons"]
    assert [s for _, _, s in uninterrupted["log_at_pause"]] == STEPS[:4]  # prod untouched while paused
    assert uninterrupted["approve"].returncode == 0, uninterrupted["approve"].stderr
    report = uninterrupted["report"]
    assert report["status"] == "succeeded"
    log = uninterrupted["log"]
    assert [s for _, _, s in log] == STEPS  # one commit per environment per hop, dev -> staging -> prod
    assert [st["commit"] for st in report["steps"]] == [sha for sha, _, _ in log]  # git log and report agree
    assert all(st["result"] == "pass" for st in report["steps"])
    assert all(g["result"] == "pass" for st in report["steps"] for gs in st["gates"].values() for g in gs)
    assert report["approvals"]["prod/1.14.5->1.14.19"]["by"] == "alice"
    assert log[0][1] == "upgradectl: Cilium 1.14.5 -> 1.14.19 in dev"
    # what the clusters were asked to run, in order, is what the reconciler applied
    applied = [(c, v) for c, v, _ in uninterrupted["reconciler"].applied]
    assert applied == [("dev-apps", "1.14.19"), ("dev-apps", "1.15.19"), ("eks-staging-apps", "1.14.19"),
                       ("eks-staging-apps", "1.15.19"), ("ravan", "1.14.19"), ("ravan", "1.15.19")]  # fmt: skip
    # the user's checkout is untouched: the run works in its own worktree
    assert git(uninterrupted["root"], "status", "--porcelain", "--", "infra-flux") == ""
    ravan = git(uninterrupted["root"], "show", f"upgradectl/ref:{CHARTS['ravan']}")
    # Cilium 1.15 notes: tunnel=disabled became routing-mode=native (never tunnelProtocol: disabled)
    assert "version: 1.15.19" in ravan and "routingMode: native" in ravan and "tunnelProtocol" not in ravan
    runs = json.loads(cli("runs", "--state-dir", str(uninterrupted["state"]), "--format", "json").stdout)
    assert [(r["run_id"], r["status"]) for r in runs] == [("ref", "succeeded")]


def test_failing_gate_in_staging_reverts_and_never_touches_prod(vm, plan_file, tmp_path):
    root = fleet_repo(tmp_path / "fleet", vm.url)

    def break_staging(cluster: str, old: str, new: str) -> None:
        if cluster == "eks-staging-apps" and new == "1.14.19":  # the new version's controllers fail
            now = time.time()
            data = tmp_path / "broken.jsonl"
            data.write_text(cilium_series(cluster, now - 120, now + 900, extra={"injected": "yes"},
                                          controllers_failing=3))  # fmt: skip
            vm_import(vm, [data])
        if cluster == "eks-staging-apps" and new == "1.14.5":  # the revert heals it
            vm_delete(vm, '{injected="yes"}')

    reconciler = Reconciler(root, CHARTS, on_version=break_staging)
    reconciler.start()
    try:
        first = cli("execute", *run_args(plan_file, root, "bad", tmp_path / "state"))
        result, _ = approve_through(first, "bad", tmp_path / "state")
    finally:
        reconciler.stop()
        vm_delete(vm, '{injected="yes"}')  # the other tests share this VictoriaMetrics
    assert result.returncode == 1, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["status"] == "rolled-back"
    staging = next(s for s in report["steps"] if s["key"] == "staging/1.14.5->1.14.19")
    assert staging["result"] == "fail" and staging["revert"] and staging["recheck_result"] == "pass"
    failed = [g for g in staging["gates"]["eks-staging-apps"] if g["result"] == "fail"]
    assert [g["name"] for g in failed] == ["cilium-controllers-failing"]
    assert failed[0]["value"] == 3 and "worst 3" in failed[0]["message"] and "== 0" in failed[0]["message"]
    log = branch_log(root, "bad")
    assert [s for _, _, s in log] == [*STEPS[:3], "staging/1.14.5->1.14.19/revert"]
    assert log[-1][1].startswith("upgradectl: revert Cilium 1.14.5 -> 1.14.19 in staging")
    assert all(s["status"] == "not started" for s in report["steps"] if s["environment"] == "prod")
    assert git(root, "diff", "main", "upgradectl/bad", "--", CHARTS["ravan"], CHARTS["eks-staging-apps"]) == ""
    assert [c for c, _, _ in reconciler.applied].count("ravan") == 0


def test_a_crash_loop_new_after_a_hop_fails_the_health_gate_and_reverts(vm, plan_file, tmp_path):
    """The metric gates pass; a workload that starts crash-looping when the hop lands (kubelet's
    CrashLoopBackOff, as in the Pod API) fails the cluster-health gate, the hop is reverted, and the
    re-check passes once the pod is healthy again."""
    root = fleet_repo(tmp_path / "fleet", vm.url)
    pods_file = root / "clusters" / "eks-staging-apps" / "resources" / "core" / "v1" / "pods.yaml"
    healthy = pods_file.read_text()
    victim = next(p for p in yaml.safe_load(healthy)["items"] if p["metadata"]["namespace"] == "checkout")

    def crash_on_upgrade(cluster: str, old: str, new: str) -> None:
        if cluster != "eks-staging-apps":
            return
        if new == "1.14.19":
            doc = yaml.safe_load(healthy)
            pod = next(p for p in doc["items"] if p["metadata"]["name"] == victim["metadata"]["name"])
            for status in pod["status"]["containerStatuses"]:
                status.update({"ready": False, "restartCount": 6,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}}})  # fmt: skip
            pods_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        elif new == "1.14.5":  # the revert heals it
            pods_file.write_text(healthy)

    reconciler = Reconciler(root, CHARTS, on_version=crash_on_upgrade)
    reconciler.start()
    try:
        result, _ = approve_through(cli("execute", *run_args(plan_file, root, "crash", tmp_path / "state")), "crash",
                                    tmp_path / "state")
    finally:
        reconciler.stop()
    assert result.returncode == 1, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["status"] == "rolled-back"
    staging = next(s for s in report["steps"] if s["key"] == "staging/1.14.5->1.14.19")
    assert staging["result"] == "fail" and staging["revert"] and staging["recheck_result"] == "pass"
    failed = [g for g in staging["gates"]["eks-staging-apps"] if g["result"] == "fail"]
    assert [g["name"] for g in failed] == ["cluster-health"]
    assert f"checkout/{victim['metadata']['name']}" in failed[0]["message"] and failed[0]["value"] >= 1
    assert all(s["status"] == "not started" for s in report["steps"] if s["environment"] == "prod")


def _kill_mid_run_then_resume(plan: Path, root: Path, state: Path, run_id: str, *extra: str) -> tuple[list, dict]:
    reconciler = Reconciler(root, CHARTS)
    reconciler.start()
    try:
        result = cli("execute", *run_args(plan, root, run_id, state), *extra)  # pauses for open findings
        paused = json.loads(result.stdout)["paused"]
        while not paused["step"].startswith("staging/"):  # dev's pauses answered; staging's is answered below
            result = cli("approve", run_id, "--state-dir", str(state), *extra, *answer_flags(paused), "--format",
                         "json")  # fmt: skip
            assert result.returncode == 6, (result.stdout, result.stderr)
            paused = json.loads(result.stdout)["paused"]
        process = popen("approve", run_id, "--state-dir", str(state), *extra, *answer_flags(paused), "--format",
                        "json")  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if git(root, "branch", "--list", f"upgradectl/{run_id}") and len(branch_log(root, run_id)) >= 3:
                break  # staging's first commit is made: the run is reconciling or soaking it
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        killed_at = len(branch_log(root, run_id))
        if not extra:  # `runs` shows the killed run as interrupted (once is enough: it costs a process start)
            listed = json.loads(cli("runs", "--state-dir", str(state), "--format", "json").stdout)
            assert [r["status"] for r in listed if r["run_id"] == run_id] == ["interrupted"]
        resumed = cli("resume", run_id, "--state-dir", str(state), *extra, "--format", "json")
        assert resumed.returncode == 6, (resumed.stdout, resumed.stderr)  # went on, paused before prod
        approved, _ = approve_through(resumed, run_id, state, *extra)
        assert approved.returncode == 0, (approved.stdout, approved.stderr)
    finally:
        reconciler.stop()
    assert killed_at >= 3
    return branch_log(root, run_id), json.loads(approved.stdout)


def test_sigkill_and_resume_makes_no_duplicate_commit(vm, plan_file, uninterrupted, tmp_path):
    root = fleet_repo(tmp_path / "fleet", vm.url)
    log, report = _kill_mid_run_then_resume(plan_file, root, tmp_path / "state", "killed")
    assert [s for _, _, s in log] == STEPS  # no step committed twice
    assert report["status"] == "succeeded"
    assert [st["commit"] for st in report["steps"]] == [sha for sha, _, _ in log]
    assert git(root, "rev-parse", "upgradectl/killed^{tree}") == uninterrupted["tree"]  # same final state


@pytest.fixture
def postgres(tmp_path):
    """PostgreSQL on loopback (initdb + pg_ctl), as the postgres user when the tests run as root."""
    initdb = shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb"
    pg_ctl = shutil.which("pg_ctl") or "/usr/lib/postgresql/15/bin/pg_ctl"
    if not Path(initdb).exists():
        require_binary("initdb")  # skips with a reason locally, fails in CI
    from metrics_servers import free_port

    work = Path(tempfile.mkdtemp(prefix="upgradectl-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    os.chmod(work, 0o755)
    data, port = work / "data", free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "start"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def test_postgres_checkpointer_kill_and_resume(vm, plan_file, uninterrupted, postgres, tmp_path):
    root = fleet_repo(tmp_path / "fleet", vm.url)
    log, report = _kill_mid_run_then_resume(plan_file, root, tmp_path / "state", "pg-run", "--checkpoint", postgres)
    assert [s for _, _, s in log] == STEPS
    assert report["status"] == "succeeded"
    assert git(root, "rev-parse", "upgradectl/pg-run^{tree}") == uninterrupted["tree"]
    assert not (tmp_path / "state" / "runs.sqlite").exists()  # checkpoints and the run list live in Postgres


def test_dry_run_is_the_default_and_writes_nothing(vm, plan_file, tmp_path):
    root = fleet_repo(tmp_path / "fleet", vm.url)
    result = cli("execute", "--plan", str(plan_file), "--fleet", str(root), "--state-dir", str(tmp_path / "s"),
                 "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] and report["status"] == "dry-run"
    assert [s["status"] for s in report["steps"]] == ["dry-run"] * 6
    assert "+      version: 1.14.19" in report["steps"][0]["diff"]
    assert any("would pause for approval" in line and line.startswith("prod/") for line in report["log"])
    assert git(root, "branch", "--list", "upgradectl/*") == "" and not (tmp_path / "s").exists()


def test_bad_input_fails_clearly(tmp_path, plan_file):
    missing = cli("execute", "--plan", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    unknown = cli("approve", "no-such-run", "--state-dir", str(tmp_path / "s"))
    assert unknown.returncode == 2 and "no run 'no-such-run'" in unknown.stderr
    copy = tmp_path / "fleet"
    shutil.copytree(DEMO, copy)  # not a git repository
    not_git = cli("execute", "--plan", str(plan_file), "--fleet", str(copy), "--no-dry-run", "--state-dir",
                  str(tmp_path / "s"))  # fmt: skip
    assert not_git.returncode == 2 and "not inside a git repository" in not_git.stderr
