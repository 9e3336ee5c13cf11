"""`upgradectl demo metrics` as a user runs it: the installed script starts a real VictoriaMetrics on loopback
with the demo's recorded series, prints the commands, and those commands run as printed; Ctrl-C stops it."""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import require_binary
from run_cli import EXE, upgradectl

pytestmark = pytest.mark.real


def test_demo_metrics_serves_the_recording_and_its_commands_run_as_printed(tmp_path):
    require_binary("victoria-metrics")
    server = subprocess.Popen([str(EXE), "demo", "metrics", "--port", "0", "--out", str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("Ctrl-C") for line in lines):
            line = server.stdout.readline()
            assert line, server.stderr.read()
            lines.append(line.rstrip("\n"))
        url = next(line.split(": ", 1)[1] for line in lines if line.strip().startswith("metrics_url:"))
        assert url.startswith("http://127.0.0.1:")
        commands = [shlex.split(line.strip()) for line in lines if line.strip().startswith("upgradectl ")]
        assert len(commands) == 6  # baseline and validate for each of the three recorded clusters
        codes = {}
        for argv in commands:
            assert f"--fleet {tmp_path / 'fleet.yaml'}" in shlex.join(argv)
            result = upgradectl(*argv[1:])
            assert "Traceback" not in result.stderr
            codes[(argv[1], argv[argv.index("--cluster") + 1])] = (result.returncode, result.stdout)
        # every baseline records every gate; validate passes on the healthy clusters, and dev-apps' recording
        # holds one more disruption action after the baseline than the +50% the gate allows: a real failure
        assert all(codes[("baseline", c)][0] == 0 for c in ("dev-apps", "eks-staging-apps", "ravan")), codes
        for healthy in ("eks-staging-apps", "ravan"):
            code, table = codes[("validate", healthy)]
            assert code == 0 and "promotion may proceed" in table, table
        code, table = codes[("validate", "dev-apps")]
        assert code == 1 and "FAIL" in table and "karpenter-deprovisioning-actions" in table, table
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "stopped victoria-metrics" in err
    assert not list(tmp_path.glob("vm-data-*"))  # its data went with it
    log = (tmp_path / "victoria-metrics.log").read_text()
    assert "FATAL" not in log


def test_demo_metrics_without_the_binary_says_how_to_get_it(tmp_path):
    result = upgradectl("demo", "metrics", "--binary", str(tmp_path / "no-such-binary"), "--out", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "victoria-metrics is not installed" in result.stderr and "apt-get install" in result.stderr


def test_the_port_taken_is_a_clear_error(tmp_path):
    import socket

    binary = require_binary("victoria-metrics")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = upgradectl("demo", "metrics", "--binary", binary, "--port", str(port), "--out", str(tmp_path))
    assert result.returncode == 2 and f"127.0.0.1:{port} is in use" in result.stderr, result.stderr
    assert not list(Path(tmp_path).glob("vm-data-*"))
