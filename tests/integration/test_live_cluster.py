"""LiveCluster through the official kubernetes client against a served snapshot on loopback: it answers
exactly what SnapshotCluster answers, reads only with GET, pages, retries, times out and fails clearly."""

from __future__ import annotations

import base64
import os
import time

import pytest
import yaml
from kubernetes.dynamic import DynamicClient
from live_servers import RAVAN, copy_snapshot, kubeconfig_with, served_in_thread, unused_port

from upgradectl.tools.cluster.kubeapi import KubeReader, ReadOnlyViolation, ServedResource, _InMemoryDiscoverer
from upgradectl.tools.cluster.live import LiveCluster
from upgradectl.tools.cluster.snapshot_api import SnapshotAPI
from upgradectl.tools.cluster.sources import SnapshotCluster, SourceError

pytestmark = pytest.mark.real

AGENT_READS = [
    ("v1", "Node"),
    ("v1", "Pod"),
    ("v1", "Namespace"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("karpenter.sh/v1alpha5", "Provisioner"),
    ("karpenter.sh/v1alpha5", "Machine"),
    ("karpenter.k8s.aws/v1alpha1", "AWSNodeTemplate"),
    ("helm.toolkit.fluxcd.io/v2beta2", "HelmRelease"),
    ("source.toolkit.fluxcd.io/v1beta2", "HelmRepository"),
]


@pytest.fixture
def served(tmp_path):
    with served_in_thread(RAVAN, tmp_path) as s:
        yield s


def test_live_answers_what_the_snapshot_answers(served):
    live = LiveCluster.open(served.context, str(served.kubeconfig))
    snap = SnapshotCluster(RAVAN)
    assert live.name == "ravan"
    assert live.server_version() == snap.server_version()
    assert live.observed_at() == snap.observed_at()  # the served Date header is the snapshot's recorded_at
    for api_version, kind in AGENT_READS:
        assert live.objects(api_version, kind) == snap.objects(api_version, kind), (api_version, kind)
    assert live.objects("v1", "Pod", namespace="karpenter") == snap.objects("v1", "Pod", namespace="karpenter")
    assert live.objects_of_kind("ConfigMap") == snap.objects_of_kind("ConfigMap")
    assert live.objects_of_kind("Provisioner", "karpenter.sh") == snap.objects_of_kind("Provisioner", "karpenter.sh")
    assert live.helm_releases() == snap.helm_releases()
    assert {r.chart for r in live.helm_releases()} == {"karpenter", "cilium"}
    assert served.non_get() == []


def test_each_kind_is_read_at_one_version(served):
    """A served conversion version answers nothing, like the snapshot: objects are stored at the storage version."""
    live = LiveCluster.open(served.context, str(served.kubeconfig))
    snap = SnapshotCluster(RAVAN)
    assert live.objects("source.toolkit.fluxcd.io/v1beta1", "GitRepository") == []
    assert snap.objects("source.toolkit.fluxcd.io/v1beta1", "GitRepository") == []
    assert live.objects("source.toolkit.fluxcd.io/v1", "GitRepository")
    assert live.objects("karpenter.sh/v1beta1", "NodePool") == []  # not served at all
    canonical = {(r.group, r.plural): r.version for r in live.resource_types()}
    assert canonical[("helm.toolkit.fluxcd.io", "helmreleases")] == "v2beta2"  # CRD storage version
    assert canonical[("apps", "deployments")] == "v1"


def test_lists_are_paged_with_limit_and_continue(served):
    live = LiveCluster.open(served.context, str(served.kubeconfig))
    pods = next(r for r in live.resource_types() if r.plural == "pods")
    pages = list(live.reader.list_pages(pods, page_size=7))
    expected = SnapshotCluster(RAVAN).objects("v1", "Pod")
    assert len(pages) == -(-len(expected) // 7)
    assert [p["metadata"]["name"] for items, _ in pages for p in items] == [p["metadata"]["name"] for p in expected]
    assert pages[0][1] == len(expected) - 7  # remainingItemCount
    paged = [path for method, path, _ in served.requests if "/pods?" in path and "limit=7" in path]
    assert sum("continue=" in path for path in paged) == len(pages) - 1


def test_only_helm_release_secrets_are_ever_read(tmp_path):
    """The request asks for Helm records only, and even a server that ignores the selector leaks nothing."""
    snapshot = copy_snapshot(RAVAN, tmp_path / "ravan")
    secrets_file = snapshot / "resources" / "core" / "v1" / "secrets.yaml"
    doc = yaml.safe_load(secrets_file.read_text())
    canary = "canary-live-secret-7Qx"
    doc["items"].append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": "db", "namespace": "karpenter"},
                         "data": {"password": base64.b64encode(canary.encode()).decode()}})
    secrets_file.write_text(yaml.safe_dump(doc))

    class IgnoresFieldSelectors:
        def _list(self, served, namespace, query):
            return super()._list(served, namespace, {k: v for k, v in query.items() if k != "fieldSelector"})

    with served_in_thread(snapshot, tmp_path, handler_class=IgnoresFieldSelectors) as served:
        live = LiveCluster.open(served.context, str(served.kubeconfig))
        secrets = live.objects("v1", "Secret")
        secret_requests = [path for _, path, _ in served.requests if "/secrets" in path]
    assert len(secrets) == 4 and all(s["type"] == "helm.sh/release.v1" for s in secrets)
    assert canary not in repr(secrets) and base64.b64encode(canary.encode()).decode() not in repr(secrets)
    assert secret_requests and all("fieldSelector=type%3Dhelm.sh%2Frelease.v1" in p for p in secret_requests)


