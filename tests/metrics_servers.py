"""Real metrics servers on loopback for the tests: VictoriaMetrics (import JSON lines) and Prometheus
(backfilled with `promtool tsdb create-blocks-from openmetrics`), plus fleet files that point at them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "metrics"
DEMO = Path(__file__).resolve().parent.parent / "upgradectl" / "demo_fleet"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.03)
    raise RuntimeError(f"{url} not ready after {seconds}s: {log.read_text()[-2000:]}")


class Server:
    """A child process serving a Prometheus-compatible API on 127.0.0.1; `stop()` ends only this process."""

    def __init__(self, argv: list[str], port: int, ready_path: str, workdir: Path):
        self.argv, self.port, self.ready_path, self.workdir = argv, port, ready_path, workdir
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"{Path(argv[0]).name}-{port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        self.process = subprocess.Popen(
            self.argv, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait(self.url + self.ready_path, self.process, self.log)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)  # graceful, as VictoriaMetrics asks for
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def victoria_metrics(binary: str, workdir: Path) -> Server:
    """victoria-metrics on a free loopback port with its own data dir. Recorded samples are dated
    2026-11-20, hence the long retention; Karpenter 0.31 node metrics carry 34 labels, more than the
    default -maxLabelsPerTimeseries=30 (VictoriaMetrics would drop the rest, resource_type among them)."""
    port = free_port()
    argv = [
        binary,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir / 'vm-data'}",
        "-retentionPeriod=100y",
        "-maxLabelsPerTimeseries=100",
        "-search.disableCache",
        "-loggerLevel=ERROR",
    ]
    return Server(argv, port, "/health", workdir)


def vm_import(server: Server, files: list[Path]) -> None:
    """POST JSON lines to /api/v1/import, then /internal/force_flush so queries see them at once."""
    for file in files:
        request = urllib.request.Request(server.url + "/api/v1/import", data=file.read_bytes(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 204, f"import of {file} answered {response.status}"
    with urllib.request.urlopen(server.url + "/internal/force_flush", timeout=30) as response:
        assert response.status == 200


def vm_delete(server: Server, selector: str) -> None:
    """Delete every series a selector matches (simulates data lost in an upgrade)."""
    data = urllib.parse.urlencode({"match[]": selector}).encode()
    request = urllib.request.Request(server.url + "/api/v1/admin/tsdb/delete_series", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(files: list[Path]) -> str:
    """JSON lines -> OpenMetrics text for promtool: series grouped by metric name, timestamps in seconds."""
    by_name: dict[str, list[str]] = {}
    for file in files:
        for line in file.read_text().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            labels = dict(item["metric"])
            name = labels.pop("__name__")
            rendered = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
            prefix = f"{name}{{{rendered}}}"
            rows = by_name.setdefault(name, [])
            rows.extend(f"{prefix} {v} {t / 1000:.3f}" for v, t in zip(item["values"], item["timestamps"], strict=True))
    return "\n".join(row for name in sorted(by_name) for row in by_name[name]) + "\n# EOF\n"


def prometheus(prometheus_bin: str, promtool_bin: str, workdir: Path, files: list[Path]) -> Server:
    """Prometheus 2.x on a free loopback port over a TSDB backfilled from the recorded series."""
    data = workdir / "prom-data"
    source = workdir / "recorded.om"
    source.write_text(openmetrics(files))
    subprocess.run([promtool_bin, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    argv = [
        prometheus_bin,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=error",
    ]
    return Server(argv, port, "/-/ready", workdir)


def fleet_copy(workdir: Path, metrics_url: str, source: Path = FIXTURES, name: str = "fleet.yaml") -> Path:
    """The fleet file at `source` rewritten into workdir with absolute paths and every metrics_url set."""
    document = yaml.safe_load((source / "fleet.yaml").read_text())
    if document.get("gitops"):
        document["gitops"]["path"] = str((source / document["gitops"]["path"]).resolve())
    for tf in document.get("terraform", []) or []:
        tf["path"] = str((source / tf["path"]).resolve())
    for cluster in document["clusters"]:
        if cluster.get("snapshot"):
            cluster["snapshot"] = str((source / cluster["snapshot"]).resolve())
        cluster["metrics_url"] = metrics_url
    path = workdir / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def recorded(source: Path = FIXTURES, clusters: list[str] | None = None) -> list[Path]:
    """The recorded metrics/*.jsonl of a fleet's snapshots (optionally only some clusters)."""
    root = source / "clusters"
    return sorted(p for p in root.glob("*/metrics/*.jsonl") if clusters is None or p.parent.parent.name in clusters)


def cli_in_process(*args: str) -> subprocess.CompletedProcess:
    """`upgradectl ARGS` in this process (typer's runner): the same command code without a ~0.5 s interpreter
    start, for the many secondary cases; the acceptance cases run the installed script."""
    from upgradectl.cli import app as cli

    if not any((c.name or c.callback.__name__) == "validate" for c in cli.app.registered_commands):
        cli.register_commands()
    result = CliRunner().invoke(cli.app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug: the user would have seen "internal error"
    return subprocess.CompletedProcess(["upgradectl", *args], result.exit_code, result.stdout, result.stderr)
