"""`upgradectl demo metrics`: the demo fleet's recorded metrics served by a real VictoriaMetrics on loopback.

So `baseline` and `validate` can be tried on the demo without a cluster: the installed `victoria-metrics`
binary starts on 127.0.0.1 with a throw-away data directory, the series recorded in the demo snapshots
(demo_fleet/clusters/*/metrics/*.jsonl, Karpenter 0.31 on dev-apps, eks-staging-apps and ravan, two hours
of 2026-11-20) are imported through /api/v1/import, and a copy of the demo fleet file whose clusters point
at it is written into the state directory. The commands printed use that fleet file and pin `--at` inside
the recording (a gate reads the window ending at --at; "now" has no recorded data): the baseline an hour
(the longest gate window) after the first sample, validation at the last.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from upgradectl.app.errors import UseCaseError
from upgradectl.exit_codes import EXIT_INCOMPLETE
from upgradectl.state_dir import default_state_dir

DEMO_FLEET = Path(__file__).resolve().parent.parent / "demo_fleet"
DEFAULT_PORT = 8428  # VictoriaMetrics' own default; another free port when it is taken
LONGEST_WINDOW_SECONDS = 3600  # the longest Karpenter gate window (1h): the baseline's window must be recorded
TOOL = "karpenter"  # the demo recorded Karpenter's metrics
START_SECONDS = 15.0
IMPORT_TIMEOUT = 30.0
# Karpenter 0.31 node metrics carry 34 labels, more than VictoriaMetrics keeps by default (30): the rest,
# resource_type among them, would be dropped and the gates that select on it would read nothing.
VM_FLAGS = ("-retentionPeriod=100y", "-maxLabelsPerTimeseries=100", "-search.disableCache", "-loggerLevel=ERROR")


@dataclass
class DemoMetrics:
    """A running VictoriaMetrics with the demo series, the fleet file pointing at it, and how to stop it."""

    url: str
    fleet_file: Path
    workdir: Path
    process: subprocess.Popen
    series_files: list[Path]
    clusters: list[str]
    data_dir: Path
    log: Path
    baseline_at: str = ""
    validate_at: str = ""
    commands: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """SIGINT (VictoriaMetrics flushes and exits), then SIGKILL if it hangs; the data directory goes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def recorded_series(fleet_root: Path = DEMO_FLEET) -> list[Path]:
    """The recorded metrics/*.jsonl of the demo snapshots."""
    return sorted((fleet_root / "clusters").glob("*/metrics/*.jsonl"))


def recording_times(files: list[Path]) -> tuple[str, str]:
    """(baseline --at, validate --at) for the recorded series: an hour after the first sample, and the last."""
    first, last = None, None
    for file in files:
        for line in file.read_text().splitlines():
            if line.strip():
                stamps = json.loads(line)["timestamps"]
                first = min(stamps[0], first) if first is not None else stamps[0]
                last = max(stamps[-1], last) if last is not None else stamps[-1]
    if first is None or last is None or last - first < LONGEST_WINDOW_SECONDS * 1000:
        raise UseCaseError("the demo's recorded metrics span less than an hour: the demo fleet is incomplete")

    def rfc3339(millis: int) -> str:
        return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return rfc3339(first + LONGEST_WINDOW_SECONDS * 1000), rfc3339(last)


