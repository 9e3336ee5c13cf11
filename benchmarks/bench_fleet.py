"""Plan a generated fleet of big clusters and print the wall time, its ratio to parsing the same snapshot
files with the json module, and the planner's peak memory.

    python benchmarks/bench_fleet.py --clusters 3 --nodes 5000 --pods 50000        # three big clusters
    python benchmarks/bench_fleet.py --clusters 100 --nodes 200 --pods 2000        # an enterprise-shaped fleet
    python benchmarks/bench_fleet.py --clusters 3 --nodes 5000 --pods 50000 --keep /tmp/fleet3 --runs 3

Each cluster is the demo fleet's `ravan` snapshot (Karpenter v0.31.3, Flux, Cilium, the CRDs, Helm
releases, webhooks) with its nodes and pods replaced by `--nodes` nodes and `--pods` pods copied from
ravan's own (node i is ravan's node i mod 12 renamed; every node gets its DaemonSet pods, the rest are
ravan's workload pods spread round-robin), written as JSON like `upgradectl snapshot` lists. Clusters are
dev, staging and prod in thirds. The plan is `upgradectl plan --tool karpenter --format json --out DIR
--llm off` in a fresh process (start-up included), as a user runs it, first with an empty parse cache (the
first plan on a recording: every cost report worked out, every plot drawn) and then again with that cache (the
cost reports and plots kept by the first: tools/parse_cache.py); the raw parse is `json.loads` of every resource
file of the fleet, one file at a time. All are best of `--runs`.
Targets (issue 15): 3 x (5,000 nodes, 50,000 pods) within 2x the raw parse and 1 GB; 100 x (200, 2,000)
within 30 s and 1 GB.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from upgradectl.tools import yamlio
from upgradectl.tools.cluster.fleet import demo_fleet_path
from upgradectl.tools.cluster.prefetch import WORKERS_ENV

BASE_CLUSTER = "ravan"
ENVIRONMENTS = ("dev", "staging", "prod")
TOOL_NAMESPACES = ("karpenter", "flux-system")  # ravan's own tool pods are kept once, never copied
Obj = dict[str, Any]


def _list(items: list[Obj], kind: str) -> Obj:
    return {"apiVersion": "v1", "kind": f"{kind}List", "items": items}


def _rename_node(template: Obj, index: int) -> Obj:
    """ravan's node `template` as node number `index`: new name, hostname, IP and provider id."""
    node = copy.deepcopy(template)
    ip = f"10.{40 + index // 62500}.{index // 250 % 250}.{index % 250 + 1}"
    name = f"ip-{ip.replace('.', '-')}.ap-south-1.compute.internal"
    meta = node["metadata"]
    meta["name"] = name
    meta["uid"] = f"00000000-0000-4000-8000-{index:012d}"
    meta.get("labels", {})["kubernetes.io/hostname"] = name
    meta.get("annotations", {})["alpha.kubernetes.io/provided-node-ip"] = ip
    node["spec"]["providerID"] = f"aws:///ap-south-1a/i-{index:017x}"
    node["status"]["addresses"] = [
        {"address": ip, "type": "InternalIP"},
        {"address": name, "type": "InternalDNS"},
        {"address": name, "type": "Hostname"},
    ]
    return node


def _copy_pod(template: Obj, suffix: str, node: str, index: int) -> Obj:
    pod = copy.deepcopy(template)
    meta = pod["metadata"]
    meta["name"] = f"{meta['name']}-{suffix}"
    meta["uid"] = f"00000000-0000-4000-9000-{index:012d}"
    pod["spec"]["nodeName"] = node
    return pod


def generate_cluster(root: Path, name: str, nodes: int, pods: int) -> None:
    """One cluster snapshot: ravan's resources as JSON, `nodes` nodes and `pods` pods."""
    base = demo_fleet_path().parent / "clusters" / BASE_CLUSTER
    meta = yamlio.load((base / "cluster.yaml").read_text())
    meta["name"] = name
    root.mkdir(parents=True)
    (root / "cluster.yaml").write_text(json.dumps(meta, indent=1))  # JSON is YAML
    for file in sorted((base / "resources").glob("*/*/*.yaml")):
        target = root / "resources" / file.relative_to(base / "resources").with_suffix(".json")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.stem in ("nodes", "pods"):
            continue
        target.write_text(json.dumps(yamlio.load(file.read_text())))
    if (base / "metrics").is_dir():
        shutil.copytree(base / "metrics", root / "metrics")
    core = base / "resources" / "core" / "v1"
    base_nodes = yamlio.load((core / "nodes.yaml").read_text())["items"]
    base_pods = yamlio.load((core / "pods.yaml").read_text())["items"]
    node_list = [_rename_node(base_nodes[i % len(base_nodes)], i) for i in range(nodes)]
    daemon_pods: dict[str, list[Obj]] = {}
    workload_pods: list[Obj] = []
    for pod in base_pods:
        owner = (pod["metadata"].get("ownerReferences") or [{}])[0].get("kind")
        if owner == "DaemonSet":
            daemon_pods.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
        elif owner in ("ReplicaSet", "StatefulSet") and pod["metadata"]["namespace"] not in TOOL_NAMESPACES:
            workload_pods.append(pod)
    per_node = list(daemon_pods.values())
    pod_list: list[Obj] = []
    for i, node in enumerate(node_list):  # DaemonSet pods first: one set per node
        for template in per_node[i % len(per_node)]:
            if len(pod_list) < pods:
                pod_list.append(_copy_pod(template, f"n{i}", node["metadata"]["name"], len(pod_list)))
    keep = [p for p in base_pods if p["metadata"]["namespace"] in TOOL_NAMESPACES]
    for j in range(pods - len(pod_list) - len(keep)):  # the workload, round-robin over the nodes
        node = node_list[j % nodes]["metadata"]["name"]
        pod_list.append(_copy_pod(workload_pods[j % len(workload_pods)], f"w{j}", node, len(pod_list)))
    pod_list.extend(keep)
    (root / "resources" / "core" / "v1" / "nodes.json").write_text(json.dumps(_list(node_list, "Node")))
    (root / "resources" / "core" / "v1" / "pods.json").write_text(json.dumps(_list(pod_list, "Pod")))


