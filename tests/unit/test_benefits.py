"""What an upgrade is worth: features gained per line from the knowledge base (as the upstream upgrade guide
announces them), tied to the trigger, and the cost track's payback arithmetic with its stated assumptions."""

from __future__ import annotations

from upgradectl.agents.benefits import features_gained, features_summary, return_on_effort
from upgradectl.models import Hop, RolloutStage, Step, UpgradePath, UpgradeRequest
from upgradectl.tools.knowledge.loader import load_tool


def _request(trigger: str, text: str = "") -> UpgradeRequest:
    return UpgradeRequest(tool="karpenter", trigger=trigger, text=text)


def test_a_cost_request_is_told_the_consolidation_features_of_the_lines_it_enters():
    k = load_tool("karpenter")
    gained = features_gained(k, _request("cost"), ["0.31.3", "0.31.5"], "1.14.3")
    lines = {f.line for f in gained}
    assert "0.31" not in lines and "1.14" in lines  # only lines above the running one, up to the target's
    # Karpenter's upgrade guide: 0.34.0 adds disruption budgets; 1.14.0 adds a Balanced consolidation policy
    matched = {(f.line, f.title.split(" ")[0]) for f in gained if f.matches_trigger}
    assert ("0.34", "Disruption") in matched and ("1.14", "Balanced") in matched
    assert all(f.source.startswith("aws/karpenter-provider-aws:") for f in gained)
    assert "for this cost request" in features_summary(gained, "cost")


def test_features_stop_at_the_target_line_and_a_feature_request_matches_by_name():
    k = load_tool("karpenter")
    gained = features_gained(k, _request("feature", "we want disruption budgets"), ["0.31.5"], "0.37.8")
    assert max(float(f.line) for f in gained) <= 0.37
    assert [f.line for f in gained if f.matches_trigger] == ["0.34"]


def test_argocd_performance_request_is_told_the_default_resource_exclusions_of_3_0():
    k = load_tool("argocd")
    request = UpgradeRequest(tool="argocd", trigger="performance", text="Argo CD needs upgrade for performance")
    gained = features_gained(k, request, ["2.10.7"], "3.0.23")
    # Argo CD upgrading/2.14-3.0.md: default resource.exclusions "for performance reasons, reducing connections and
    # load to the K8s API servers"; 2.13 adds Flux resource health; 3.1's PKCE change is past the target
    matched = [f for f in gained if f.matches_trigger]
    assert [f.line for f in matched] == ["3.0"] and "resource.exclusions" in matched[0].title
    assert "2.13" in {f.line for f in gained} and "3.1" not in {f.line for f in gained}
    assert all(f.source.startswith("argoproj/argo-cd: docs/operator-manual/upgrading/") for f in gained)


def test_flux_cilium_and_victoriametrics_lines_carry_the_features_their_release_notes_announce():
    request = UpgradeRequest(tool="flux", trigger="compliance", text="")
    flux = {f.line for f in features_gained(load_tool("flux"), request, ["2.2.3"], "2.9.5")}
    assert {"2.3", "2.6", "2.8"} <= flux  # Flux blog: 2.3 Helm GA, 2.6 OCI artifacts GA, 2.8 Helm v4
    cilium = features_gained(load_tool("cilium"), UpgradeRequest(tool="cilium", trigger="security", text=""),
                             ["1.14.5"], "1.15.19")  # fmt: skip
    # Cilium 1.15 announcement: BGP MD5 authentication and Hubble Redact are its security improvements
    assert [f.line for f in cilium if f.matches_trigger] == ["1.15"]
    vm = features_gained(load_tool("victoriametrics"), UpgradeRequest(tool="victoriametrics", trigger="cost", text=""),
                         ["1.106.1"], "1.108.1")  # fmt: skip
    # CHANGELOG_2024 v1.107.0: vmalert's remote-write queue default reverted to 100_000 (memory use)
    assert any(f.line == "1.107" and "100,000" in f.title for f in vm if f.matches_trigger)


def test_the_tools_own_name_in_a_feature_request_matches_no_feature():
    k = load_tool("flux")
    # "Pull request comments from Flux notifications" (2.8) names Flux, as every Flux request does
    gained = features_gained(k, UpgradeRequest(tool="flux", trigger="feature", text="upgrade flux please"),
                             ["2.2.3"], "2.8.8")  # fmt: skip
    assert gained and not any(f.matches_trigger for f in gained)
    named = features_gained(k, UpgradeRequest(tool="flux", trigger="feature", text="flux with workload identity"),
                            ["2.2.3"], "2.8.8")  # fmt: skip
    assert [f.line for f in named if f.matches_trigger] == ["2.6"]


def _stage(env: str, steps: int, hops: int, soak: int, approval: bool) -> RolloutStage:
    return RolloutStage(
        environment=env, clusters=[f"{env}-1"], hops=[f"{env}-1: a -> b"] * hops,
        steps=[Step(title=f"step {n}") for n in range(steps)], approval_required=approval, soak_minutes=soak,
        gates=[], rollback_steps=[],
    )  # fmt: skip


class _Report:
    """The fields return_on_effort reads of a CostReport (cluster, consolidation.savings_monthly, incomplete)."""

    def __init__(self, cluster: str, saving: float):
        self.cluster, self.incomplete = cluster, []
        self.consolidation = type("Consolidation", (), {"savings_monthly": saving})()


def test_payback_is_the_effort_cost_over_the_monthly_savings():
    hop = Hop(from_version="1.0.0", to_version="1.1.0", kind="target", reason="next minor")
    path = UpgradePath(tool="karpenter", clusters=["dev-1", "prod-1"], from_version="1.0.0", to_version="1.1.0",
                       hops=[hop])  # fmt: skip
    rollout = [_stage("dev", 12, 1, 60, False), _stage("prod", 12, 1, 120, True)]
    roe = return_on_effort([_Report("prod-1", 150.0), _Report("other", 999.0)], rollout, [path], ["dev-1", "prod-1"])
    # 24 steps x 5 min + 2 cluster hops x 30 min + 1 approval x 30 min = 210 min = 3.5 h; soak 3 h x 10% = 0.3 h
    assert roe.effort_hours == 3.8 and roe.effort_cost == 380.0
    assert roe.monthly_savings == 150.0 and roe.payback_months == round(380 / 150, 2)
    assert any("$100" in a for a in roe.assumptions) and any("24 plan step(s)" in a for a in roe.assumptions)
    assert return_on_effort([], rollout, [path], ["dev-1"]) is None
