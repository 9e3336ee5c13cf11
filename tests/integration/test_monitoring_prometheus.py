"""The same gates, unchanged, against Prometheus's HTTP API (Debian `prometheus` 2.42 on loopback).

The recorded JSON lines are converted to OpenMetrics and backfilled with `promtool tsdb
create-blocks-from openmetrics` into a fresh TSDB that Prometheus then serves. Numbers differ a little
from VictoriaMetrics (Prometheus extrapolates rate()/increase() to the window edges), but each gate is
compared with a baseline from the same server, so the verdicts are the same.
"""

from __future__ import annotations

import json

import pytest
from conftest import require_binary
from metrics_servers import cli_in_process, fleet_copy, prometheus, recorded
from run_cli import upgradectl

pytestmark = pytest.mark.real

BEFORE = "2026-11-20T06:55:00Z"
AFTER = "2026-11-20T09:00:00Z"


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    prometheus_bin = require_binary("prometheus")
    promtool_bin = require_binary("promtool")
    workdir = tmp_path_factory.mktemp("prometheus")
    server = prometheus(prometheus_bin, promtool_bin, workdir, recorded()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fleet(prom, tmp_path_factory):
    return fleet_copy(tmp_path_factory.mktemp("fleet"), prom.url)


def validate_json(*args: str, script: bool = False) -> tuple[int, dict]:
    result = (upgradectl if script else cli_in_process)("validate", *args, "--at", AFTER, "--format", "json")
    assert "Traceback" not in result.stderr and result.returncode in (0, 1, 3), result.stderr
    return result.returncode, json.loads(result.stdout)


def results(report: dict, cluster: str) -> dict[str, str]:
    entry = next(c for c in report["clusters"] if c["cluster"] == cluster)
    return {g["name"]: g["result"] for g in entry["gates"]}


def test_karpenter_gates_on_prometheus_healthy_pass_regressed_fail(fleet, tmp_path):
    out = tmp_path / "karpenter.json"
    base = upgradectl("baseline", "--tool", "karpenter", "--fleet", str(fleet), "--clusters",
                      "karp-healthy,karp-regressed", "--to", "1.0.10", "--at", BEFORE, "--out", str(out))  # fmt: skip
    assert base.returncode == 0, base.stdout + base.stderr
    code, report = validate_json("--tool", "karpenter", "--fleet", str(fleet), "--clusters",
                                 "karp-healthy,karp-regressed", "--version", "1.0.10",
                                 "--baseline", str(out), script=True)  # fmt: skip
    assert code == 1
    healthy = results(report, "karp-healthy")
    assert len(healthy) == 11 and set(healthy.values()) == {"pass"}, healthy
    regressed = results(report, "karp-regressed")
    assert {n for n, r in regressed.items() if r == "fail"} == {
        "karpenter-cloudprovider-errors",
        "karpenter-scale-up-startup-p99",
    }
    assert {r for n, r in regressed.items() if n not in ("karpenter-cloudprovider-errors",
                                                          "karpenter-scale-up-startup-p99")} == {"pass"}  # fmt: skip


@pytest.mark.parametrize("tool", ["flux", "argocd", "cilium", "victoriametrics"])
def test_every_other_tool_passes_on_prometheus(fleet, tmp_path, tool):
    out = tmp_path / f"{tool}.json"
    base = cli_in_process("baseline", "--tool", tool, "--fleet", str(fleet), "--at", BEFORE, "--out", str(out))
    assert base.returncode == 0, base.stdout + base.stderr
    extra = ("--version", "1.102.1") if tool == "victoriametrics" else ()
    code, report = validate_json("--tool", tool, "--fleet", str(fleet), "--baseline", str(out), *extra)
    failing = {
        g["name"]: g["message"] for c in report["clusters"] for g in c["gates"] if g["result"] != "pass"
    }
    assert code == 0, failing
    if tool == "victoriametrics":
        integrity = json.loads(out.read_text())["clusters"][0]["integrity"]
        assert integrity["tsdb_field"] == "headStats.numSeries"  # Prometheus answers for its head block only
        assert {r["name"] for r in integrity["references"] if r["value"]} >= {"up-series-1h", "vm-series-1h"}