def test_transient_errors_are_retried(tmp_path):
    seen = {"version": 0, "pods": 0}

    class Flaky:
        def do_GET(self):  # noqa: N802
            if self.path == "/version" and seen["version"] < 2:
                seen["version"] += 1
                return self._error(503, "ServiceUnavailable", "warming up")
            if self.path.startswith("/api/v1/pods") and seen["pods"] < 1:
                seen["pods"] += 1
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                return self.end_headers()
            return super().do_GET()

    with served_in_thread(RAVAN, tmp_path, handler_class=Flaky) as served:
        live = LiveCluster.open(served.context, str(served.kubeconfig))
        started = time.perf_counter()
        pods = live.objects("v1", "Pod")
        waited = time.perf_counter() - started
    assert seen == {"version": 2, "pods": 1}
    assert len(pods) == len(SnapshotCluster(RAVAN).objects("v1", "Pod"))
    assert waited >= 0.9  # Retry-After: 1 was honoured


def test_a_server_that_keeps_failing_gives_a_clear_error(tmp_path):
    class Broken:
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/api/v1/secrets"):
                return self._error(500, "InternalError", "etcd is unhappy")
            return super().do_GET()

    with served_in_thread(RAVAN, tmp_path, handler_class=Broken) as served:
        with pytest.raises(SourceError) as failure:
            LiveCluster.open(served.context, str(served.kubeconfig), attempts=3)
        attempts = [p for _, p, _ in served.requests if p.startswith("/api/v1/secrets")]
    message = str(failure.value)
    assert len(attempts) == 3
    assert "context ravan" in message and "listing secrets" in message and "HTTP 500" in message
    assert "etcd is unhappy" in message and "3 attempts" in message


def test_a_failed_read_fails_once_per_run(tmp_path):
    """Agents asking again get the same error at once instead of another round of retries and timeouts."""

    class NoPods:
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/api/v1/pods"):
                return self._error(503, "ServiceUnavailable", "pods are unavailable")
            return super().do_GET()

    with served_in_thread(RAVAN, tmp_path, handler_class=NoPods) as served:
        live = LiveCluster.open(served.context, str(served.kubeconfig), attempts=2)
        for _ in range(3):
            with pytest.raises(SourceError, match="pods are unavailable"):
                live.objects("v1", "Pod")
        assert live.objects("v1", "Node")  # other reads still work
        assert len([p for _, p, _ in served.requests if p.startswith("/api/v1/pods")]) == 2


