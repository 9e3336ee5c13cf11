"""`upgradectl serve-snapshot`: the demo fleet's ravan served as a read-only Kubernetes API, read by the
real kubectl and by plain HTTP; every verb that would change something gets 405 with a Status body."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import yaml
from conftest import require_binary
from live_servers import RAVAN, served_by_cli, served_in_thread
from run_cli import upgradectl

from upgradectl.tools.cluster.sources import SnapshotCluster

pytestmark = pytest.mark.real


class RecordedFiles:
    """ravan as its files hold it: serve-snapshot serves the files whole (a SnapshotCluster keeps pods lean for
    planning), so what is served is compared with the files themselves."""

    def __init__(self, root):
        self.root = root
        self.snapshot = SnapshotCluster(root)

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict]:
        plural = {"Pod": "pods", "Node": "nodes"}[kind]
        items = yaml.safe_load((self.root / "resources" / "core" / api_version / f"{plural}.yaml").read_text())["items"]
        return [i for i in items if namespace is None or i["metadata"].get("namespace") == namespace]

    def server_version(self):
        return self.snapshot.server_version()

    def observed_at(self):
        return self.snapshot.observed_at()


@pytest.fixture(scope="module")
def ravan():
    return RecordedFiles(RAVAN)


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory):
    """The real `upgradectl serve-snapshot` process, shared by the kubectl tests."""
    with served_by_cli(RAVAN, tmp_path_factory.mktemp("serve")) as (served, process):
        yield served, process


def kubectl(served, cache: Path, *args: str) -> subprocess.CompletedProcess:
    binary = require_binary("kubectl")
    return subprocess.run(
        [binary, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(cache), *args],
        capture_output=True, text=True, timeout=60,
    )


def names(output: str) -> list[str]:
    """The NAME column of kubectl's table output (NAMESPACE NAME ... when -A)."""
    lines = output.strip().splitlines()
    header = lines[0].split()
    column = header.index("NAME")
    return [line.split()[column] for line in lines[1:]]


