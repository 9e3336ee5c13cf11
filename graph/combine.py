"""Several single-tool plans -> one combined plan: tool order from cross-tool constraints, one rollout, top risk.

The constraint comes from the knowledge base's Kubernetes ranges (each with its upstream source): when tool A's
target needs a newer Kubernetes on a cluster than tool B's running version supports there, B must move first
(Kubernetes cannot move past B, and A cannot move before Kubernetes). Tools with no constraint between them keep
the request's order. Each section stays a complete, verified single-tool plan; the combined rollout runs, per
environment, every tool's steps in that order, and rolls back in the reverse order.
"""

from __future__ import annotations

from datetime import UTC, datetime

from upgradectl import __version__
from upgradectl.agents.kubernetes_readiness import CONTROL_PLANE_TAG
from upgradectl.models import (
    ENVIRONMENT_ORDER,
    RISK_ORDER,
    CombinedPlan,
    Decision,
    KubernetesReadiness,
    Plan,
    PlanVerification,
    RiskAssessment,
    RolloutStage,
    Step,
    ToolOrder,
    Violation,
)
from upgradectl.tools.knowledge.loader import load_tool
from upgradectl.tools.versions import kube_minor


class OrderError(ValueError):
    """Tools whose constraints contradict each other: no order can satisfy them."""


def _kube_max(range_text: str) -> tuple[int, int] | None:
    return kube_minor(range_text.split("-")[1]) if "-" in range_text else None


def _kube_min(range_text: str) -> tuple[int, int] | None:
    return kube_minor(range_text.split("-")[0]) if "-" in range_text else None


def constraints(sections: list[Plan]) -> dict[str, dict[str, str]]:
    """after -> {before: why}: tool `before` must move before tool `after` (see the module docstring)."""
    found: dict[str, dict[str, str]] = {s.request.tool: {} for s in sections}
    for needing in sections:
        for row in needing.versions:
            needed = _kube_min(row.target_kubernetes_range)
            if not row.current_version or needed is None or kube_minor(row.kubernetes_version) >= needed:
                continue
            for other in sections:
                if other is needing:
                    continue
                for blocking in other.versions:
                    ceiling = _kube_max(blocking.current_kubernetes_range)
                    if blocking.cluster != row.cluster or not blocking.current_version or ceiling is None:
                        continue
                    if ceiling < needed:
                        found[needing.request.tool][other.request.tool] = (
                            f"{needing.request.tool} {row.target_version} needs Kubernetes "
                            f"{row.target_kubernetes_range} on {row.cluster} (runs {row.kubernetes_version}), and "
                            f"{other.request.tool} {blocking.current_version} there supports only "
                            f"{blocking.current_kubernetes_range}: {other.request.tool} moves first "
                            f"({load_tool(other.request.tool).release(blocking.current_version).source})"
                        )
    return found


def order_tools(sections: list[Plan]) -> list[ToolOrder]:
    """Tools in rollout order: constrained tools after what they wait for, otherwise the request's order."""
    waits = constraints(sections)
    requested = [s.request.tool for s in sections]
    ordered: list[ToolOrder] = []
    placed: set[str] = set()
    while len(placed) < len(requested):
        ready = [t for t in requested if t not in placed and set(waits[t]) <= placed]
        if not ready:
            stuck = [t for t in requested if t not in placed]
            raise OrderError(f"the tools {', '.join(stuck)} each wait for another: no order fits; plan them separately")
        tool = ready[0]
        reasons = [f"after {before}: {why}" for before, why in waits[tool].items()]
        if not reasons:
            reasons = [
                "no Kubernetes-range constraint with the other tools in the knowledge base: the request's order"
            ]
        ordered.append(ToolOrder(tool=tool, reasons=reasons))
        placed.add(tool)
    return ordered


def highest_decision(sections: list[Plan], extra: RiskAssessment | None = None,
                     fallback: Decision | None = None) -> Decision:
    """The decision of the riskiest section (ties: the earlier), its risk reasons naming every section's level;
    `fallback` when there is no section (a Kubernetes upgrade no tool blocks)."""
    if not sections and fallback is not None:
        return fallback
    riskiest = max(sections, key=lambda s: RISK_ORDER.index(s.decision.risk.level))
    levels = [f"{s.request.tool} {s.decision.risk.level}" for s in sections]
    level = riskiest.decision.risk.level
    reasons = [f"highest risk among the sections ({', '.join(levels)}): {riskiest.request.tool}",
               *[f"{riskiest.request.tool}: {r}" for r in riskiest.decision.risk.reasons]]
    if extra is not None and RISK_ORDER.index(extra.level) > RISK_ORDER.index(level):
        level, reasons = extra.level, [*extra.reasons, *reasons]
    risk = RiskAssessment(level=level, reasons=reasons)
    return riskiest.decision.model_copy(update={"risk": risk})