def test_forbidden_says_what_to_grant(tmp_path):
    class Forbidden:
        def do_GET(self):  # noqa: N802
            if "/secrets" in self.path:
                message = 'secrets is forbidden: User "viewer" cannot list resource "secrets"'
                return self._error(403, "Forbidden", message)
            return super().do_GET()

    with served_in_thread(RAVAN, tmp_path, handler_class=Forbidden) as served:
        with pytest.raises(SourceError) as failure:
            LiveCluster.open(served.context, str(served.kubeconfig))
        attempts = [p for _, p, _ in served.requests if "/secrets" in p]
    assert len(attempts) == 1  # 403 is not retried
    assert "HTTP 403" in str(failure.value) and "cannot list resource" in str(failure.value)
    assert "grant get/list" in str(failure.value)


def test_every_call_has_a_timeout(tmp_path):
    class Slow:
        def do_GET(self):  # noqa: N802
            if self.path == "/version":
                time.sleep(1.5)
            return super().do_GET()

    with served_in_thread(RAVAN, tmp_path, handler_class=Slow) as served:
        started = time.perf_counter()
        with pytest.raises(SourceError) as failure:
            LiveCluster.open(served.context, str(served.kubeconfig), read_timeout=0.3, attempts=2)
    assert time.perf_counter() - started < 5
    assert "timed out" in str(failure.value) and "UPGRADECTL_KUBE_TIMEOUT" in str(failure.value)


def test_unreachable_and_misnamed_contexts_fail_clearly(tmp_path):
    kubeconfig = kubeconfig_with(tmp_path / "kc", {"ghost": f"http://127.0.0.1:{unused_port()}"})
    with pytest.raises(SourceError) as failure:
        LiveCluster.open("ghost", str(kubeconfig), attempts=2)
    assert "cannot reach the API server" in str(failure.value) and "context ghost" in str(failure.value)
    with pytest.raises(SourceError) as failure:
        LiveCluster.open("nope", str(kubeconfig))
    assert "contexts there: ghost" in str(failure.value) and "kubectl config get-contexts" in str(failure.value)
    with pytest.raises(SourceError):
        LiveCluster.open("ghost", str(tmp_path / "missing-kubeconfig"))


def test_the_client_layer_can_only_get(served):
    live = LiveCluster.open(served.context, str(served.kubeconfig))
    api = live.reader._api
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(ReadOnlyViolation):
            api.call_api(method, served.url + "/api/v1/namespaces/karpenter/pods", body={"kind": "Pod"})
    # the official dynamic client built on it cannot write either
    dynamic = DynamicClient(api, cache_file=os.devnull + ".never", discoverer=_InMemoryDiscoverer)
    pods = dynamic.resources.get(api_version="v1", kind="Pod")
    with pytest.raises(ReadOnlyViolation):
        dynamic.create(pods, body={"metadata": {"name": "x"}}, namespace="karpenter")
    with pytest.raises(ReadOnlyViolation):
        dynamic.delete(pods, name="x", namespace="karpenter")
    assert served.non_get() == []
    writes = {"create", "patch", "delete", "replace", "update", "apply", "post", "put", "request", "call_api"}
    for cls in (LiveCluster, KubeReader):
        assert not {n for n in dir(cls) if not n.startswith("_")} & writes


def test_discovery_uses_every_served_version(served):
    reader = KubeReader.from_kubeconfig(served.context, str(served.kubeconfig))
    found = reader.discover()
    api = SnapshotAPI.load(RAVAN)
    assert {(r.group, r.version, r.plural) for r in found} == set(api.types)
    assert all(isinstance(r, ServedResource) and r.verbs == ("get", "list") for r in found)