def generate_fleet(root: Path, clusters: int, nodes: int, pods: int) -> Path:
    """A fleet.yaml with `clusters` generated snapshots (dev, staging, prod in thirds); returns the file."""
    entries = []
    for i in range(clusters):
        name = f"cluster-{i:03d}"
        generate_cluster(root / "clusters" / name, name, nodes, pods)
        entries.append(
            {"name": name, "environment": ENVIRONMENTS[i * 3 // clusters], "provider": "eks",
             "region": "ap-south-1", "snapshot": f"clusters/{name}"}
        )
    fleet = root / "fleet.yaml"
    fleet.write_text(json.dumps({"name": f"bench-{clusters}x{nodes}x{pods}", "clusters": entries}, indent=1))
    return fleet


def raw_parse_seconds(root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of json.loads of every resource file of the fleet, one file at a time."""
    started, cpu = time.perf_counter(), time.process_time()
    for file in sorted(root.glob("clusters/*/resources/*/*/*.json")):
        json.loads(file.read_bytes())
    return time.perf_counter() - started, time.process_time() - cpu


def _own_cpu(pid: int) -> float:
    """CPU seconds (user + system) of an exited, not yet reaped process itself, without its children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plan_once(fleet: Path, out: Path, tool: str, cache: Path) -> tuple[float, float, int, float, float]:
    """(wall seconds, peak RSS MiB of the biggest process, exit code, CPU seconds of the plan and its snapshot
    reading workers, CPU seconds of the plan process alone) of one `upgradectl plan` in a fresh process, with this
    parse cache directory."""
    exe = Path(sys.executable).with_name("upgradectl")
    cmd = [str(exe), "plan", "--tool", tool, "--fleet", str(fleet), "--format", "json", "--llm", "off",
           "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["UPGRADECTL_CACHE_DIR"] = str(cache)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: /proc still has its own CPU
    wall = time.perf_counter() - started
    own = _own_cpu(proc.pid)
    _pid, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):
        sys.exit(f"plan failed ({code}): {proc.stderr.read().decode()[-800:] if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024, code, usage.ru_utime + usage.ru_stime, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=5000, help="nodes per cluster")
    parser.add_argument("--pods", type=int, default=50000, help="pods per cluster (DaemonSet pods included)")
    parser.add_argument("--runs", type=int, default=3, help="best of this many plans and raw parses")
    parser.add_argument("--tool", default="karpenter")
    parser.add_argument("--keep", type=Path, help="generate into this directory (reused when it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = args.keep or Path(tmp) / "fleet"
        fleet = root / "fleet.yaml"
        if not fleet.is_file():
            started = time.perf_counter()
            generate_fleet(root, args.clusters, args.nodes, args.pods)
            print(f"generated {args.clusters} clusters x ({args.nodes} nodes, {args.pods} pods) in "
                  f"{time.perf_counter() - started:.1f}s under {root}")
        size = sum(f.stat().st_size for f in root.glob("clusters/*/resources/*/*/*.json"))
        parses = [raw_parse_seconds(root) for _ in range(args.runs)]
        parse, parse_cpu = min(p[0] for p in parses), min(p[1] for p in parses)
        out = Path(tmp) / "plan"
        first = [plan_once(fleet, out, args.tool, Path(tmp) / f"cache-{run}") for run in range(args.runs)]
        again = [plan_once(fleet, out, args.tool, Path(tmp) / "cache-0") for _ in range(args.runs)]
        plan_size = (Path(tmp) / "plan" / "plan.json").stat().st_size
    print(f"fleet: {args.clusters} clusters x ({args.nodes} nodes, {args.pods} pods), "
          f"{size / 2**20:.0f} MiB of JSON snapshots")
    print(f"raw parse (json.loads, best of {args.runs}): {parse:.2f}s wall, CPU {parse_cpu:.2f}s")
    for name, runs in (("first plan, empty cache", first), ("plan again, warm cache", again)):
        wall, cpu, own = min(r[0] for r in runs), min(r[3] for r in runs), min(r[4] for r in runs)
        print(f"plan --tool {args.tool}, {name} (best of {args.runs}, fresh process): {wall:.2f}s wall, "
              f"{wall / parse:.2f}x raw parse, peak RSS {max(r[1] for r in runs):.0f} MiB (max of runs), "
              f"plan.json {plan_size / 2**20:.2f} MiB, exit {runs[-1][2]}")
        print(f"  CPU (user + system): {cpu:.2f}s, {cpu / parse_cpu:.2f}x the raw parse's CPU (on a shared machine "
              f"CPU time is the steadier figure); the plan process itself: {own:.2f}s ({own / parse_cpu:.2f}x), the "
              f"processes it forks: {cpu - own:.2f}s (snapshot-reading workers, which {WORKERS_ENV}=0 turns off; "
              "plots; half of a big HTML page)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min), "
          f"{os.getloadavg()[2]:.1f} (15 min)")


if __name__ == "__main__":
    main()
