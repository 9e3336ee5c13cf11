"""Helpers for the live-cluster tests: served snapshots on loopback (in a thread or as the real
`upgradectl serve-snapshot` process), kubeconfigs for them, and the CLI run as a user runs it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from upgradectl.tools.cluster.snapshot_api import SnapshotAPI
from upgradectl.tools.cluster.snapshot_server import kubeconfig_for, make_server, server_url, write_kubeconfig

DEMO_FLEET = Path(str(resources.files("upgradectl") / "demo_fleet"))
RAVAN = DEMO_FLEET / "clusters" / "ravan"


@dataclass
class Served:
    """A snapshot served in this process; `requests` logs (method, path, status) of every request."""

    url: str
    kubeconfig: Path
    context: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    def non_get(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] not in ("GET", "HEAD")]


@contextmanager
def served_in_thread(snapshot: Path, tmp: Path, handler_class=None) -> Iterator[Served]:
    """Serve a snapshot from a thread; yields its URL and a kubeconfig file for it."""
    api = SnapshotAPI.load(snapshot)
    log: list[tuple[str, str, int]] = []
    server = make_server(api, 0, on_request=lambda method, path, code: log.append((method, path, code)))
    if handler_class is not None:
        server.RequestHandlerClass = type("Custom", (handler_class, server.RequestHandlerClass), {})
    kubeconfig = tmp / f"kubeconfig-{api.name}-{server.server_address[1]}"
    write_kubeconfig(kubeconfig, kubeconfig_for(server_url(server), api.name))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Served(server_url(server), kubeconfig, api.name, log)
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def served_by_cli(snapshot: Path, tmp: Path) -> Iterator[tuple[Served, subprocess.Popen]]:
    """Run the real `upgradectl serve-snapshot DIR --port 0 --kubeconfig FILE`; stop it with Ctrl-C (SIGINT)."""
    kubeconfig = tmp / f"kubeconfig-cli-{snapshot.name}"
    exe = Path(sys.executable).with_name("upgradectl")
    process = subprocess.Popen(
        [str(exe), "serve-snapshot", str(snapshot), "--port", "0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"serve-snapshot did not start: {process.communicate()}")
        time.sleep(0.05)
    config = yaml.safe_load(kubeconfig.read_text())
    try:
        yield Served(config["clusters"][0]["cluster"]["server"], kubeconfig, config["current-context"]), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kubeconfig_with(path: Path, contexts: dict[str, str]) -> Path:
    """One kubeconfig holding several contexts: name -> server URL."""
    config: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, url in contexts.items():
        one = kubeconfig_for(url, name)
        config["clusters"] += one["clusters"]
        config["contexts"] += one["contexts"]
        config["users"] = one["users"]
        config["current-context"] = name
    write_kubeconfig(path, config)
    return path


def copy_snapshot(source: Path, target: Path, *, metrics: bool = False) -> Path:
    """Copy a snapshot (without its metrics/ and alerts.json unless asked: serve-snapshot serves only the
    Kubernetes API; those come from the metrics source)."""
    shutil.copytree(source, target, ignore=None if metrics else shutil.ignore_patterns("metrics", "alerts.json"))
    return target


def fleet_with(root: Path, clusters: list[dict], *, gitops: bool = True) -> Path:
    """A fleet.yaml in root, with copies of the demo fleet's GitOps repo and Terraform root beside it."""
    root.mkdir(parents=True, exist_ok=True)
    spec: dict = {"name": "live-test", "clusters": clusters}
    if gitops:
        for part in ("infra-flux", "terraform"):
            if not (root / part).exists():
                shutil.copytree(DEMO_FLEET / part, root / part)
        spec["gitops"] = {"path": "infra-flux"}
        spec["terraform"] = [{"path": "terraform/eks"}]
    (root / "fleet.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root / "fleet.yaml"