def _tagged(tool: str, steps: list[Step]) -> list[Step]:
    """Steps with their tool named in the title, so a combined stage reads unambiguously."""
    return [s.model_copy(update={"title": f"[{tool}] {s.title}"}) for s in steps]


def combine_rollout(entries: list[tuple[ToolOrder, Plan]], control_plane: dict[str, list[Step]] | None = None,
                    ) -> list[RolloutStage]:
    """One stage per environment: each entry's steps in order, the `control_plane[env]` steps after every entry not
    marked after_control_plane and before those that are (a tool may have one of each); gates of every entry,
    rollback in the reverse order, the longest soak."""
    stages = []
    for env in ENVIRONMENT_ORDER:
        parts = [(entry, plan.request.tool, stage) for entry, plan in entries for stage in plan.rollout
                 if stage.environment == env]
        middle = (control_plane or {}).get(env, [])
        if not parts and not middle:
            continue
        steps = [step for entry, tool, stage in parts if not entry.after_control_plane
                 for step in _tagged(tool, stage.steps)]
        steps += middle
        steps += [step for entry, tool, stage in parts if entry.after_control_plane
                  for step in _tagged(tool, stage.steps)]
        stages.append(RolloutStage(
            environment=env,
            clusters=sorted({c for _, _, stage in parts for c in stage.clusters} | {s.cluster for s in middle}),
            hops=[f"{tool} {hop}" for _, tool, stage in parts for hop in stage.hops],
            steps=steps,
            gates=[gate for _, _, stage in parts for gate in stage.gates],
            rollback_steps=[s for _, tool, stage in reversed(parts) for s in _tagged(tool, stage.rollback_steps)],
            approval_required=any(stage.approval_required for _, _, stage in parts),
            approval_reasons=[f"{tool}: {r}" for _, tool, stage in parts for r in stage.approval_reasons],
            soak_minutes=max([stage.soak_minutes for _, _, stage in parts] or [0]),
            notes=[f"{tool}: {n}" for _, tool, stage in parts for n in stage.notes],
        ))
    return stages


def combined_verification(sections: list[Plan], extra: list[Violation] | None = None,
                          checked: list[str] | None = None) -> PlanVerification:
    """Every section's verifier verdict, named by tool, plus the combined plan's own checks."""
    return PlanVerification(
        checked=[f"{s.request.tool}: {c}" for s in sections for c in (s.verification.checked if s.verification else
                                                                       ["NOT VERIFIED"])] + list(checked or []),
        violations=[v.model_copy(update={"step": f"{s.request.tool} {v.step}"})
                    for s in sections for v in (s.verification.violations if s.verification else [])]
        + list(extra or []),
        inconclusive=[f"{s.request.tool}: {n}" for s in sections
                      for n in (s.verification.inconclusive if s.verification else ["not verified"])],
    )


def combine(text: str, fleet: str, sections: list[Plan], kubernetes: KubernetesReadiness | None = None,
            order: list[ToolOrder] | None = None, control_plane: dict[str, list[Step]] | None = None,
            extra_risk: RiskAssessment | None = None, extra_violations: list[Violation] | None = None,
            extra_checked: list[str] | None = None, summary_head: str = "",
            fallback: Decision | None = None, after: list[tuple[ToolOrder, Plan]] | None = None) -> CombinedPlan:
    """The combined plan of `sections` (ordered by `order_tools` unless an order is given), then the `after`
    sections (Kubernetes plans: moves that can only come once the control plane has moved)."""
    order = order or order_tools(sections)
    by_tool = {s.request.tool: s for s in sections}
    entries = [(o, by_tool[o.tool]) for o in order] + list(after or [])
    sections = [plan for _, plan in entries]
    tools = [o.tool + (" (after the control plane)" if o.after_control_plane else "") for o, _ in entries]
    decision = highest_decision(sections, extra_risk, fallback)
    summary = " ".join(filter(None, [
        summary_head,
        f"Tools in order: {' -> '.join(tools)}." if tools else "",
        *[f"[{t}] {plan.summary}" for t, (_, plan) in zip(tools, entries, strict=True)],
        f"Combined: risk {decision.risk.level}; strategy {decision.strategy.kind}"
        + ("; senior approval required." if decision.approval_required else "."),
    ]))
    return CombinedPlan(
        kind="kubernetes" if kubernetes is not None else "multi-tool",
        generated_at=datetime.now(UTC),
        upgradectl_version=__version__,
        request=text,
        fleet=fleet,
        order=[o for o, _ in entries],
        sections=sections,
        kubernetes=kubernetes,
        decision=decision,
        rollout=combine_rollout(entries, control_plane),
        summary=summary,
        verification=combined_verification(sections, extra_violations, extra_checked),
    )




