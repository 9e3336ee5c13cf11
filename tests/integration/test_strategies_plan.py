"""Strategies change the steps, on the demo fleet: the same Cilium plan under canary and forced to rolling, and
VictoriaMetrics blue-green; every step passes the plan verifier."""

from __future__ import annotations

import pytest

from upgradectl.app.plan import PlanRequest, plan
from upgradectl.tools.gitops.changes import change_sets


@pytest.fixture(scope="module")
def cilium():
    def made(strategy: str):
        return plan(PlanRequest(tool="cilium", to="1.15.19", clusters=["dev-apps", "keystone", "ravan"],
                                strategy=strategy)).plan  # fmt: skip

    return {kind: made(kind) for kind in ("canary", "rolling")}


def test_canary_and_rolling_differ_with_a_gate_between_the_canary_and_the_rest(cilium):
    canary, rolling = cilium["canary"], cilium["rolling"]
    assert canary.decision.strategy.kind == "canary" and rolling.decision.strategy.kind == "rolling"
    assert canary.verification.ok and rolling.verification.ok
    dev_canary = next(s for s in canary.rollout if s.environment == "dev").steps
    dev_rolling = next(s for s in rolling.rollout if s.environment == "dev").steps
    assert {s.phase for s in dev_rolling} == {""}
    hop = [s for s in dev_canary if (s.from_version, s.to_version) == ("1.14.5", "1.14.19")]
    phases = [s.phase for s in hop]
    subset_gate = phases.index("canary-subset") + [s.phase for s in hop[phases.index("canary-subset"):]].index("rest")
    assert hop[subset_gate - 1].kind == "validate"  # the canary's gate comes before anything of the rest
    assert any("delete pod -l k8s-app=cilium" in c for s in hop if s.phase == "canary-subset" for c in s.commands)
    change = next(s for s in hop if s.kind == "change" and s.phase == "canary")
    assert any("updateStrategy.type: OnDelete" in c for c in change.changes)
    assert [cs.key for cs in change_sets(canary)][:2] == ["dev/1.14.5->1.14.19/canary", "dev/1.14.5->1.14.19/rest"]
    assert [cs.key for cs in change_sets(rolling)][:1] == ["dev/1.14.5->1.14.19"]


def test_canary_cluster_first_in_an_environment_with_several(cilium):
    prod = next(s for s in cilium["canary"].rollout if s.environment == "prod")
    assert prod.waves == [["keystone"], ["ravan"]]  # keystone has the fewest nodes of the two
    keys = [cs.key for cs in change_sets(cilium["canary"]) if cs.environment == "prod"]
    assert keys.index("prod/1.14.19->1.15.19/keystone/rest") < keys.index("prod/1.14.5->1.14.19/ravan/canary")


def test_blue_green_for_victoriametrics_stands_up_green_first():
    vm = plan(PlanRequest(tool="victoriametrics", strategy="blue-green")).plan
    assert vm.decision.strategy.kind == "blue-green" and vm.verification.ok
    sets = change_sets(vm)
    assert [cs.key for cs in sets] == ["prod/1.87.6->1.150.0/green", "prod/1.87.6->1.150.0"]
    green = sets[0]
    assert not green.edits and any("kubectl apply -f vmsingle-green-monitor-1.150.0.yaml" in c
                                   for s in green.before for c in s.commands)  # fmt: skip
    assert any("Move readers back" in s.title for s in sets[1].after)


def test_blue_green_falls_back_with_the_reason_for_flux():
    flux = plan(PlanRequest(tool="flux", strategy="blue-green", environments=["prod"])).plan
    strategy = flux.decision.strategy
    assert strategy.kind == "canary" and strategy.asked == "blue-green"
    assert "blue-green is not available for Flux" in strategy.reasons[-1]
