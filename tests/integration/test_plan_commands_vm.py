"""The plan's own baseline and validate commands, run exactly as printed (from the fleet file's directory, as
the plan says) against a fleet whose metrics live in a real VictoriaMetrics, pass on the healthy cluster.

The recorded fixture (tests/fixtures/metrics, vm-monitor) upgrades VictoriaMetrics 1.93.16 -> 1.102.1 at 07:00 and
stays healthy. The printed commands carry no --at, so the test moves the clock the way a real rollout does: the
baseline runs against a VictoriaMetrics holding the recording up to 06:55, shifted so that 06:55 is now; the
validation runs later against one holding the whole recording, shifted so that 09:00 is now. The fleet file names
each in turn (its metrics_url); the commands are the same strings the plan printed."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from conftest import require_binary
from metrics_servers import FIXTURES, fleet_copy, recorded, victoria_metrics, vm_import
from run_cli import upgradectl

pytestmark = pytest.mark.real

BEFORE = datetime(2026, 11, 20, 6, 55, tzinfo=UTC)
AFTER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def shifted(files: list[Path], moment: datetime, out: Path) -> Path:
    """The recording moved in time so that `moment` is now, cut at now (nothing from the future)."""
    now_ms = int(time.time() * 1000)
    offset = now_ms - int(moment.timestamp() * 1000)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as sink:
        for file in files:
            for line in file.read_text().splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                pairs = [(v, t + offset) for v, t in zip(item["values"], item["timestamps"], strict=True)
                         if t + offset <= now_ms]  # fmt: skip
                if pairs:
                    item["values"], item["timestamps"] = [p[0] for p in pairs], [p[1] for p in pairs]
                    sink.write(json.dumps(item) + "\n")
    return out


def run_printed(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "upgradectl"
    return upgradectl(*argv[1:], cwd=cwd, timeout=120)


def point_fleet_at(fleet: Path, url: str) -> None:
    document = yaml.safe_load(fleet.read_text())
    for cluster in document["clusters"]:
        cluster["metrics_url"] = url
    fleet.write_text(yaml.safe_dump(document, sort_keys=False))


def test_printed_baseline_and_validate_pass_on_the_healthy_cluster(tmp_path):
    binary = require_binary("victoria-metrics")
    fleet = fleet_copy(tmp_path, "http://127.0.0.1:9")
    made = upgradectl("plan", "--tool", "victoriametrics", "--to", "1.102.1", "--fleet", str(fleet),
                      "--clusters", "vm-monitor", "--format", "json", "--no-fetch-charts", timeout=120)  # fmt: skip
    assert made.returncode in (0, 1, 3), made.stderr
    plan = json.loads(made.stdout)
    assert plan["verification"]["violations"] == []
    printed = [c for stage in plan["rollout"] for s in stage["steps"] for c in s["commands"]
               if c.startswith("upgradectl ")]  # fmt: skip
    baseline = [c for c in printed if c.startswith("upgradectl baseline")]
    validate = [c for c in printed if c.startswith("upgradectl validate")]
    assert len(baseline) == 1 and len(validate) == 1, printed  # one hop: 1.93.16 -> 1.102.1
    assert f"--fleet {fleet}" in baseline[0] and "--cluster vm-monitor" in validate[0]
    assert "--baseline baseline-victoriametrics-vm-monitor-1.93.16.json" in validate[0]
    files = recorded(FIXTURES, ["vm-monitor"])

    (tmp_path / "before").mkdir()
    before = victoria_metrics(binary, tmp_path / "before").start()
    try:
        vm_import(before, [shifted(files, BEFORE, tmp_path / "before.jsonl")])
        point_fleet_at(fleet, before.url)
        result = run_printed(baseline[0], fleet.parent)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        before.stop()
    assert (fleet.parent / "baseline-victoriametrics-vm-monitor-1.93.16.json").is_file()

    (tmp_path / "after").mkdir()
    after = victoria_metrics(binary, tmp_path / "after").start()
    try:
        vm_import(after, [shifted(files, AFTER, tmp_path / "after.jsonl")])
        point_fleet_at(fleet, after.url)
        result = run_printed(validate[0], fleet.parent)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "promotion may proceed" in result.stdout
    finally:
        after.stop()
