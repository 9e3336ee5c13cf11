#!/usr/bin/env python3
"""Benchmark: serve a synthetic snapshot of 5,000 nodes and 50,000 pods, record it with `upgradectl snapshot`,
and read it the way a plan does (LiveCluster). Prints seconds and peak memory of each part.

    python benchmarks/bench_serve_snapshot.py                  # 5,000 nodes, 50,000 pods
    python benchmarks/bench_serve_snapshot.py --nodes 500 --pods 5000 --keep /tmp/bench

Each part runs in its own process so peak RSS (getrusage via wait4, VmHWM for the server) belongs to it
alone; the live read also reports tracemalloc's peak of Python allocations. Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ZONES = ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
TYPES = [("m5.xlarge", 4, 16), ("m5.2xlarge", 8, 32), ("c5.2xlarge", 8, 16), ("r5.xlarge", 4, 32)]


def node(i: int, rng: random.Random) -> dict:
    itype, cpu, mem = rng.choice(TYPES)
    zone = ZONES[i % 3]
    name = f"ip-10-{i // 250}-{i % 250}-{rng.randrange(1, 254)}.ap-south-1.compute.internal"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"{i:08x}-0000-4000-8000-{i:012x}", "resourceVersion": str(1000 + i),
                     "creationTimestamp": "2026-11-01T08:00:00Z",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": itype,
                                "topology.kubernetes.io/region": "ap-south-1", "topology.kubernetes.io/zone": zone,
                                "karpenter.sh/provisioner-name": "default",
                                "karpenter.sh/capacity-type": rng.choice(["spot", "on-demand"])}},
        "spec": {"providerID": f"aws:///{zone}/i-{i:017x}"},
        "status": {
            "capacity": {"cpu": str(cpu), "memory": f"{mem}Gi", "pods": "58", "ephemeral-storage": "104845292Ki"},
            "allocatable": {"cpu": f"{cpu * 1000 - 90}m", "memory": f"{mem * 1024 - 900}Mi", "pods": "58"},
            "conditions": [{"type": t, "status": "False" if t != "Ready" else "True", "reason": f"Kubelet{t}",
                            "lastHeartbeatTime": "2026-11-20T08:59:30Z", "lastTransitionTime": "2026-11-01T08:01:00Z"}
                           for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
            "addresses": [{"type": "InternalIP", "address": f"10.{i // 250}.{i % 250}.10"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.29.6-eks-1552ad0", "containerRuntimeVersion": "containerd://1.7.11",
                         "osImage": "Amazon Linux 2", "kernelVersion": "5.10.219-208.866.amzn2.x86_64"},
            "images": [{"names": [f"111122223333.dkr.ecr.ap-south-1.amazonaws.com/app-{k}:v1.{k}"], "sizeBytes": 10**8}
                       for k in range(8)],
        },
    }


def pod(i: int, nodes: list[str], rng: random.Random) -> dict:
    namespace = f"team-{i % 40}"
    app = f"svc-{i % 900}"
    name = f"{app}-{rng.getrandbits(40):010x}-{rng.getrandbits(20):05x}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"{i:08x}-1111-4000-8000-{i:012x}",
                     "resourceVersion": str(10_000 + i), "creationTimestamp": "2026-11-15T10:00:00Z",
                     "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": namespace,
                                "pod-template-hash": f"{i % 997:x}"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-{i % 997:x}",
                                          "uid": f"{i % 900:08x}-2222-4000-8000-000000000000", "controller": True}]},
        "spec": {
            "nodeName": rng.choice(nodes),
            "containers": [{"name": "app", "image": f"111122223333.dkr.ecr.ap-south-1.amazonaws.com/{app}:v2.{i % 13}",
                            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                            "env": [{"name": "LOG_LEVEL", "value": "info"},
                                    {"name": "DB_PASSWORD", "value": "hunter2"}],
                            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                            "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
            "serviceAccountName": "default", "restartPolicy": "Always",
        },
        "status": {"phase": "Running", "podIP": f"10.{100 + i % 100}.{i // 250 % 250}.{i % 250}",
                   "startTime": "2026-11-15T10:00:05Z", "qosClass": "Burstable",
                   "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-11-15T10:00:09Z"}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": [{"name": "app", "ready": True, "restartCount": i % 3, "started": True,
                                          "image": f"{app}:v2.{i % 13}",
                                          "state": {"running": {"startedAt": "2026-11-15T10:00:08Z"}}}]},
    }


def generate(root: Path, nodes: int, pods: int) -> None:
    """Write the synthetic snapshot (JSON lists: the format reads them like YAML, and they load fast)."""
    rng = random.Random("upgradectl-bench")
    core = root / "resources" / "core" / "v1"
    core.mkdir(parents=True)
    node_objs = [node(i, rng) for i in range(nodes)]
    names = [n["metadata"]["name"] for n in node_objs]
    (core / "nodes.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": node_objs}))
    del node_objs
    (core / "pods.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                "items": [pod(i, names, rng) for i in range(pods)]}))
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{i}"}} for i in range(40)]
    (core / "namespaces.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": namespaces}))
    (root / "cluster.yaml").write_text(yaml.safe_dump({
        "name": "bench", "provider": "eks", "region": "ap-south-1", "recorded_at": "2026-11-20T09:00:00Z",
        "recorded_from": "synthetic benchmark fixture",
        "server_version": {"major": "1", "minor": "29+", "gitVersion": "v1.29.6-eks-1552ad0",
                           "platform": "linux/amd64"},
    }))


def timed_child(argv: list[str]) -> tuple[float, int, int, str]:
    """Run a child process; return (seconds, exit code, peak RSS in MiB, stderr tail)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stderr = child.stderr.read() if child.stderr else ""
    return seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss // 1024, stderr.strip()[-300:]


