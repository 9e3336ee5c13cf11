"""`upgradectl doctor`: the checklist on a machine with nothing configured, and on a fleet whose clusters,
metrics, GitOps repo and Terraform are partly broken (real kube API and VictoriaMetrics on loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import require_binary
from live_servers import RAVAN, kubeconfig_with, served_in_thread, unused_port
from metrics_servers import victoria_metrics

BIN = Path(sys.executable).parent
EXE = BIN / "upgradectl"


def doctor(*args: str, home: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")}
    env.update(HOME=str(home), PATH=path if path is not None else env.get("PATH", ""))
    return subprocess.run([str(EXE), "doctor", *args], capture_output=True, text=True, env=env, cwd=home, timeout=120)


def test_fresh_machine_prints_a_clear_checklist(tmp_path):
    done = doctor(home=tmp_path, path=str(BIN))  # no kubeconfig, no API key, no kubectl/helm/flux/git on PATH
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("upgradectl doctor: fleet demo")
    expected = [
        "[ok]   fleet file (required): fleet demo loads from ",
        "[ok]   cluster ravan (required): snapshot ",
        "[ok]   gitops repo (required): ",
        "[ok]   terraform eks (required): ",
        "[warn] metrics (optional): no cluster has a metrics_url",
        f"[warn] kubeconfig (optional): no kubeconfig at {tmp_path}/.kube/config",
        "[warn] ANTHROPIC_API_KEY (optional): not set",
        "       fix: export ANTHROPIC_API_KEY=",
        "[warn] kubectl (optional): not found on PATH",
        "[warn] helm (optional): not found on PATH",
        "[warn] flux (optional): not found on PATH",
        "[warn] git (optional): not found on PATH",
        "[warn] victoria-metrics (optional): not found on PATH",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r} in:\n{done.stdout}"
    assert "0 failed" in lines[-1] and "every required check passed" in lines[-1]
    assert not any(line.startswith("[FAIL]") for line in lines)


def test_missing_fleet_fails_with_the_fix(tmp_path):
    done = doctor("--fleet", str(tmp_path / "nowhere.yaml"), home=tmp_path)
    assert done.returncode == 3
    assert f"[FAIL] fleet file (required): fleet file {tmp_path / 'nowhere.yaml'} not found" in done.stdout
    assert "fix: pass --fleet PATH/fleet.yaml" in done.stdout and "--fleet demo" in done.stdout
    assert "1 required check(s) failed" in done.stdout.splitlines()[-1]


def test_usage_error(tmp_path):
    done = doctor("--format", "yaml", home=tmp_path)
    assert done.returncode == 2 and "--format 'yaml'" in done.stderr


def test_broken_fleet_on_real_servers(tmp_path):
    vm = victoria_metrics(require_binary("victoria-metrics"), tmp_path).start()
    try:
        with served_in_thread(RAVAN, tmp_path) as served:
            gone = f"http://127.0.0.1:{unused_port()}"
            kubeconfig = kubeconfig_with(tmp_path / "kubeconfig", {"ravan-live": served.url, "gone": gone})
            terraform = tmp_path / "fleet" / "terraform" / "broken"
            terraform.mkdir(parents=True)
            (terraform / "main.tf").write_text('resource "helm_release" "karpenter" {\n  version = \n')
            fleet = {
                "name": "half-broken",
                "gitops": {"path": "infra-flux"},  # not there
                "terraform": [{"path": "terraform/broken"}],
                "clusters": [
                    {
                        "name": "ravan-live",
                        "environment": "prod",
                        "context": "ravan-live",
                        "kubeconfig": str(kubeconfig),
                        "metrics_url": vm.url,
                    },
                    {
                        "name": "gone",
                        "environment": "dev",
                        "context": "gone",
                        "kubeconfig": str(kubeconfig),
                        "metrics_url": f"http://127.0.0.1:{unused_port()}",
                    },
                ],
            }
            (tmp_path / "fleet" / "fleet.yaml").write_text(yaml.safe_dump(fleet))
            text = doctor("--fleet", str(tmp_path / "fleet"), home=tmp_path)
            as_json = doctor("--fleet", str(tmp_path / "fleet" / "fleet.yaml"), "--format", "json", home=tmp_path)
            assert not served.non_get()  # doctor only reads
    finally:
        vm.stop()

    assert text.returncode == 3, text.stdout + text.stderr
    out = text.stdout
    assert "[ok]   cluster ravan-live (required): kube context ravan-live answers: Kubernetes v1.29" in out
    assert "[FAIL] cluster gone (required): " in out
    assert "fix: check `kubectl --context gone get --raw /version`" in out
    assert f"[ok]   metrics ravan-live (required): {vm.url} answers PromQL queries" in out
    assert "[FAIL] metrics gone (required): http://127.0.0.1:" in out
    assert "[FAIL] gitops repo (required): " in out and "no such directory" in out
    assert "[FAIL] terraform broken (required): " in out and "cannot parse HCL" in out
    assert "4 required check(s) failed" in out.splitlines()[-1]

    report = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and report["exit_code"] == 3
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["cluster ravan-live"]["status"] == "ok" and by_name["cluster gone"]["status"] == "fail"
    assert by_name["cluster gone"]["required"] and by_name["cluster gone"]["fix"]
    assert by_name["ANTHROPIC_API_KEY"]["required"] is False
    assert report["summary"]["fail"] == 4