def start_demo_metrics(binary: str | None = None, port: int | None = None, workdir: Path | None = None) -> DemoMetrics:
    """Start VictoriaMetrics, import the demo series, write the fleet file; UseCaseError with the fix otherwise."""
    executable = binary or shutil.which("victoria-metrics")
    if not executable or not Path(executable).exists():
        raise UseCaseError(
            "victoria-metrics is not installed (looked for it on PATH): install it (Debian/Ubuntu: apt-get install "
            "victoria-metrics; or a release binary from https://github.com/VictoriaMetrics/VictoriaMetrics/releases) "
            "or pass --binary PATH"
        )
    files = recorded_series()
    if not files:
        raise UseCaseError(f"no recorded metrics under {DEMO_FLEET / 'clusters'}: the demo fleet is incomplete")
    workdir = workdir or default_state_dir() / "demo-metrics"
    workdir.mkdir(parents=True, exist_ok=True)
    chosen = _port(port)
    data_dir = Path(tempfile.mkdtemp(prefix="vm-data-", dir=workdir))
    log = workdir / "victoria-metrics.log"
    argv = [executable, f"-httpListenAddr=127.0.0.1:{chosen}", f"-storageDataPath={data_dir}", *VM_FLAGS]
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{chosen}"
    clusters = sorted({file.parent.parent.name for file in files})
    demo = DemoMetrics(url=url, fleet_file=workdir / "fleet.yaml", workdir=workdir, process=process,
                       series_files=files, clusters=clusters, data_dir=data_dir, log=log)  # fmt: skip
    try:
        _wait_ready(url, process, log)
        _import(url, files)
    except UseCaseError:
        demo.stop()
        raise
    _write_fleet(demo.fleet_file, url)
    demo.baseline_at, demo.validate_at = recording_times(files)
    demo.commands = demo_commands(demo.fleet_file, workdir, clusters, demo.baseline_at, demo.validate_at)
    return demo


def demo_commands(
    fleet_file: Path, workdir: Path, clusters: list[str], baseline_at: str, validate_at: str
) -> list[str]:
    """The baseline then validate commands that run on the demo as printed (one cluster per recorded one)."""
    commands = []
    for cluster in clusters:
        baseline = workdir / f"baseline-{TOOL}-{cluster}.json"
        commands += [
            f"upgradectl baseline --tool {TOOL} --fleet {fleet_file} --cluster {cluster} --at {baseline_at} "
            f"--out {baseline}",
            f"upgradectl validate --tool {TOOL} --fleet {fleet_file} --cluster {cluster} --baseline {baseline} "
            f"--at {validate_at}",
        ]
    return commands


def _port(port: int | None) -> int:
    """The port asked for, else 8428 when free, else any free loopback port."""
    for candidate in ([port] if port is not None else [DEFAULT_PORT, 0]):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                if port is not None:
                    message = f"--port {port}: 127.0.0.1:{port} is in use; pick another or pass --port 0"
                    raise UseCaseError(message) from None
                continue
            return probe.getsockname()[1]
    raise UseCaseError("no free loopback port")  # unreachable: port 0 always binds


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-600:].strip()
            raise UseCaseError(f"victoria-metrics exited with {process.returncode} on start: {tail}", EXIT_INCOMPLETE)
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise UseCaseError(f"victoria-metrics did not answer {url}/health within {START_SECONDS:.0f}s (log: {log})",
                       EXIT_INCOMPLETE)  # fmt: skip


def _import(url: str, files: list[Path]) -> None:
    """POST each JSON-lines file to /api/v1/import, then force a flush so queries see the samples at once."""
    try:
        for file in files:
            request = urllib.request.Request(url + "/api/v1/import", data=file.read_bytes(), method="POST")
            with urllib.request.urlopen(request, timeout=IMPORT_TIMEOUT) as response:
                if response.status != 204:
                    raise UseCaseError(f"importing {file.name} answered HTTP {response.status}", EXIT_INCOMPLETE)
        with urllib.request.urlopen(url + "/internal/force_flush", timeout=IMPORT_TIMEOUT):
            pass
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise UseCaseError(f"importing the demo series into {url} failed: {exc}", EXIT_INCOMPLETE) from None


def _write_fleet(path: Path, url: str) -> None:
    """The demo fleet file with absolute paths into the installed demo and every metrics_url set to `url`."""
    document = yaml.safe_load((DEMO_FLEET / "fleet.yaml").read_text())
    if document.get("gitops"):
        document["gitops"]["path"] = str((DEMO_FLEET / document["gitops"]["path"]).resolve())
    for terraform in document.get("terraform") or []:
        terraform["path"] = str((DEMO_FLEET / terraform["path"]).resolve())
    for cluster in document["clusters"]:
        if cluster.get("snapshot"):
            cluster["snapshot"] = str((DEMO_FLEET / cluster["snapshot"]).resolve())
        cluster["metrics_url"] = url
    header = f"# The demo fleet with metrics served by `upgradectl demo metrics` at {url}.\n"
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
