from upgradectl.graph.decision import assess_risk, choose_strategy, choose_track, make_decision
from upgradectl.models import Evidence, Finding


def finding(severity: str, code: str = "X-ONE") -> Finding:
    return Finding(
        code=code,
        severity=severity,
        category="compatibility",
        title="t",
        agent="flux-navigator",
        evidence=[Evidence(source="cluster", ref="r", excerpt="e")],
    )


def test_tracks_follow_the_seed():
    assert choose_track("security")[0] == "security-fast-track"
    assert choose_track("cost")[0] == "cost-roi"
    assert choose_track("feature")[0] == "feature-standard"
    assert choose_track("compliance")[0] == "compliance-extra-validation"
    assert choose_track("performance")[0] == "feature-standard"


def test_risk_levels_and_reasons():
    assert assess_risk([], [], 1).level == "low"
    assert assess_risk([], [], 3).level == "medium"
    assert assess_risk([finding("medium")], [], 1).level == "medium"
    high = assess_risk([finding("high", "A-B")], [], 1)
    assert high.level == "high" and "A-B" in high.reasons[0]
    assert assess_risk([], ["1.0.10 -> 1.1.0"], 1).level == "high"
    assert assess_risk([finding("high")], ["1.0.10 -> 1.1.0"], 2).level == "critical"
    critical = assess_risk([finding("critical", "C-D")], [], 1)
    assert critical.level == "critical" and "C-D" in critical.reasons[0]


def test_strategy_per_risk():
    assert choose_strategy("low", disruptive=False).kind == "rolling"
    # issue 21 / the seed: medium risk -> extended testing, "canary or blue-green" (a part first, gated)
    assert choose_strategy("medium", disruptive=False).kind == "canary"
    assert choose_strategy("medium", disruptive=True).kind == "canary"
    assert choose_strategy("high", disruptive=False).kind == "maintenance-window"
    assert choose_strategy("critical", disruptive=False).kind == "blue-green"


def test_approval_for_critical_and_compliance_only():
    low = assess_risk([], [], 1)
    assert not make_decision("feature-standard", [], low, False).approval_required
    assert make_decision("compliance-extra-validation", [], low, False).approval_required
    critical = assess_risk([finding("critical")], [], 1)
    decision = make_decision("cost-roi", ["r"], critical, False)
    assert decision.approval_required and "senior" in decision.approval_reasons[0]
    assert decision.testing.startswith("senior engineer approval")
