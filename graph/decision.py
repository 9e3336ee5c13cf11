"""The seed's decision tree as pure functions: trigger -> track, findings -> risk, risk -> strategy.

Every outcome carries its reasons, so a reader can check the tree was applied as written:
  Critical Security -> fast-track | Cost -> ROI validation | Feature -> standard | Compliance -> extra validation
  Low -> direct staging deployment | Medium -> extended testing | High -> maintenance window |
  Critical -> senior engineer approval
  Zero downtime -> rolling | Maintenance window -> planned downtime | Blue-green -> parallel | Canary -> gradual

What a tool can do (canary inside a cluster, two installations side by side) is knowledge data with its source
(`strategies:` in tools/knowledge/data/<tool>.yaml); a strategy the tool cannot do falls back to the next safest
one, and the decision says why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from upgradectl.models import (
    SEVERITY_ORDER,
    AdvisoryReport,
    Decision,
    Finding,
    RiskAssessment,
    RiskLevel,
    Strategy,
    StrategyKind,
    Track,
    Trigger,
)
from upgradectl.tools.knowledge.loader import ToolKnowledge

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


@dataclass(frozen=True)
class StrategyOption:
    """Whether the plan can roll out one way, how (the tool's mechanism) or why not, and where that is written."""

    available: bool
    how: str
    sources: tuple[str, ...] = ()


def strategy_options(knowledge: ToolKnowledge, clusters_per_env: dict[str, int]) -> dict[StrategyKind, StrategyOption]:
    """What this plan can do: rolling and maintenance windows always; canary inside a cluster where the tool's
    knowledge says so, else one cluster first in an environment that has several; blue-green where the tool can
    run two installations side by side (knowledge data, each with its source)."""
    several = sorted(env for env, count in clusters_per_env.items() if count > 1)
    canary, blue_green = knowledge.strategies.canary, knowledge.strategies.blue_green
    options: dict[StrategyKind, StrategyOption] = {
        "rolling": StrategyOption(True, "in place, one change set per environment and hop"),
        "maintenance-window": StrategyOption(True, "in place, inside the environment's maintenance windows"),
    }
    across = f"one cluster first in {', '.join(several)} (the one with the fewest nodes)" if several else ""
    if canary is not None and canary.available and canary.in_cluster:
        how = f"inside each cluster: {canary.summary}" + (f"; across clusters: {across}" if across else "")
        options["canary"] = StrategyOption(True, how, (canary.source,))
    elif across:
        why = f" (not inside a cluster: {canary.reason})" if canary is not None and canary.reason else ""
        options["canary"] = StrategyOption(True, across + why, (canary.source,) if canary else ())
    else:
        why = canary.reason if canary is not None and canary.reason else (
            f"the knowledge base does not say how {knowledge.display_name} takes a new version on part of a cluster")
        options["canary"] = StrategyOption(False, f"{why}; and no environment of this plan has several clusters",
                                           (canary.source,) if canary else ())  # fmt: skip
    if blue_green is not None and blue_green.available:
        options["blue-green"] = StrategyOption(True, blue_green.summary, (blue_green.source,))
    else:
        why = blue_green.reason if blue_green is not None else (
            f"the knowledge base does not say how to run two {knowledge.display_name} installations side by side")
        options["blue-green"] = StrategyOption(False, why, (blue_green.source,) if blue_green else ())
    return options


# the next safest strategy when one is not available for the tool
FALLBACK: dict[StrategyKind, tuple[StrategyKind, ...]] = {
    "blue-green": ("canary", "maintenance-window"),
    "canary": ("blue-green", "maintenance-window"),
    "maintenance-window": (),
    "rolling": (),
}


def tree_strategy(risk: RiskLevel, disruptive: bool) -> tuple[StrategyKind, str]:
    """The seed's tree: low -> rolling (canary when the upgrade interrupts traffic), medium -> canary or
    blue-green, high -> maintenance window, critical -> a parallel installation (and senior approval)."""
    if risk == "critical":
        return "blue-green", ("critical risk: upgrade a parallel installation (new beside the old) and shift over, "
                              "keeping the old one as the way back")
    if risk == "high":
        return "maintenance-window", "high risk: planned downtime window with the team on hand and rollback rehearsed"
    if risk == "medium":
        return "canary", "medium risk: extended testing: a part first, gated, then gradually the rest"
    if disruptive:
        return "canary", "low risk but the upgrade interrupts traffic: one node/cluster first, then gradually the rest"
    return "rolling", "low risk and a non-disruptive procedure: zero-downtime rolling upgrade"


def choose_strategy(risk: RiskLevel, disruptive: bool, options: dict[StrategyKind, StrategyOption] | None = None,
                    asked: StrategyKind | None = None, tool: str = "this tool") -> Strategy:  # fmt: skip
    """Risk and the tool's procedure -> how to roll out; `asked` (--strategy) overrides the tree. A strategy the
    tool cannot do falls back to the next safest one the plan can do, with the reason."""
    options = options or {}
    wanted, why = tree_strategy(risk, disruptive)
    reasons = [why]
    if asked is not None and asked != wanted:
        reasons = [f"--strategy {asked} asked for (the tree chose {wanted}: {why})"]
        wanted = asked
    elif asked is not None:
        reasons.append(f"--strategy {asked} asked for the same")
    chosen = wanted
    option = options.get(chosen, StrategyOption(True, ""))
    if not option.available:
        fallbacks = [k for k in FALLBACK[wanted] if options.get(k, StrategyOption(True, "")).available]
        if wanted == "canary" and not disruptive and "maintenance-window" in fallbacks:
            fallbacks = ["rolling"] if "blue-green" not in fallbacks else ["blue-green"]
        chosen = fallbacks[0] if fallbacks else "maintenance-window"
        reasons.append(f"{wanted} is not available for {tool}: {option.how}; next safest: {chosen}")
    how = options.get(chosen, StrategyOption(True, ""))
    return Strategy(kind=chosen, reasons=reasons, asked=wanted if chosen != wanted else None,
                    forced=asked is not None, mechanism=how.how,
                    sources=list(how.sources) + (list(option.sources) if chosen != wanted else []))  # fmt: skip


def make_decision(track: Track, track_reasons: list[str], risk: RiskAssessment, disruptive: bool,
                  options: dict[StrategyKind, StrategyOption] | None = None, asked: StrategyKind | None = None,
                  tool: str = "this tool") -> Decision:  # fmt: skip
    """Close the tree: strategy from risk (or --strategy) and what the tool can do, approval from risk and track."""
    strategy = choose_strategy(risk.level, disruptive, options, asked, tool)
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
