"""The seed's decision tree as pure functions: trigger -> track, findings -> risk, risk -> strategy.

Every outcome carries its reasons, so a reader can check the tree was applied as written:
  Critical Security -> fast-track | Cost -> ROI validation | Feature -> standard | Compliance -> extra validation
  Low -> direct staging deployment | Medium -> extended testing | High -> maintenance window |
  Critical -> senior engineer approval
  Zero downtime -> rolling | Maintenance window -> planned downtime | Blue-green -> parallel | Canary -> gradual
"""

from __future__ import annotations

from collections import Counter

from upgradectl.models import (
    SEVERITY_ORDER,
    AdvisoryReport,
    Decision,
    Finding,
    RiskAssessment,
    RiskLevel,
    Strategy,
    Track,
    Trigger,
)

TRACKS: dict[Trigger, tuple[Track, str]] = {
    "security": ("security-fast-track", "security trigger: fast-track (shorter soaks, same gates)"),
    "cost": ("cost-roi", "cost trigger: focus on ROI validation (KPIs measured before and after)"),
    "feature": ("feature-standard", "feature trigger: standard upgrade process"),
    "performance": ("feature-standard", "performance trigger: standard process, with performance KPIs compared"),
    "compliance": ("compliance-extra-validation", "compliance trigger: extra validation and recorded sign-off"),
}

TESTING: dict[RiskLevel, str] = {
    "low": "direct staging deployment: the dev soak may be shortened",
    "medium": "extended testing required in dev and staging before production",
    "high": "maintenance window needed for production",
    "critical": "senior engineer approval required before execution",
}


def choose_track(trigger: Trigger, advisories: AdvisoryReport | None = None) -> tuple[Track, list[str]]:
    """The track from the trigger; a security request is ranked by what it fixes: fast-tracked when a high or
    critical advisory affects the running version (or the advisories could not be checked), the standard process
    when OSV lists none."""
    track, reason = TRACKS[trigger]
    if trigger != "security" or advisories is None:
        return track, [reason]
    if advisories.status == "not-checked":
        return track, [reason, f"advisories not checked ({advisories.reason[:200]}): fast-tracked to be safe"]
    running = {i for ids in advisories.running.values() for i in ids}
    serious = [a for a in advisories.advisories if a.id in running and a.serious]
    if serious:
        worst = ", ".join(f"{a.id} ({a.severity})" for a in serious[:5])
        return track, [reason, f"{len(serious)} high/critical advisory(ies) affect the running version: {worst}"]
    return "feature-standard", [
        f"security request, but no high or critical advisory affects the running version (OSV, {advisories.status} "
        f"{advisories.fetched_at}; {len(running)} lower-rated): the standard process, not the fast track"
    ]


def assess_risk(findings: list[Finding], irreversible_hops: list[str], hop_count: int) -> RiskAssessment:
    """Risk from the findings' severities, one-way hops and path length; reasons name the drivers.

    A one-way hop is counted once, through `irreversible_hops`: the high rollback finding that reports
    it is not counted again as a high finding. Health findings describe the clusters now, not the upgrade:
    an incident blocks its cluster (the rollout stage says so, execute refuses) rather than raise the risk.
    """
    blocked = sorted({f.subject.cluster for f in findings if f.category == "health" and f.severity == "critical"})
    findings = [f for f in findings if not (f.category == "rollback" and f.severity == "high" and irreversible_hops)]
    findings = [f for f in findings if f.category != "health"]
    counts = Counter(f.severity for f in findings)
    by_severity = {s: sorted({f.code for f in findings if f.severity == s}) for s in SEVERITY_ORDER}
    reasons: list[str] = []
    if blocked:  # the clusters' state now, not a property of the upgrade: it blocks them instead
        reasons.append(f"not counted: {', '.join(blocked)} in an incident now (blocked until it is resolved)")
    if counts["critical"]:
        reasons.append(f"{counts['critical']} critical finding(s): {', '.join(by_severity['critical'])}")
        return RiskAssessment(level="critical", reasons=reasons)
    if counts["high"] and irreversible_hops:
        reasons.append(
            f"{counts['high']} high finding(s) ({', '.join(by_severity['high'])}) on a path with "
            f"one-way hops: {', '.join(irreversible_hops)}"
        )
        return RiskAssessment(level="critical", reasons=reasons)
    if counts["high"] or irreversible_hops:
        if counts["high"]:
            reasons.append(f"{counts['high']} high finding(s): {', '.join(by_severity['high'])}")
        if irreversible_hops:
            reasons.append(f"one-way hops (no rollback once crossed): {', '.join(irreversible_hops)}")
        return RiskAssessment(level="high", reasons=reasons)
    if counts["medium"] or hop_count > 1:
        if counts["medium"]:
            reasons.append(f"{counts['medium']} medium finding(s): {', '.join(by_severity['medium'])}")
        if hop_count > 1:
            reasons.append(f"{hop_count} hops to roll out and validate")
        return RiskAssessment(level="medium", reasons=reasons)
    reasons.append(f"no finding above low and a single hop ({hop_count})")
    return RiskAssessment(level="low", reasons=reasons)


def choose_strategy(risk: RiskLevel, disruptive: bool) -> Strategy:
    """Risk and the tool's procedure -> how to roll out."""
    if risk == "critical":
        return Strategy(
            kind="blue-green",
            reasons=[
                "critical risk: upgrade a parallel installation (new objects beside the old) and shift over, "
                "keeping the old one as the way back"
            ],
        )
    if risk == "high":
        return Strategy(
            kind="maintenance-window",
            reasons=["high risk: planned downtime window with the team on hand and rollback rehearsed"],
        )
    if disruptive:
        return Strategy(
            kind="canary",
            reasons=[
                f"{risk} risk but the upgrade interrupts traffic: one node/cluster first, then gradually the rest"
            ],
        )
    return Strategy(
        kind="rolling", reasons=[f"{risk} risk and a non-disruptive procedure: zero-downtime rolling upgrade"]
    )


def make_decision(track: Track, track_reasons: list[str], risk: RiskAssessment, disruptive: bool) -> Decision:
    """Close the tree: strategy from risk, approval from risk and track."""
    strategy = choose_strategy(risk.level, disruptive)
    approval_reasons = []
    if risk.level == "critical":
        approval_reasons.append("critical risk: senior engineer approval before execution")
    if track == "compliance-extra-validation":
        approval_reasons.append("compliance track: recorded sign-off after extra validation")
    return Decision(
        track=track,
        track_reasons=track_reasons,
        risk=risk,
        strategy=strategy,
        approval_required=bool(approval_reasons),
        approval_reasons=approval_reasons,
        testing=TESTING[risk.level],
    )