def peak_rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def live_read(kubeconfig: str, trace: bool) -> None:
    """The plan path: open the context (preflight) and read nodes and pods into LiveCluster's cache."""
    from upgradectl.tools.cluster.live import LiveCluster

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    cluster = LiveCluster.open("bench", kubeconfig)
    pods, nodes = cluster.objects("v1", "Pod"), cluster.objects("v1", "Node")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] >> 20 if trace else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"seconds": seconds, "pods": len(pods), "nodes": len(nodes), "tracemalloc_peak_mib": peak,
                      "rss_peak_mib": rss}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=50000)
    parser.add_argument("--keep", type=Path, help="Work in this directory and keep it (default: a temp dir, removed).")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="Also measure the live read's peak Python allocations (tracemalloc; slows it ~2x).")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--live-read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        return generate(args.generate, args.nodes, args.pods)
    if args.live_read:
        return live_read(args.live_read, args.tracemalloc)

    work = args.keep or Path(tempfile.mkdtemp(prefix="upgradectl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    snapshot, recording, kubeconfig = work / "snapshot", work / "recording", work / "kubeconfig"
    for stale in (snapshot, recording, kubeconfig):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    upgradectl = str(Path(sys.executable).with_name("upgradectl"))
    rows = []
    try:
        seconds, code, rss, err = timed_child([sys.executable, __file__, "--generate", str(snapshot),
                                               "--nodes", str(args.nodes), "--pods", str(args.pods)])
        assert code == 0, err
        size = sum(f.stat().st_size for f in snapshot.rglob("*") if f.is_file()) >> 20
        label = f"generate snapshot ({args.nodes:,} nodes, {args.pods:,} pods, {size} MiB JSON)"
        rows.append((label, seconds, rss, ""))

        started = time.perf_counter()
        server = subprocess.Popen([upgradectl, "serve-snapshot", str(snapshot), "--port", "0", "--kubeconfig",
                                   str(kubeconfig)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while not kubeconfig.exists():
            if server.poll() is not None:
                raise SystemExit(f"serve-snapshot failed: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.05)
        rows.append(("serve-snapshot: load and listen", time.perf_counter() - started, peak_rss_mib(server.pid), ""))
        try:
            seconds, code, rss, err = timed_child([upgradectl, "snapshot", "--context", "bench", "--kubeconfig",
                                                   str(kubeconfig), "--out", str(recording)])
            assert code == 0, err
            written = sum(f.stat().st_size for f in recording.rglob("*") if f.is_file()) >> 20
            label = f"upgradectl snapshot (record, {written} MiB YAML written)"
            rows.append((label, seconds, rss, err.splitlines()[-1]))

            probe = subprocess.run([sys.executable, __file__, "--live-read", str(kubeconfig)]
                                   + (["--tracemalloc"] if args.tracemalloc else []),
                                   capture_output=True, text=True, check=True)
            live = json.loads(probe.stdout)
            traced = live["tracemalloc_peak_mib"]
            rows.append(("LiveCluster read of nodes+pods (plan path)", live["seconds"], live["rss_peak_mib"],
                         f"tracemalloc peak {traced} MiB" if traced is not None else ""))
            rows.append(("serve-snapshot peak while serving both", 0.0, peak_rss_mib(server.pid), ""))
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'step':<62} {'seconds':>8} {'peak RSS MiB':>13}")
    for step, seconds, rss, note in rows:
        print(f"{step:<62} {seconds:>8.1f} {rss:>13}  {note}")


if __name__ == "__main__":
    main()
