"""Cost KPIs on the demo fleet's ravan match a hand computation from the raw snapshot YAML."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import pytest
import yaml

from upgradectl.tools.cluster.sources import SnapshotCluster
from upgradectl.tools.cost.kpis import analyze_cluster
from upgradectl.tools.cost.prices import load_prices

RAVAN = Path(str(importlib.resources.files("upgradectl") / "demo_fleet" / "clusters" / "ravan"))
PRICES = Path(str(importlib.resources.files("upgradectl.tools.knowledge") / "data" / "cost" / "prices.yaml"))
UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "m": 0.001, "": 1.0}


def qty(v) -> float:
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(v))
    return float(m.group(1)) * UNITS[m.group(2)]


def requests(spec) -> tuple[float, float]:
    def one(c):
        r = (c.get("resources") or {}).get("requests") or {}
        return qty(r.get("cpu", 0)), qty(r.get("memory", 0))

    cpu = sum(one(c)[0] for c in spec["containers"])
    mem = sum(one(c)[1] for c in spec["containers"])
    for c in spec.get("initContainers") or []:
        cpu, mem = max(cpu, one(c)[0]), max(mem, one(c)[1])
    return cpu, mem


@pytest.fixture(scope="module")
def ravan():
    if not (RAVAN / "cluster.yaml").is_file():
        pytest.skip("demo fleet not built (scripts/build_demo_fleet.py)")
    nodes = yaml.safe_load((RAVAN / "resources/core/v1/nodes.yaml").read_text())["items"]
    pods = yaml.safe_load((RAVAN / "resources/core/v1/pods.yaml").read_text())["items"]
    report = analyze_cluster(SnapshotCluster(RAVAN), load_prices(), "ap-south-1", "eks")
    return nodes, pods, report


def test_utilization_spot_share_and_cost_per_pod_hour_match_hand_computation(ravan):
    nodes, pods, report = ravan
    table = yaml.safe_load(PRICES.read_text())["regions"]["ap-south-1"]["prices"]
    active = [p for p in pods if p["status"]["phase"] in ("Running", "Pending") and p["spec"].get("nodeName")]
    high = hourly = 0.0
    spot_nodes = 0
    histogram = [0] * 10
    for node in nodes:
        name, labels = node["metadata"]["name"], node["metadata"]["labels"]
        alloc = node["status"]["allocatable"]
        on = [requests(p["spec"]) for p in active if p["spec"]["nodeName"] == name]
        util = max(sum(c for c, _ in on) / qty(alloc["cpu"]), sum(m for _, m in on) / qty(alloc["memory"]))
        high += util >= 0.8
        histogram[min(9, int(util * 10))] += 1
        capacity = labels.get("karpenter.sh/capacity-type") or labels["eks.amazonaws.com/capacityType"].lower()
        capacity = capacity.replace("_", "-")
        spot_nodes += capacity == "spot"
        hourly += table[labels["node.kubernetes.io/instance-type"]]["spot" if capacity == "spot" else "on_demand"]
    workload = [p for p in active if p["metadata"]["ownerReferences"][0]["kind"] != "DaemonSet"]
    k = report.current
    assert k.nodes == len(nodes)
    assert k.nodes_high == high
    assert k.utilization_histogram == histogram
    assert k.spot_nodes == spot_nodes
    assert k.spot_node_share == pytest.approx(spot_nodes / len(nodes))
    assert k.workload_pods == len(workload)
    assert k.hourly_cost == pytest.approx(hourly)
    assert k.cost_per_pod_hour == pytest.approx(hourly / len(workload))


def test_spot_share_of_requests_matches_hand_computation(ravan):
    nodes, pods, report = ravan
    spot = {n["metadata"]["name"] for n in nodes if n["metadata"]["labels"].get("karpenter.sh/capacity-type") == "spot"}
    work = [p for p in pods if p["status"]["phase"] in ("Running", "Pending") and p["spec"].get("nodeName")
            and p["metadata"]["ownerReferences"][0]["kind"] != "DaemonSet"]
    total = sum(requests(p["spec"])[0] for p in work)
    on_spot = sum(requests(p["spec"])[0] for p in work if p["spec"]["nodeName"] in spot)
    assert report.current.spot_cpu_request_share == pytest.approx(on_spot / total)


def test_ravan_projection_is_checked_bounded_and_states_the_gap(ravan):
    _, _, report = ravan
    c = report.consolidation
    assert c is not None and c.violations == []
    assert c.hourly_after >= c.lower_bound_hourly - 1e-9
    assert c.movable_hourly_after >= c.movable_lower_bound_hourly - 1e-9
    assert c.ratio_to_bound >= 1.0 and c.current_ratio_to_bound >= c.ratio_to_bound
    assert c.savings_monthly == pytest.approx((c.hourly_before - c.hourly_after) * 730)
    # the do-not-evict batch pod and the payments-api pods (PDB maxUnavailable 0) stay put
    reasons = " ".join(p.reason for p in c.pinned)
    assert "do-not-evict" in reasons and "payments/payments-api" in reasons
    assert report.scale_up is not None and report.scale_up.metric == "karpenter_pods_startup_time_seconds"


def test_requests_count_native_sidecars_as_the_scheduler_does():
    """Kubernetes 1.29+: an init container with restartPolicy Always keeps running beside the app and
    beside the init containers after it; a regular init container runs alone with the sidecars before it."""
    from upgradectl.tools.cluster.resources import pod_requests
    from upgradectl.tools.cost.placement_check import _requests

    def c(cpu: str, mem: str, **extra):
        return {"resources": {"requests": {"cpu": cpu, "memory": mem}}, **extra}

    spec = {
        "initContainers": [c("2", "1Gi"), c("250m", "256Mi", restartPolicy="Always"), c("1500m", "2Gi")],
        "containers": [c("500m", "512Mi"), c("250m", "256Mi")],
    }
    # app 0.75 + sidecar 0.25 = 1.0 CPU; init 2.0 alone; init 1.5 + sidecar 0.25 = 1.75 -> 2.0 CPU
    # memory: app 768Mi + 256Mi = 1Gi; 1Gi; 2Gi + 256Mi -> 2.25Gi
    got = pod_requests({"spec": spec})
    assert got.cpu == pytest.approx(2.0) and got.memory == pytest.approx(2.25 * 2**30)
    assert _requests(spec) == pytest.approx((2.0, 2.25 * 2**30))  # the independent checker agrees
    spec["initContainers"] = [c("100m", "64Mi", restartPolicy="Always")]
    got = pod_requests({"spec": spec})
    assert got.cpu == pytest.approx(0.85) and got.memory == pytest.approx((768 + 64) * 2**20)
    assert _requests(spec) == pytest.approx((0.85, (768 + 64) * 2**20))
