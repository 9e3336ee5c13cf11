"""Why upgrade, as a user runs it: the demo Karpenter cost plan states what the path brings and a payback figure
with its assumptions."""

from __future__ import annotations

import pytest
from run_cli import plan


@pytest.fixture(scope="module")
def cost_plan() -> dict:
    return plan("Karpenter needs upgrade for better bin packing and cost optimization", "--fleet", "demo",
                "--no-fetch-charts", "--no-osv", env={"UPGRADECTL_TODAY": "2026-12-05"})  # fmt: skip


def test_the_demo_karpenter_cost_plan_states_a_payback_with_its_assumptions(cost_plan):
    roe = cost_plan["return_on_effort"]
    simulated = {r["cluster"]: r["consolidation"]["savings_monthly"] for r in cost_plan["cost"] if r["consolidation"]}
    assert roe["monthly_savings"] == pytest.approx(sum(simulated.values()), abs=0.01) and roe["monthly_savings"] > 0
    assert roe["payback_months"] == pytest.approx(roe["effort_cost"] / roe["monthly_savings"], abs=0.01)
    assert roe["hands_on_steps"] == sum(len(s["steps"]) for s in cost_plan["rollout"])
    assert roe["approvals"] == 1  # prod only, as the rollout says
    assert {"savings:", "effort:"} <= {a.split(" ")[0] for a in roe["assumptions"]}
    assert f"payback in {roe['payback_months']:.1f} month(s)" in cost_plan["summary"]


def test_the_demo_karpenter_cost_plan_says_what_the_path_brings_for_cost(cost_plan):
    # Karpenter's upgrade guide: 1.14.0 "adds a Balanced consolidation policy"; 0.34.0 adds disruption budgets
    matched = [f for f in cost_plan["features"] if f["matches_trigger"]]
    assert any(f["line"] == "1.14" and "Balanced consolidation" in f["title"] for f in matched)
    assert any(f["line"] == "0.34" and "Disruption budgets" in f["title"] for f in matched)
    assert "for this cost request" in cost_plan["summary"]