def kubernetes_order_violations(plan: CombinedPlan) -> list[Violation]:
    """Walk the rollout keeping each cluster's Kubernetes minor and each tool's version: a control-plane hop while a
    tool there does not support the new minor, or a tool hop that leaves a supported combination for one outside
    the target release's range, is a violation (hops between releases that were already outside it are not)."""
    readiness = plan.kubernetes
    if readiness is None:
        return []
    kube = {hop.cluster: hop.from_version for hop in reversed(readiness.hops)}  # each cluster's first minor
    running = {(b.cluster, b.tool): b.current_version for b in readiness.blockers}
    for section in plan.sections:
        for row in section.versions:
            if row.current_version:
                kube.setdefault(row.cluster, row.kubernetes_version)
                running.setdefault((row.cluster, section.request.tool), row.current_version)
    violations = []
    for stage in plan.rollout:
        for index, step in enumerate(stage.steps):
            where = f"steps[{index}] {step.title}"
            if step.title.startswith(CONTROL_PLANE_TAG):
                if step.kind != "upgrade":
                    continue
                for (cluster, tool), version in running.items():
                    kube_range = load_tool(tool).kube_range(version) if cluster == step.cluster else None
                    if kube_range is not None and not kube_range.contains(step.to_version):
                        violations.append(Violation(
                            check="kubernetes-order", environment=stage.environment, step=where,
                            message=f"{tool} {version} on {cluster} supports Kubernetes {kube_range}, not "
                                    f"{step.to_version}: it must move before this control-plane hop"))
                kube[step.cluster] = step.to_version
                continue
            tool = step.title[1:].split("]", 1)[0] if step.title.startswith("[") else ""
            if step.kind != "change" or not tool or not step.to_version or step.cluster not in kube:
                continue
            before = load_tool(tool).kube_range(step.from_version)
            after = load_tool(tool).kube_range(step.to_version)
            if after is not None and not after.contains(kube[step.cluster]) and (
                    before is None or before.contains(kube[step.cluster])):
                violations.append(Violation(
                    check="kubernetes-order", environment=stage.environment, step=where,
                    message=f"{tool} {step.to_version} supports Kubernetes {after}, but {step.cluster} runs "
                            f"{kube[step.cluster]} at this step"))
            running[(step.cluster, tool)] = step.to_version
    return violations


def rollout_violations(plan: CombinedPlan) -> list[Violation]:
    """The combined rollout must be exactly the sections' steps merged in the plan's order (plus its control-plane
    steps where the order puts them): a hand-edited or reordered plan.json fails here."""
    control_plane = {
        stage.environment: [s for s in stage.steps if s.title.startswith(CONTROL_PLANE_TAG)] for stage in plan.rollout
    }
    if [o.tool for o in plan.order] != [s.request.tool for s in plan.sections]:
        return [Violation(check="combined-rollout", message="the sections are not in the plan's order")]
    expected = combine_rollout(list(zip(plan.order, plan.sections, strict=True)), control_plane)
    violations = []
    for want, have in zip(expected, plan.rollout, strict=False):
        if want.steps != have.steps or want.rollback_steps != have.rollback_steps:
            violations.append(Violation(check="combined-rollout", environment=have.environment,
                                        message="the stage's steps are not the sections' steps in the plan's order"))
    if len(expected) != len(plan.rollout):
        violations.append(Violation(check="combined-rollout", message="the rollout's environments differ from the "
                                    "sections'"))
    return violations
