"""What an upgrade is worth: the features the path brings per line (from the knowledge base's upstream notes,
tied to the request's trigger) and, for the cost track, the payback of the projected savings against the
plan's effort (hops, steps, soak, approvals), with every assumption stated."""

from __future__ import annotations

import re

from upgradectl.cost_models import CostReport
from upgradectl.models import FeatureGained, ReturnOnEffort, RolloutStage, UpgradePath, UpgradeRequest
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.versions import Version

# the feature tags a trigger asks for; a feature request is matched by the words it names instead
TRIGGER_TAGS = {"cost": {"cost"}, "performance": {"performance"}, "security": {"security"}}
_STOP = {"the", "and", "for", "with", "upgrade", "needs", "need", "better", "new", "from", "into", "our", "want"}

# the effort model of the payback figure (stated in the plan with the figure)
MINUTES_PER_STEP = 5.0  # a person runs or checks each plan step
MINUTES_PER_HOP = 30.0  # per cluster hop: watching the reconcile, reading the gates, writing the change record
MINUTES_PER_APPROVAL = 30.0  # an approver reads the stage and the plan before saying yes
SOAK_ATTENTION = 0.1  # share of the soak time someone spends watching dashboards and alerts
ENGINEER_HOURLY_USD = 100.0  # loaded cost of an engineer hour


def features_gained(
    knowledge: ToolKnowledge, request: UpgradeRequest, running: list[str], target: str
) -> list[FeatureGained]:
    """Features of every line above the oldest running line up to the target's line, marked when they are what
    the request asked for (its trigger's tag, or words of a feature request)."""
    if not running or not target:
        return []
    floor = min(Version.parse(Version.parse(v).line) for v in running)
    top = Version.parse(Version.parse(target).line)
    wanted_tags = TRIGGER_TAGS.get(request.trigger, set())
    product = {
        w
        for name in (knowledge.tool, knowledge.display_name, *knowledge.aliases)
        for w in re.findall(r"[a-z0-9-]{3,}", name.lower())
    }
    # the tool's own name is in every request and in many titles: it names no feature
    words = {w for w in re.findall(r"[a-z0-9-]{3,}", request.text.lower()) if w not in _STOP | product}
    gained = []
    for release in sorted(knowledge.releases, key=lambda r: Version.parse(r.line)):
        if not floor < Version.parse(release.line) <= top:
            continue
        for feature in release.features:
            title_words = set(re.findall(r"[a-z0-9-]{3,}", feature.title.lower()))
            named = request.trigger == "feature" and bool(words & (title_words | set(feature.tags)))
            gained.append(
                FeatureGained(
                    line=release.line, title=feature.title, tags=list(feature.tags), source=feature.source,
                    matches_trigger=bool(wanted_tags & set(feature.tags)) or named,
                )  # fmt: skip
            )
    return gained


def features_summary(features: list[FeatureGained], trigger: str) -> str:
    """The summary's sentence on what the path brings, leading with what the trigger asked for."""
    if not features:
        return ""
    lines = sorted({f.line for f in features}, key=Version.parse)
    matched = [f for f in features if f.matches_trigger]
    text = f"The path brings {len(features)} upstream improvement(s) on line(s) {', '.join(lines)}"
    if matched:
        shown = "; ".join(f"{f.title} ({f.line})" for f in matched[:4])
        text += f"; for this {trigger} request: {shown}" + (f" and {len(matched) - 4} more" if len(matched) > 4 else "")
    elif trigger in TRIGGER_TAGS or trigger == "feature":
        text += f"; none of them is announced as a {trigger} improvement"
    return text + "."


def return_on_effort(
    cost: list[CostReport], rollout: list[RolloutStage], paths: list[UpgradePath], scope: list[str]
) -> ReturnOnEffort | None:
    """Projected monthly savings of the consolidation simulation against the person-hours of this rollout, as a
    payback in months; None when no cluster in scope has a simulation."""
    savings = {r.cluster: r.consolidation.savings_monthly for r in cost
               if r.consolidation is not None and r.cluster in scope}  # fmt: skip
    if not savings:
        return None
    hops = sum(len(p.hops) * len(p.clusters) for p in paths)
    steps = sum(len(s.steps) for s in rollout)
    soak_hours = sum(s.soak_minutes * len(s.hops) for s in rollout) / 60.0
    approvals = sum(s.approval_required for s in rollout)
    effort_hours = (steps * MINUTES_PER_STEP + hops * MINUTES_PER_HOP + approvals * MINUTES_PER_APPROVAL) / 60.0 \
        + soak_hours * SOAK_ATTENTION
    effort_cost = effort_hours * ENGINEER_HOURLY_USD
    monthly = sum(savings.values())
    payback = effort_cost / monthly if monthly > 0 else None
    unreported = [r.cluster for r in cost if r.incomplete and r.cluster in scope]
    assumptions = [
        "savings: the consolidation simulation's projected monthly saving per cluster (repacking the Karpenter "
        "nodes' pods onto the cheapest nodes the pools allow, 730 h/month, bundled dated price table), taken as "
        "reachable once the target's consolidation runs; the simulation is not a measurement",
        f"effort: {steps} plan step(s) x {MINUTES_PER_STEP:g} min + {hops} cluster hop(s) x {MINUTES_PER_HOP:g} min "
        f"+ {approvals} approval(s) x {MINUTES_PER_APPROVAL:g} min + {SOAK_ATTENTION:.0%} of {soak_hours:g} h "
        "of soak watched",
        f"an engineer hour costs ${ENGINEER_HOURLY_USD:g}; the upgrade's own risk (a rollback, an incident) is not "
        "priced",
    ]
    if unreported:
        assumptions.append(f"incomplete cost figures on {', '.join(unreported)} (see the cost section)")
    return ReturnOnEffort(
        monthly_savings=round(monthly, 2), savings_by_cluster={c: round(v, 2) for c, v in savings.items()},
        hops=hops, hands_on_steps=steps, soak_hours=round(soak_hours, 2), approvals=approvals,
        effort_hours=round(effort_hours, 2), effort_cost=round(effort_cost, 2),
        payback_months=round(payback, 2) if payback is not None else None, assumptions=assumptions,
    )  # fmt: skip


def payback_summary(roe: ReturnOnEffort) -> str:
    """The summary's sentence on the return of the effort."""
    if roe.payback_months is None:
        return (f"Return on the effort: no projected savings against about {roe.effort_hours:.1f} person-hours "
                f"(${roe.effort_cost:,.0f}); no payback.")
    return (f"Return on the effort: ${roe.monthly_savings:,.2f}/month projected savings against about "
            f"{roe.effort_hours:.1f} person-hours (${roe.effort_cost:,.0f}): payback in {roe.payback_months:.1f} "
            "month(s) (assumptions in the plan).")
