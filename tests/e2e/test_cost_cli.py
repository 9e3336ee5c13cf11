"""`upgradectl cost` as a user runs it: Markdown with plots that open and agree with the text, before/after
deltas, and clear errors for bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from PIL import Image
from run_cli import upgradectl

from upgradectl.tools.cluster.fleet import demo_fleet_path

RAVAN = demo_fleet_path().parent / "clusters" / "ravan"


def run(*args: str) -> subprocess.CompletedProcess:
    return upgradectl(*args, timeout=300)


@pytest.fixture(autouse=True)
def _demo():
    if not (RAVAN / "cluster.yaml").is_file():
        pytest.skip("demo fleet not built")


def test_cost_report_with_plots_that_match_the_text(tmp_path):
    result = run("cost", "--fleet", "demo", "--cluster", "ravan", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "cost.md").read_text()
    data = json.loads((tmp_path / "cost.json").read_text())["reports"][0]
    assert "## ravan" in md and "Lower bound" in md and "x** the bound (gap" in md
    assert "Cost per pod-hour" in md and "no violations" in md
    plots = {p["kind"]: p for p in data["plots"]}
    for plot in plots.values():
        path = tmp_path / plot["path"]
        assert path.stat().st_size > 0 and f"]({plot['path']})" in md
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 100
    hist = plots["utilization-histogram"]["counts"]
    assert hist["current"] == data["current"]["utilization_histogram"]
    assert hist["projected"] == data["projected"]["utilization_histogram"]
    assert sum(hist["current"]) == data["current"]["nodes"]
    row = "| Current | " + " | ".join(str(n) for n in data["current"]["utilization_histogram"]) + " |"
    assert row in md
    pools = plots["cost-per-pool"]["counts"]
    assert sum(pools["current"]) == pytest.approx(data["current"]["hourly_cost"])
    assert sum(pools["projected"]) == pytest.approx(data["projected"]["hourly_cost"])


def test_before_after_reports_kpi_deltas(tmp_path):
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(RAVAN, before)
    shutil.copytree(RAVAN, after)
    nodes_file = after / "resources/core/v1/nodes.yaml"
    doc = yaml.safe_load(nodes_file.read_text())
    for node in doc["items"]:  # after the upgrade: every Karpenter on-demand node became spot
        labels = node["metadata"]["labels"]
        if labels.get("karpenter.sh/capacity-type") == "on-demand":
            labels["karpenter.sh/capacity-type"] = "spot"
    nodes_file.write_text(yaml.safe_dump(doc))
    result = run("cost", "--before", str(before), "--after", str(after), "--format", "json")
    assert result.returncode == 0, result.stderr
    cmp = json.loads(result.stdout)
    deltas = {d["kpi"]: d for d in cmp["deltas"]}
    assert deltas["spot_node_share"]["delta"] > 0 and deltas["spot_node_share"]["better"] is True
    assert deltas["hourly_cost"]["delta"] < 0 and deltas["hourly_cost"]["better"] is True
    assert cmp["monthly_savings"] == pytest.approx(-deltas["hourly_cost"]["delta"] * 730)
    md = run("cost", "--before", str(before), "--after", str(after)).stdout
    assert "Performance and cost analysis" in md and "spot_node_share" in md


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fleet", "demo", "--cluster", "nope"], "unknown cluster"),
        (["--fleet", "demo", "--format", "xml"], "--format"),
        (["--fleet", "demo", "--prices", "/nonexistent.yaml"], "not found"),
        (["--before", "/nonexistent"], "go together"),
        (["--before", "/nonexistent", "--after", "/nonexistent"], "not a snapshot"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(args, message):
    result = run("cost", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_plan_has_a_cost_section_with_linked_plots(tmp_path):
    result = run("plan", "Karpenter needs upgrade for better bin packing and cost optimization", "--fleet", "demo",
                 "--clusters", "ravan", "--out", str(tmp_path))
    assert result.returncode in (0, 1, 3), result.stderr
    md = (tmp_path / "plan.md").read_text()
    assert "## Cost and bin packing" in md and "KARP-CONSOLIDATION-SAVINGS" in md
    assert "(cost-ravan-utilization.png)" in md and (tmp_path / "cost-ravan-utilization.png").stat().st_size > 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["cost"][0]["cluster"] == "ravan"
    # a plan carries the KPIs and the projected nodes its report lists; the per-node table of today's
    # cluster is `upgradectl cost`'s (one row per node was most of a big fleet's plan.json)
    report = plan["cost"][0]
    assert report["nodes"] == [] and report["current"]["nodes"] == 12 and len(report["projected_nodes"]) > 0
    assert sum(report["current"]["utilization_histogram"]) == report["current"]["nodes"]


def test_a_plan_draws_plots_for_the_clusters_that_save_most_and_says_where_the_rest_are(tmp_path, monkeypatch):
    from upgradectl.app import report
    from upgradectl.models import Plan

    result = run("plan", "Karpenter needs upgrade for better bin packing and cost optimization", "--fleet", "demo",
                 "--out", str(tmp_path / "full"))
    assert result.returncode in (0, 1, 3), result.stderr
    plan = Plan.model_validate_json((tmp_path / "full" / "plan.json").read_text())
    assert len(plan.cost) >= 2
    plan = plan.model_copy(update={"cost": [r.model_copy(update={"plots": []}) for r in plan.cost]})  # as planned
    monkeypatch.setattr(report, "PLAN_PLOT_CLUSTERS", 1)
    report.write_plan(plan, tmp_path / "one")
    written = json.loads((tmp_path / "one" / "plan.json").read_text())["cost"]
    drawn = [r for r in written if r["plots"]]
    assert len(drawn) == 1
    savings = {r["cluster"]: (r["consolidation"] or {}).get("savings_hourly", 0.0) for r in written}
    assert savings[drawn[0]["cluster"]] == max(savings.values())
    for skipped in (r for r in written if not r["plots"]):
        assert any("`upgradectl cost` draws" in note for note in skipped["notes"])
        assert not list((tmp_path / "one").glob(f"cost-{skipped['cluster']}-*.png"))
