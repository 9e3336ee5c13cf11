"""Issue 19, defect 10: faults. A server trickling one byte every second holds no outside call past its
deadline (metrics, Kubernetes API, model), and `--llm on` exits 5 when the model contributed nothing.

The trickler is a real HTTP server on loopback: it answers 200 with a Content-Length far larger than what
it sends, then writes one byte a second (or trickles its status line and headers), as a stuck proxy or a
hostile endpoint does. Per-read timeouts never fire against it; only a whole-request deadline does.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from loopback_http import LoopbackServer, QuietHandler
from run_cli import upgradectl
from scripted_anthropic import Conversation, ScriptedAnthropic, text, turn

from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_LLM_DEGRADED
from upgradectl.tools.cluster.fleet import demo_fleet_path

pytestmark = pytest.mark.real
INTERVAL = 1.0  # seconds between trickled bytes (well under every read timeout used below)


@contextmanager
def trickler(in_headers: bool = False) -> Iterator[str]:
    """A loopback server that trickles its answer to any GET or POST; yields its base URL."""
    stop = threading.Event()

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _trickle(self) -> None:
            if self.command == "POST":
                self.read_body()
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            body = b'{"status": "success", "data": {"resultType": "vector", "result": [' + b" " * 99000
            data = head + body if in_headers else body
            if not in_headers:
                self.wfile.write(head)
            try:
                for byte in data:
                    if stop.is_set():
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(INTERVAL)
            except OSError:
                return

        do_GET = _trickle  # noqa: N815
        do_POST = _trickle  # noqa: N815

    with LoopbackServer(Handler, poll_interval=0.1) as served:  # its request threads are daemons
        try:
            yield served.url
        finally:
            stop.set()  # end the trickles before the server shuts down


@pytest.mark.parametrize("in_headers", [False, True], ids=["trickled-body", "trickled-headers"])
def test_metrics_query_stops_at_its_deadline(in_headers):
    from upgradectl.tools.metrics.promql import PromClient, PromQLError

    with trickler(in_headers) as url, PromClient(url, timeout=2, attempts=2, backoff=0.01) as client:
        started = time.monotonic()
        with pytest.raises(PromQLError) as caught:
            client.query("up")
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(PromQLError) as again:
            client.query("up")
        second = time.monotonic() - started
    assert first < 2 * 2 + 2, first  # two attempts of 2 s, not minutes
    assert caught.value.kind == "unreachable" and "deadline" in str(caught.value)
    assert second < 0.5 and "earlier query" in str(again.value)  # a source that is down is not asked again


def test_validate_with_a_trickling_metrics_url_ends_inconclusive_within_its_timeout(tmp_path):
    """The adversarial run: `validate --timeout 10` against a trickler ran for over 7 minutes."""
    root = tmp_path / "fleet"
    shutil.copytree(demo_fleet_path().parent / "clusters" / "ravan", root / "clusters" / "ravan")
    with trickler() as url:
        (root / "fleet.yaml").write_text(yaml.safe_dump({
            "name": "slow", "clusters": [{"name": "ravan", "environment": "prod", "provider": "eks",
                                          "snapshot": "clusters/ravan", "metrics_url": url}],
        }))  # fmt: skip
        started = time.monotonic()
        done = upgradectl("validate", "--tool", "karpenter", "--fleet", str(root / "fleet.yaml"), "--timeout", "2",
                          "--format", "json", timeout=120)  # fmt: skip
        elapsed = time.monotonic() - started
    assert done.returncode == EXIT_INCOMPLETE, done.stderr
    assert elapsed < 3 * 2 + 20, elapsed  # one query's attempts (3 x 2 s) plus start-up, however many gates
    assert "deadline" in done.stdout


def test_kubernetes_api_call_stops_at_its_deadline(tmp_path):
    from upgradectl.tools.cluster.kubeapi import KubeReader, KubeRequestError
    from upgradectl.tools.cluster.snapshot_server import kubeconfig_for, write_kubeconfig

    with trickler() as url:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, kubeconfig_for(url, "slow"))
        reader = KubeReader.from_kubeconfig("slow", str(kubeconfig), read_timeout=2, attempts=1)
        started = time.monotonic()
        with pytest.raises(KubeRequestError) as caught:
            reader.get("/version")
        elapsed = time.monotonic() - started
    assert elapsed < 5 + 2 + 3, elapsed  # connect 5 s + read 2 s in total, not per byte
    assert "timed out" in str(caught.value)


def test_model_request_stops_at_its_deadline(monkeypatch):
    from upgradectl.agents.llm.client import LLMError, LLMSession
    from upgradectl.settings import LLMSettings

    with trickler() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-trickle")
        settings = LLMSettings(request_timeout_seconds=2, connect_timeout_seconds=1, max_attempts=1)
        session = LLMSession.open(settings)
        started = time.monotonic()
        with pytest.raises(LLMError) as caught:
            session.complete(system="s", messages=[{"role": "user", "content": "hi"}], agent="flux-navigator",
                             task="t")  # fmt: skip
        elapsed = time.monotonic() - started
    assert elapsed < 2 + 1 + 3, elapsed
    assert "deadline" in str(caught.value) or "timed out" in str(caught.value).lower()


def test_a_model_that_never_submits_makes_the_plan_exit_5(tmp_path):
    """README: exit 5 when the model failed. A model that only talks (never calls submit_findings) ran 129
    calls, recorded an error on every task, and the plan still exited 0."""
    chatter = [[turn(text("Everything looks fine to me."))] for _ in range(4)]
    script = [Conversation("Task id:", chatter)]
    with ScriptedAnthropic(script) as server:
        env = {**server.env(), "UPGRADECTL_LLM_TASKS": "breaking-changes,application-impact",
               "UPGRADECTL_MAX_TURNS": "2", "UPGRADECTL_RETRY_INITIAL_SECONDS": "0.01"}
        done = upgradectl(
            "plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", "demo", "--clusters", "ravan",
            "--llm", "on", "--fail-on", "critical", "--out", str(tmp_path), "--format", "json",
            timeout=300, env=env,
        )  # fmt: skip
        calls = len(server.bodies)
    plan = json.loads((tmp_path / "plan.json").read_text())
    blocking = [f for f in plan["findings"] if f["severity"] == "critical"]
    assert not blocking and not plan["incomplete"], "the demo plan must not hide exit 5 behind 1 or 3"
    assert done.returncode == EXIT_LLM_DEGRADED, done.stderr
    assert plan["llm"]["degraded"] and "contributed nothing" in plan["llm"]["error"]
    assert calls <= 2 * 2 + 2  # two tasks of two turns, plus the narrative: bounded



def test_helm_repository_index_stops_at_its_deadline():
    """knowledge refresh reads a Helm repository's index.yaml: the same whole-request deadline holds."""
    from upgradectl.tools.knowledge.refresh import RefreshError, Upstream

    with trickler() as url, Upstream(helm_repo_url=url, timeout=2, attempts=1) as upstream:
        started = time.monotonic()
        with pytest.raises(RefreshError) as caught:
            upstream.chart_versions(url, "cilium")
        elapsed = time.monotonic() - started
    assert elapsed < 2 + 3, elapsed
    assert caught.value.unreachable and "within 2s" in str(caught.value)
