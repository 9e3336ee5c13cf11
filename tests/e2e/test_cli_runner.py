"""The warm CLI server the tests run the CLI through (tests/cli_zygote.py via tests/run_cli.py) gives what the
installed script gives: the same exit code, stdout and stderr, with the caller's environment and working
directory, and a timeout that stops the run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from run_cli import upgradectl

RAVAN = Path(__file__).resolve().parents[2] / "upgradectl" / "demo_fleet" / "clusters" / "ravan"


def both_ways(monkeypatch, *args: str, **kwargs) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    monkeypatch.setenv("UPGRADECTL_TEST_SCRIPT", "0")
    warm = upgradectl(*args, **kwargs)
    monkeypatch.setenv("UPGRADECTL_TEST_SCRIPT", "1")
    script = upgradectl(*args, **kwargs)
    return warm, script


@pytest.mark.parametrize("args", [
    ("scan", "--fleet", "demo", "--format", "json"),  # exit 3 (removed APIs found), a long stdout
    ("status", "--fleet", "demo", "--format", "json"),  # exit 1
    ("plan", "--bogus"),  # a usage error: exit 2 and click's message on stderr
])
def test_the_warm_server_and_the_installed_script_agree(monkeypatch, args):
    warm, script = both_ways(monkeypatch, *args)
    assert (warm.returncode, warm.stdout, warm.stderr) == (script.returncode, script.stdout, script.stderr)
    assert warm.stdout or warm.stderr


def test_the_callers_environment_and_working_directory_reach_the_run(monkeypatch, tmp_path):
    # a relative --out lands in the caller's cwd; an unusable UPGRADECTL_KUBE_TIMEOUT from the caller's environment
    # is the run's error, named (read when used, not when the server imported the CLI)
    warm, script = both_ways(monkeypatch, "cost", "--fleet", "demo", "--cluster", "ravan", "-o", "costs",
                             cwd=tmp_path)  # fmt: skip
    assert warm.returncode == script.returncode == 0, warm.stderr
    assert (tmp_path / "costs" / "cost.json").is_file()
    monkeypatch.setenv("UPGRADECTL_TEST_SCRIPT", "0")
    bad = upgradectl("snapshot", "--context", "nowhere", "--out", str(tmp_path / "snap"),
                     env={"UPGRADECTL_KUBE_TIMEOUT": "soon", "KUBECONFIG": str(tmp_path / "none")})  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "UPGRADECTL_KUBE_TIMEOUT='soon' is not a positive number" in bad.stderr


def test_a_run_past_its_timeout_is_stopped(monkeypatch, tmp_path):
    monkeypatch.setenv("UPGRADECTL_TEST_SCRIPT", "0")
    with pytest.raises(subprocess.TimeoutExpired):
        upgradectl("serve-snapshot", str(RAVAN), "--port", "0", timeout=3)  # serves until stopped
