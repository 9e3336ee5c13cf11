"""`upgradectl baseline` and `validate` end to end against a real VictoriaMetrics on loopback.

The recorded fixture fleet (tests/fixtures/metrics) is imported into a fresh `victoria-metrics`:
Karpenter 0.31.3 -> 1.0.10 at 07:00 on a healthy and a regressed cluster, a VictoriaMetrics upgrade,
and Flux/Argo CD/Cilium. The baseline is pinned to 06:55 (before the upgrade), validation to 09:00.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import require_binary
from metrics_servers import DEMO, cli_in_process, fleet_copy, recorded, victoria_metrics, vm_delete, vm_import
from run_cli import upgradectl

pytestmark = pytest.mark.real

BEFORE = "2026-11-20T06:55:00Z"
AFTER = "2026-11-20T09:00:00Z"
KARPENTER_CLUSTERS = "karp-healthy,karp-regressed"


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    binary = require_binary("victoria-metrics")
    workdir = tmp_path_factory.mktemp("vm")
    started = time.perf_counter()
    server = victoria_metrics(binary, workdir).start()
    assert time.perf_counter() - started < 5, "victoria-metrics took too long to start"
    vm_import(server, recorded() + recorded(DEMO))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fleet(vm, tmp_path_factory) -> Path:
    return fleet_copy(tmp_path_factory.mktemp("fleet"), vm.url)


def cli_json(*args: str, script: bool = False) -> tuple[int, dict]:
    """Exit code and JSON report; `script` runs the installed upgradectl, else the same code in-process."""
    result = (upgradectl if script else cli_in_process)(*args, "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1, 3), result.stderr
    return result.returncode, json.loads(result.stdout)


def gates_by_name(report: dict, cluster: str) -> dict[str, dict]:
    entry = next(c for c in report["clusters"] if c["cluster"] == cluster)
    return {g["name"]: g for g in entry["gates"]}


@pytest.fixture(scope="module")
def karpenter_baseline(fleet, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "karpenter.json"
    result = upgradectl("baseline", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", KARPENTER_CLUSTERS,
                        "--to", "1.0.10", "--at", BEFORE, "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RECORDED" in result.stdout and "karpenter-cloudprovider-errors" in result.stdout
    return out


def test_baseline_records_running_and_target_gates_with_today_names(karpenter_baseline):
    document = json.loads(karpenter_baseline.read_text())
    assert document["tool"] == "karpenter" and document["target_version"] == "1.0.10"
    healthy = next(c for c in document["clusters"] if c["cluster"] == "karp-healthy")
    assert healthy["version"] == "0.31.3" and healthy["at"].startswith("2026-11-20T06:55:00")
    entries = {(e["version"], e["gate"]["name"]): e for e in healthy["entries"]}
    assert all(e["gate"]["value"] is not None for e in entries.values()), [
        e["gate"]["message"] for e in entries.values() if e["gate"]["value"] is None
    ]
    # the 1.0 gate recorded on 0.31 under the names 0.31 exports (two renames chained for drift)
    drift = entries[("1.0.10", "karpenter-drift-storm")]
    assert drift["renamed"] == {"karpenter_nodeclaims_disrupted_total": "karpenter_machines_disrupted"}
    assert 'karpenter_machines_disrupted{cluster="karp-healthy"}' in drift["query"]
    startup = entries[("1.0.10", "karpenter-scale-up-startup-p99")]
    assert startup["gate"]["promql"] == 'max(karpenter_pods_startup_time_seconds{quantile="0.99"})'
    assert 55 < startup["gate"]["value"] < 65


def test_healthy_cluster_every_gate_passes_with_numbers(fleet, karpenter_baseline):
    result = upgradectl("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                        "--version", "1.0.10", "--baseline", str(karpenter_baseline), "--at", AFTER)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  ") and line.split()[0].isupper()]
    gate_rows = [r for r in rows if r[0] != "RESULT"]
    assert len(gate_rows) == 11 and all(r[0] == "PASS" for r in gate_rows)
    assert "promotion may proceed" in result.stdout
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                            "--version", "1.0.10", "--baseline", str(karpenter_baseline), "--at", AFTER,
                            script=True)  # fmt: skip
    gates = gates_by_name(report, "karp-healthy")
    assert code == 0 and report["promotion"] == "allowed"
    assert {g["result"] for g in gates.values()} == {"pass"}
    assert all(g["value"] is not None for g in gates.values())
    assert all(g["baseline"] is not None for g in gates.values() if g["relative_to_baseline"])
    assert "karpenter_nodes_created_total" in gates["karpenter-nodes-created"]["message"]
    assert "the 0.31.3 name of" in gates["karpenter-nodes-created"]["message"]


def test_regressed_cluster_fails_the_right_gates_and_names_metric_and_values(fleet, karpenter_baseline):
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-regressed",
                            "--version", "1.0.10", "--baseline", str(karpenter_baseline), "--at", AFTER,
                            script=True)  # fmt: skip
    gates = gates_by_name(report, "karp-regressed")
    assert code == 1 and report["promotion"] == "blocked"
    failed = {name for name, g in gates.items() if g["result"] == "fail"}
    assert failed == {"karpenter-cloudprovider-errors", "karpenter-scale-up-startup-p99"}
    assert all(g["result"] == "pass" for name, g in gates.items() if name not in failed)
    errors = gates["karpenter-cloudprovider-errors"]
    assert errors["value"] > 5 * errors["baseline"] > 0
    assert "karpenter_cloudprovider_errors_total" in errors["message"] and "vs baseline" in errors["message"]
    startup = gates["karpenter-scale-up-startup-p99"]
    assert startup["value"] > 140 and 55 < startup["baseline"] < 65
    assert "karpenter_pods_startup_duration_seconds" in startup["message"] and "+1" in startup["message"]
    # before the regression started (08:00) the same cluster was fine
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-regressed",
                            "--version", "1.0.10", "--baseline", str(karpenter_baseline),
                            "--at", "2026-11-20T07:59:00Z")  # fmt: skip
    early = gates_by_name(report, "karp-regressed")
    assert early["karpenter-cloudprovider-errors"]["result"] == "pass"
    assert early["karpenter-scale-up-startup-p99"]["result"] == "pass"


def test_same_gates_judged_per_cluster_in_one_run(fleet, karpenter_baseline):
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters",
                            KARPENTER_CLUSTERS, "--version", "1.0", "--baseline", str(karpenter_baseline),
                            "--at", "1795165187")  # fmt: skip
    assert code == 1  # 08:59:47: an evaluation time off the minute grid still finds fresh data
    assert report["summary"] == {"pass": 20, "fail": 2}
    healthy = gates_by_name(report, "karp-healthy")
    assert healthy["karpenter-cloudprovider-errors"]["result"] == "pass"


def test_without_a_baseline_relative_gates_are_inconclusive_and_block(fleet):
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                            "--version", "1.0.10", "--at", AFTER)  # fmt: skip
    gates = gates_by_name(report, "karp-healthy")
    assert code == 3 and report["promotion"] == "blocked"
    for gate in gates.values():
        if gate["relative_to_baseline"]:
            assert gate["result"] == "inconclusive" and "baseline" in gate["message"]
            assert gate["value"] is not None  # the number is still shown
        else:
            assert gate["result"] == "pass"


def test_stale_metrics_are_inconclusive_even_for_gates_that_default_to_zero(fleet, karpenter_baseline):
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                            "--version", "1.0.10", "--baseline", str(karpenter_baseline),
                            "--at", "2026-11-20T09:30:00Z")  # fmt: skip  # recording ended at 09:00
    gates = gates_by_name(report, "karp-healthy")
    assert code == 3 and {g["result"] for g in gates.values()} == {"inconclusive"}
    assert "stale" in gates["karpenter-disruption-queue-failures"]["message"]


def test_a_cluster_without_metrics_url_is_inconclusive(vm, tmp_path):
    fleet = fleet_copy(tmp_path, "")
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--at", AFTER)
    assert code == 3
    for entry in report["clusters"]:
        assert {g["result"] for g in entry["gates"]} == {"inconclusive"}
        assert all("no metrics URL" in g["message"] for g in entry["gates"])


@pytest.mark.parametrize(
    ("tool", "seed_gates"),
    [
        ("flux", {"flux-reconcile-p99", "flux-gitrepository-reconcile-p99"}),
        ("argocd", {"argocd-sync-failures", "argocd-reconcile-p95"}),
        ("cilium", {"cilium-drops", "cilium-unreachable-nodes"}),
    ],
)
def test_flux_argocd_cilium_seed_gates_pass_on_a_healthy_cluster(fleet, tmp_path, tool, seed_gates):
    out = tmp_path / f"{tool}.json"
    base = cli_in_process("baseline", "--tool", tool, "--fleet", str(fleet), "--at", BEFORE, "--out", str(out))
    assert base.returncode == 0, base.stdout + base.stderr
    code, report = cli_json("validate", "--tool", tool, "--fleet", str(fleet), "--baseline", str(out), "--at", AFTER)
    gates = gates_by_name(report, "platform")
    assert code == 0, [g["message"] for g in gates.values() if g["result"] != "pass"]
    assert seed_gates <= set(gates)
    assert all(g["value"] is not None for g in gates.values())


def test_victoriametrics_upgrade_passes_and_lost_history_fails_the_integrity_check(tmp_path):
    binary = require_binary("victoria-metrics")
    server = victoria_metrics(binary, tmp_path).start()
    try:
        vm_import(server, recorded(clusters=["vm-monitor", "karp-healthy"]))
        fleet = fleet_copy(tmp_path, server.url)
        out = tmp_path / "vm-baseline.json"
        base = upgradectl("baseline", "--tool", "vm", "--fleet", str(fleet), "--at", BEFORE, "--out", str(out))
        assert base.returncode == 0, base.stdout + base.stderr
        integrity = json.loads(out.read_text())["clusters"][0]["integrity"]
        assert integrity["tsdb_field"] == "totalSeries" and integrity["tsdb_series"] > 0
        validate = ("validate", "--tool", "victoriametrics", "--fleet", str(fleet), "--version", "1.102.1",
                    "--baseline", str(out), "--at", AFTER)  # fmt: skip
        code, report = cli_json(*validate)
        gates = gates_by_name(report, "vm-monitor")
        assert code == 0, [g["message"] for g in gates.values() if g["result"] != "pass"]
        assert {"vm-query-latency-p99", "vm-ingestion-rate", "vm-rows-not-dropping", "vm-data-size-not-dropping",
                "vm-integrity-tsdb-series", "vm-integrity-up-series-1h"} <= set(gates)  # fmt: skip

        vm_delete(server, '{cluster="karp-healthy"}')  # history lost in the upgrade
        code, report = cli_json(*validate)
        gates = gates_by_name(report, "vm-monitor")
        assert code == 1
        lost = {name for name, g in gates.items() if g["result"] == "fail"}
        assert {"vm-integrity-tsdb-series", "vm-integrity-up-series-1h", "vm-integrity-up-samples-1h"} <= lost
        assert "data loss" in gates["vm-integrity-up-series-1h"]["message"]
        assert gates["vm-integrity-up-series-1h"]["value"] < gates["vm-integrity-up-series-1h"]["baseline"]
    finally:
        server.stop()


def test_server_stopped_every_gate_inconclusive_and_promotion_blocked(tmp_path):
    binary = require_binary("victoria-metrics")
    server = victoria_metrics(binary, tmp_path).start()
    try:
        vm_import(server, recorded(clusters=["karp-healthy"]))
        fleet = fleet_copy(tmp_path, server.url)
        out = tmp_path / "baseline.json"
        base = upgradectl("baseline", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                          "--to", "1.0.10", "--at", BEFORE, "--out", str(out))  # fmt: skip
        assert base.returncode == 0, base.stdout + base.stderr
    finally:
        server.stop()
    started = time.perf_counter()
    result = upgradectl("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                        "--version", "1.0.10", "--baseline", str(out), "--at", AFTER)  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert time.perf_counter() - started < 15
    assert "promotion BLOCKED" in result.stdout and "PASS" not in result.stdout
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), "--clusters", "karp-healthy",
                            "--version", "1.0.10", "--baseline", str(out), "--at", AFTER)  # fmt: skip
    gates = gates_by_name(report, "karp-healthy")
    assert code == 3 and report["promotion"] == "blocked" and len(gates) == 11
    assert all(g["result"] == "inconclusive" and "unreachable" in g["message"] for g in gates.values())


@pytest.mark.skipif(not recorded(DEMO), reason="the demo fleet has no recorded metrics")
def test_demo_fleet_recorded_metrics_baseline_and_validate(vm, tmp_path):
    fleet = fleet_copy(tmp_path, vm.url, source=DEMO)
    out = tmp_path / "demo-baseline.json"
    scope = ("--clusters", "ravan,eks-staging-apps,dev-apps")  # the demo's Karpenter clusters
    base = cli_in_process("baseline", "--tool", "karpenter", "--fleet", str(fleet), *scope,
                      "--at", "2026-11-20T08:00:00Z", "--out", str(out))  # fmt: skip
    assert base.returncode in (0, 1), base.stdout + base.stderr
    code, report = cli_json("validate", "--tool", "karpenter", "--fleet", str(fleet), *scope,
                            "--baseline", str(out), "--at", AFTER)  # fmt: skip
    clusters = {c["cluster"]: c for c in report["clusters"]}
    assert {"ravan", "eks-staging-apps", "dev-apps"} <= set(clusters)
    judged = [g for c in clusters.values() for g in c["gates"]]
    assert judged and all(g["result"] in ("pass", "fail") and g["value"] is not None for g in judged)
    assert code == (1 if any(g["result"] == "fail" for g in judged) else 0)
