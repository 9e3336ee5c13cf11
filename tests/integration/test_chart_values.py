"""Release values checked against the target chart itself, for any chart: the real charts (tests/data/charts,
copied from the upstream chart repositories, see tests/data/README.md) served by a loopback Helm repository.

Expectations are read from the charts: argo-cd 7.x restructured server.ingress (hosts -> hostname), which the
knowledge base does not list; cilium 1.16's values.yaml documents kubeProxyReplacement as "true" or "false"
and has no tunnel key; a value the chart's values.yaml leaves commented out is still a key the chart reads."""

from __future__ import annotations

import json

import pytest
from helm_repository import CHARTS, HelmRepository, write_repository
from metrics_servers import cli_in_process

from upgradectl.tools.charts.store import ChartStore, ChartUnavailable, chart_from_directory
from upgradectl.tools.charts.values_check import ChartValues
from upgradectl.tools.knowledge.loader import load_tool

REPOSITORY = {"argo-cd-5.46.8": None, "argo-cd-7.9.1": None, "cilium-1.16.19": None,
              "victoria-metrics-k8s-stack-0.45.1": None, "karpenter-1.0.10": "1.0.10"}  # fmt: skip


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    root = write_repository(tmp_path_factory.mktemp("helm-repo"), REPOSITORY)
    with HelmRepository(root) as served:
        yield served


def test_fetches_index_and_archive_once_then_reads_the_cache(repository, tmp_path):
    store = ChartStore(cache_dir=tmp_path / "cache")
    chart = store.get(repository.url, "argo-cd", "7.9.1")
    assert (chart.name, chart.version, chart.app_version) == ("argo-cd", "7.9.1", "v2.14.11")
    assert repository.requests[-2:] == ["/index.yaml", "/argo-cd-7.9.1.tgz"]
    assert (tmp_path / "cache" / "argo-cd-7.9.1.tgz").is_file()
    offline = ChartStore(cache_dir=tmp_path / "cache", fetch=False)
    assert offline.get("http://127.0.0.1:9/unreachable", "argo-cd", "7.9.1").values == chart.values
    with pytest.raises(ChartUnavailable, match="argo-cd 7.8.0 unavailable"):
        ChartStore(cache_dir=tmp_path / "cache").get(repository.url, "argo-cd", "7.8.0")


def test_a_key_removed_between_two_chart_versions_is_found_with_the_closest_key(repository, tmp_path):
    store = ChartStore(cache_dir=tmp_path / "cache")
    values = {"server": {"ingress": {"enabled": True, "hosts": ["argocd.example.com"]}}}
    old = ChartValues(store.get(repository.url, "argo-cd", "5.46.8"))
    new = ChartValues(store.get(repository.url, "argo-cd", "7.9.1"))
    assert old.check(values) == []
    problems = new.check(values)
    assert [(p.path, p.kind, p.closest) for p in problems] == [("server.ingress.hosts", "unknown-key",
                                                                 "server.ingress.hostname")]
    # the knowledge base does not mention it: the generic check is what finds it
    assert "server.ingress.hosts" not in (load_tool("argocd").model_dump_json())


def test_documented_options_schema_and_commented_keys_of_a_real_chart():
    checker = ChartValues(chart_from_directory(CHARTS / "cilium-1.16.19"))
    problems = {p.path: p for p in checker.check({
        "kubeProxyReplacement": "strict",  # documented: "true" or "false"
        "tunnel": "disabled",  # gone
        "routingMode": "native", "ipv4NativeRoutingCIDR": "10.0.0.0/8",
        "enableIPv4Masquerade": "no",  # values.schema.json: boolean
        "podAnnotations": {"team": "net"},  # a free-form map
    })}
    assert set(problems) == {"kubeProxyReplacement", "tunnel", "enableIPv4Masquerade"}
    assert problems["kubeProxyReplacement"].kind == "documented-options"
    assert problems["tunnel"].kind == "unknown-key"
    assert problems["enableIPv4Masquerade"].kind == "type"
    assert checker.check({"kubeProxyReplacement": "true"}) == []  # a key the values.yaml only documents in a comment


def test_plan_checks_release_values_against_the_target_chart_from_a_local_charts_dir():
    """keystone's argo-cd release (demo fleet) sets server.ingress.hosts; planned to 2.14.11, whose chart (7.9.1,
    argo-helm's index) comes from --charts-dir, the generic check finds the key gone and names its successor."""
    result = cli_in_process("plan", "--tool", "argocd", "--to", "2.14.11", "--fleet", "demo", "--format", "json",
                            "--charts-dir", str(CHARTS), "--no-fetch-charts")  # fmt: skip
    assert result.returncode in (0, 1, 3), result.stderr
    plan = json.loads(result.stdout)
    generic = [f for f in plan["findings"] if f["code"].startswith("CHART-VALUE")]
    assert [(f["code"], f["subject"]["cluster"], f["subject"]["helm_value_path"]) for f in generic] == [
        ("CHART-VALUE-UNKNOWN-KEY", "keystone", "server.ingress.hosts")]
    assert "closest existing key: server.ingress.hostname" in generic[0]["title"]
    assert any(e["ref"].endswith("argo-cd-7.9.1") for e in generic[0]["evidence"])


def test_a_chart_that_cannot_be_read_leaves_the_check_inconclusive_never_passed():
    # Argo CD 3.0 on keystone's argo-cd chart: 3.0.12, shipped by chart 8.2.7, which CHARTS does not hold
    result = cli_in_process("plan", "--tool", "argocd", "--to", "3.0", "--fleet", "demo", "--format", "json",
                            "--charts-dir", str(CHARTS), "--no-fetch-charts")  # fmt: skip
    plan = json.loads(result.stdout)
    unchecked = [f for f in plan["findings"] if f["code"] == "CHART-VALUES-UNCHECKED"]
    assert unchecked and "keystone" in unchecked[0]["subject"]["cluster"]
    assert not [f for f in plan["findings"] if f["code"].startswith("CHART-VALUE-")]