def get(url: str, accept: str = "application/json") -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_kubectl_get_nodes_pods_and_custom_resources(cli_server, ravan, tmp_path):
    served, _ = cli_server
    nodes = kubectl(served, tmp_path, "get", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    assert sorted(names(nodes.stdout)) == sorted(n["metadata"]["name"] for n in ravan.objects("v1", "Node"))

    pods = kubectl(served, tmp_path, "get", "pods", "-A")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert sorted(names(pods.stdout)) == sorted(p["metadata"]["name"] for p in ravan.objects("v1", "Pod"))

    provisioners = kubectl(served, tmp_path, "get", "provisioners")
    assert provisioners.returncode == 0, provisioners.stderr
    assert sorted(names(provisioners.stdout)) == ["batch", "default", "on-demand-critical"]

    karpenter = kubectl(served, tmp_path, "get", "pods", "-n", "karpenter", "-l", "app.kubernetes.io/name=karpenter",
                        "-o", "json")
    assert karpenter.returncode == 0, karpenter.stderr
    assert {p["metadata"]["namespace"] for p in json.loads(karpenter.stdout)["items"]} == {"karpenter"}


def test_kubectl_api_resources_lists_core_and_crds(cli_server, tmp_path):
    served, _ = cli_server
    result = kubectl(served, tmp_path, "api-resources")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    assert rows["provisioners"][-3:] == ["karpenter.sh/v1alpha5", "false", "Provisioner"]
    assert "customresourcedefinitions" in rows and "helmreleases" in rows


def test_kubectl_cannot_change_anything(cli_server, tmp_path):
    served, _ = cli_server
    deleted = kubectl(served, tmp_path, "delete", "pod", "-n", "karpenter", "anything")
    assert deleted.returncode != 0 and "MethodNotAllowed" in deleted.stderr and "read-only" in deleted.stderr
    labelled = kubectl(served, tmp_path, "label", "node", "--all", "upgraded=yes")
    assert labelled.returncode != 0
    assert kubectl(served, tmp_path, "get", "nodes").returncode == 0  # still serving


def test_mutating_verbs_get_405_with_a_status_body(tmp_path):
    with served_in_thread(RAVAN, tmp_path) as served:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            request = urllib.request.Request(
                served.url + "/api/v1/namespaces/karpenter/configmaps", data=b'{"kind":"ConfigMap"}', method=method,
                headers={"Content-Type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            status = json.loads(refused.value.read())
            assert refused.value.code == 405
            assert status["kind"] == "Status" and status["code"] == 405 and status["reason"] == "MethodNotAllowed"
        assert [code for _, _, code in served.non_get()] == [405, 405, 405, 405]


def test_discovery_documents(tmp_path):
    with served_in_thread(RAVAN, tmp_path) as served:
        assert get(served.url + "/api")[1]["versions"] == ["v1"]
        core = get(served.url + "/api/v1")[1]
        pods = next(r for r in core["resources"] if r["name"] == "pods")
        assert pods == {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                        "verbs": ["get", "list"], "shortNames": ["po"], "categories": ["all"]}
        groups = {g["name"]: g for g in get(served.url + "/apis")[1]["groups"]}
        assert groups["karpenter.sh"]["preferredVersion"]["groupVersion"] == "karpenter.sh/v1alpha5"
        flux = groups["source.toolkit.fluxcd.io"]
        assert [v["version"] for v in flux["versions"]] == ["v1", "v1beta2", "v1beta1"]  # every served CRD version
        karpenter = get(served.url + "/apis/karpenter.sh/v1alpha5")[1]
        scopes = {r["name"]: r["namespaced"] for r in karpenter["resources"]}
        assert scopes == {"machines": False, "provisioners": False}
        status, body, _ = get(served.url + "/apis/nope.example.com/v1")
        assert status == 404 and body["reason"] == "NotFound"


def test_list_and_get_core_and_custom_resources(tmp_path, ravan):
    with served_in_thread(RAVAN, tmp_path) as served:
        url = served.url
        in_karpenter = get(url + "/api/v1/namespaces/karpenter/pods")[1]
        assert in_karpenter["kind"] == "PodList"
        assert in_karpenter["items"] == ravan.objects("v1", "Pod", namespace="karpenter")
        assert get(url + "/api/v1/pods")[1]["items"] == ravan.objects("v1", "Pod")
        node = ravan.objects("v1", "Node")[0]
        assert get(url + f"/api/v1/nodes/{node['metadata']['name']}")[1] == node
        assert get(url + "/api/v1/namespaces/karpenter")[1]["metadata"]["name"] == "karpenter"
        deployment = get(url + "/apis/apps/v1/namespaces/karpenter/deployments/karpenter")[1]
        assert deployment["kind"] == "Deployment" and deployment["metadata"]["namespace"] == "karpenter"
        assert get(url + "/apis/karpenter.sh/v1alpha5/provisioners/default")[1]["spec"]
        assert get(url + "/api/v1/namespaces/karpenter/nodes")[0] == 404  # cluster-scoped: no namespace path
        assert get(url + f"/api/v1/pods/{in_karpenter['items'][0]['metadata']['name']}")[0] == 404
        status, body, _ = get(url + "/apis/karpenter.sh/v1alpha5/provisioners/missing")
        assert status == 404 and body["message"] == 'provisioners.karpenter.sh "missing" not found'
        # a CRD's other served version answers with the same objects, apiVersion converted
        converted = get(url + "/apis/source.toolkit.fluxcd.io/v1beta2/gitrepositories")[1]["items"]
        assert [i["apiVersion"] for i in converted] == ["source.toolkit.fluxcd.io/v1beta2"]
        # kubectl asks for a Table; it gets a plain JSON list, which it accepts
        table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        assert get(url + "/api/v1/nodes", table_accept)[1]["kind"] == "NodeList"


@pytest.mark.parametrize(
    ("selector", "holds"),
    [
        ("app.kubernetes.io/name=karpenter", lambda labels: labels.get("app.kubernetes.io/name") == "karpenter"),
        ("app.kubernetes.io/name==karpenter", lambda labels: labels.get("app.kubernetes.io/name") == "karpenter"),
        ("app.kubernetes.io/name!=karpenter", lambda labels: labels.get("app.kubernetes.io/name") != "karpenter"),
        ("app.kubernetes.io/name in (karpenter,cilium-operator)",
         lambda labels: labels.get("app.kubernetes.io/name") in ("karpenter", "cilium-operator")),
        ("app.kubernetes.io/name notin (karpenter)",
         lambda labels: labels.get("app.kubernetes.io/name") != "karpenter"),
        ("app.kubernetes.io/name", lambda labels: "app.kubernetes.io/name" in labels),
        ("!app.kubernetes.io/name", lambda labels: "app.kubernetes.io/name" not in labels),
    ],
)
def test_label_selectors(tmp_path, ravan, selector, holds):
    from urllib.parse import quote

    expected = [p for p in ravan.objects("v1", "Pod") if holds(p["metadata"].get("labels") or {})]
    with served_in_thread(RAVAN, tmp_path) as served:
        items = get(served.url + "/api/v1/pods?labelSelector=" + quote(selector))[1]["items"]
    assert items == expected
    assert 0 < len(expected) < len(ravan.objects("v1", "Pod")) or selector.startswith("!")


def test_bad_selector_is_a_bad_request(tmp_path):
    with served_in_thread(RAVAN, tmp_path) as served:
        status, body, _ = get(served.url + "/api/v1/pods?labelSelector=a%20in")
    assert status == 400 and body["reason"] == "BadRequest"


def test_limit_and_continue(tmp_path, ravan):
    with served_in_thread(RAVAN, tmp_path) as served:
        collected, token, pages = [], "", 0
        while True:
            page = get(served.url + "/api/v1/pods?limit=10" + (f"&continue={token}" if token else ""))[1]
            collected += page["items"]
            pages += 1
            token = page["metadata"].get("continue", "")
            if not token:
                break
            assert page["metadata"]["remainingItemCount"] == len(ravan.objects("v1", "Pod")) - len(collected)
        status, body, _ = get(served.url + "/api/v1/pods?limit=10&continue=garbage")
    assert collected == ravan.objects("v1", "Pod") and pages == -(-len(collected) // 10)
    assert status == 400


def test_the_served_clock_is_the_snapshot_clock(tmp_path, ravan):
    with served_in_thread(RAVAN, tmp_path) as served:
        _, version, headers = get(served.url + "/version")
    assert version == ravan.server_version()
    assert parsedate_to_datetime(headers["Date"]) == ravan.observed_at()


def test_prints_a_kubeconfig_and_stops_cleanly_on_ctrl_c():
    exe = Path(sys.executable).with_name("upgradectl")
    process = subprocess.Popen([str(exe), "serve-snapshot", str(RAVAN), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not lines or not lines[-1].startswith("preferences:"):
        line = process.stdout.readline()
        assert line, process.stderr.read()
        lines.append(line)
    config = yaml.safe_load("".join(lines))
    server = config["clusters"][0]["cluster"]["server"]
    assert config["current-context"] == "ravan" and server.startswith("http://127.0.0.1:")
    assert get(server + "/version")[0] == 200
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in stderr and "Traceback" not in stderr


def test_cli_server_stops_on_ctrl_c(tmp_path):
    with served_by_cli(RAVAN, tmp_path) as (served, process):
        assert get(served.url + "/version")[0] == 200
    assert process.returncode == 0
    assert "Traceback" not in process.stderr.read()


def test_not_a_snapshot_is_a_usage_error(tmp_path):
    result = upgradectl("serve-snapshot", str(tmp_path))
    assert result.returncode == 2
    assert "is not a snapshot" in result.stderr and "Traceback" not in result.stderr
