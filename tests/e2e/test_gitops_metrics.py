"""Metric uses in dashboards and alert rules, and the plan finding a 1.0 rename in the demo dashboard."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from run_cli import upgradectl

from upgradectl.tools.gitops.manifests import dashboard_metric_uses, load_manifests, rule_metric_uses

DASHBOARD = {
    "title": "Karpenter",
    "panels": [
        {"title": "Nodes created", "targets": [{"expr": 'sum(increase(karpenter_nodes_created{job="k"}[1h]))'}]},
        {"type": "row", "title": "Scheduling", "panels": [
            {"title": "Scheduling p99", "targets": [
                {"expr": "histogram_quantile(0.99, sum by (le) (rate(karpenter_provisioner_scheduling_duration_seconds_bucket[5m])))"}]}]},  # noqa: E501
    ],
    "templating": {"list": [{"name": "nodepool", "type": "query",
                             "query": {"query": "label_values(karpenter_nodepool_usage, nodepool)"}}]},
}  # fmt: skip


def uses(root: Path) -> set[tuple[str, str, str]]:
    manifests, _ = load_manifests(root)
    found = dashboard_metric_uses(root) + rule_metric_uses(manifests, root)
    return {(u.file, u.where, u.metric) for u in found}


def test_dashboards_panels_rows_variables_and_histogram_families(tmp_path):
    (tmp_path / "karpenter.json").write_text(json.dumps(DASHBOARD, indent=2))
    found = uses(tmp_path)
    assert ("karpenter.json", "panel 'Nodes created'", "karpenter_nodes_created") in found
    assert ("karpenter.json", "panel 'Scheduling p99'", "karpenter_provisioner_scheduling_duration_seconds") in found
    assert ("karpenter.json", "variable 'nodepool'", "karpenter_nodepool_usage") in found
    metrics = {m for _, _, m in found}
    assert not metrics & {"sum", "increase", "job", "le", "histogram_quantile", "nodepool"}  # not metrics
    line = next(u.line for u in dashboard_metric_uses(tmp_path) if u.metric == "karpenter_nodes_created")
    assert '"expr": "sum(increase(karpenter_nodes_created{job=\\"k\\"}' in (tmp_path / "karpenter.json").read_text(
    ).splitlines()[line - 1]  # the line of the JSON-escaped expression


def test_dashboards_and_rules_embedded_in_configmaps_and_grafana_dashboards(tmp_path):
    board = json.dumps({"title": "x", "panels": [{"title": "Startup", "targets": [
        {"expr": 'max(karpenter_pods_startup_time_seconds{quantile="0.99"})'}]}]}, indent=2)  # fmt: skip
    (tmp_path / "dashboards.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: karpenter-dashboard\ndata:\n  karpenter.json: |\n"
        + textwrap.indent(board, "    ")
        + "\n---\napiVersion: grafana.integreatly.org/v1beta1\nkind: GrafanaDashboard\nmetadata:\n  name: flux\n"
        "spec:\n  json: '" + json.dumps({"panels": [{"title": "Ready", "targets": [
            {"expr": "gotk_reconcile_condition"}]}]}) + "'\n"  # fmt: skip
    )
    (tmp_path / "rules.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: prometheus-rules
        data:
          karpenter.rules.yaml: |
            groups:
            - name: karpenter
              rules:
              - alert: KarpenterInterruptionsStopped
                expr: sum(rate(karpenter_interruption_received_messages[1h])) == 0
        """))
    found = uses(tmp_path)
    assert ("dashboards.yaml", "panel 'Startup'", "karpenter_pods_startup_time_seconds") in found
    assert ("dashboards.yaml", "panel 'Ready'", "gotk_reconcile_condition") in found
    assert ("rules.yaml", "rule KarpenterInterruptionsStopped", "karpenter_interruption_received_messages") in found


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "upgradectl/demo_fleet/fleet.yaml").is_file(),
                    reason="demo fleet not built")  # fmt: skip
def test_plan_reports_the_demo_dashboard_using_a_metric_renamed_in_1_0():
    result = upgradectl("plan", "--tool", "karpenter", "--to", "1.0.10", "--fleet", "demo", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    plan = json.loads(result.stdout)
    hits = [
        f for f in plan["findings"]
        if f["subject"].get("metric") == "karpenter_nodes_created" and f["subject"].get("file", "").endswith(".json")
    ]  # fmt: skip
    assert hits, "no finding for karpenter_nodes_created in a dashboard"
    finding = hits[0]
    assert finding["code"] == "KARP-METRICS-V1-RENAMES" and finding["category"] == "monitoring"
    assert finding["subject"]["file"] == "monitoring/dashboards/karpenter-capacity.json"
    assert finding["subject"]["line"] > 0
    assert "karpenter_nodes_created -> karpenter_nodes_created_total" in finding["title"]
    refs = [e["ref"] for e in finding["evidence"] if e["source"] == "gitops"]
    assert any("panel 'Nodes created per provisioner (1h)'" in ref for ref in refs), refs
    dropped = [f for f in plan["findings"] if f["code"] == "KARP-METRICS-V1-DROPPED"
               and f["subject"].get("metric") == "karpenter_provisioner_scheduling_duration_seconds"]  # fmt: skip
    assert dropped, "the histogram panel on a metric dropped in 1.0 is not reported"
