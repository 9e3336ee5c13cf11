"""The Kubernetes plan: `plan "upgrade kubernetes to 1.31"` (or `--tool kubernetes --to 1.31`).

Per cluster: the installed tools that cannot run on every minor the upgrade passes through, the release each must
reach first (each a full single-tool section, verified like any plan), the API removals the target brings (cluster
and GitOps repo), and one rollout per environment: the tools first, then the control-plane hops one minor at a time
with the provider's commands (listed, never run).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from upgradectl.agents.inventory import edited_checkout
from upgradectl.agents.kubernetes_readiness import Readiness, assess, control_plane_steps, projected_fleet
from upgradectl.agents.request import classify_trigger, find_environments, find_target_version
from upgradectl.app.errors import UseCaseError
from upgradectl.graph.combine import combine, kubernetes_order_violations, order_tools
from upgradectl.graph.decision import assess_risk, choose_track, make_decision
from upgradectl.graph.state import RunContext
from upgradectl.models import ENVIRONMENT_ORDER, CombinedPlan, KubernetesReadiness, Plan, Step, ToolOrder
from upgradectl.tools.cluster.fleet import Fleet, open_fleet, unknown_clusters_message
from upgradectl.tools.gitops.yaml_edit import EditError
from upgradectl.tools.knowledge.freshness import today
from upgradectl.tools.knowledge.loader import load_kubernetes, products
from upgradectl.tools.versions import Version, VersionError


def target_minor(request: BaseModel) -> str:
    """The Kubernetes minor asked for ('1.31'), from --to or the words; UseCaseError when none or not a version."""
    wanted = request.to or find_target_version(request.text)[0]
    if not wanted:
        raise UseCaseError('a Kubernetes plan needs its target minor: "upgrade kubernetes to 1.31" or --to 1.31')
    try:
        version = Version.parse(wanted)
    except VersionError as exc:
        raise UseCaseError(f"Kubernetes target {wanted!r}: {exc}") from None
    return f"{version.major}.{version.minor}"


def _scope(request: BaseModel, fleet: Fleet) -> list[str]:
    """The clusters to upgrade: --clusters, cluster names in the words, --env or scoping words, else all."""
    names = list(request.clusters or [])
    if not names:
        names = [c for c in fleet.clusters if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", request.text.lower())]
    unknown = [c for c in names if c not in fleet.clusters]
    if unknown:
        raise UseCaseError(unknown_clusters_message(unknown, fleet.clusters))
    envs = list(request.environments or []) or find_environments(request.text)[0]
    chosen = [c for c in fleet.clusters.values() if (not names or c.info.name in names)
              and (not envs or c.info.environment in envs)]
    unread = [c for c in chosen if c.source is None]
    if unread:
        why = "; ".join(sorted({c.error for c in unread if c.error}))
        raise UseCaseError(f"cannot plan Kubernetes on {', '.join(c.info.name for c in unread)}: the cluster(s) could "
                           f"not be read{f' ({why})' if why else ''}", 3)  # fmt: skip
    return [c.info.name for c in sorted(chosen, key=lambda c: ENVIRONMENT_ORDER.index(c.info.environment))]


def _control_plane(fleet: Fleet, readiness: Readiness) -> dict[str, list[Step]]:
    """Per environment, every cluster's control-plane steps, hop by hop."""
    kube = load_kubernetes()
    steps: dict[str, list[Step]] = {}
    for hop in readiness.hops:
        member = fleet.clusters[hop.cluster]
        steps.setdefault(member.info.environment, []).extend(control_plane_steps(kube, member, hop))
    return steps


def plan_kubernetes(request: BaseModel, context: RunContext, run_graph: Callable[..., tuple[Plan, list[str]]],
                    on_update: Callable[[dict[str, Any]], None] | None = None) -> tuple[CombinedPlan, list[str]]:
    """Plan a Kubernetes upgrade of the fleet's clusters in scope; `request` is app/plan.py's PlanRequest."""
    target = target_minor(request)
    if context.fleet is None:
        context.fleet = open_fleet(request.fleet, context=request.context or "", kubeconfig=request.kubeconfig or "",
                                   repo=request.repo or "", kubernetes=request.kubernetes or "",
                                   live_opener=context.live_opener)
    fleet = context.fleet
    clusters = _scope(request, fleet)
    readiness = assess(fleet, clusters, target, products(), today())
    sections: list[Plan] = []
    warnings: list[str] = list(readiness.notes)
    for tool, (version, names) in readiness.sections.items():
        wanted = request.model_copy(update={"tool": tool, "to": version, "clusters": names, "environments": None})
        section, section_warnings = run_graph(wanted.graph_input(), context, on_update)
        sections.append(section)
        warnings.extend(f"{tool}: {w}" for w in section_warnings)
    after: list[tuple[ToolOrder, Plan]] = []
    if readiness.after:
        with tempfile.TemporaryDirectory(prefix="upgradectl-after-") as checkout:
            try:
                root = edited_checkout(fleet, sections, Path(checkout))
            except EditError as exc:
                raise UseCaseError(f"the moves before the control plane do not apply to the GitOps repo: {exc}",
                                   3) from None
            later = replace(context, fleet=projected_fleet(fleet, readiness, root))
            for tool, (version, names) in readiness.after.items():
                wanted = request.model_copy(update={"tool": tool, "to": version, "clusters": names,
                                                    "environments": None})
                section, section_warnings = run_graph(wanted.graph_input(), later, on_update)
                why = next(b.reason for b in readiness.blockers if b.tool == tool and b.when == "after")
                after.append((ToolOrder(tool=tool, reasons=[f"after the control plane: {why}"],
                                        after_control_plane=True), section))
                warnings.extend(f"{tool} (after the control plane): {w}" for w in section_warnings)
    order = [ToolOrder(tool=o.tool, reasons=[*o.reasons, *[f"before the control plane: {b.reason}" for b in
                                                           readiness.blockers if b.tool == o.tool][:1]])
             for o in order_tools(sections)] if sections else []
    findings = readiness.findings
    risk = assess_risk(findings, [], len(readiness.hops))
    track, track_reasons = choose_track(classify_trigger(request.text)[0])
    fallback = make_decision(track, track_reasons, risk, disruptive=True)
    moves = ", ".join(f"{tool} -> {version} on {', '.join(names)}" for tool, (version, names) in
                      readiness.sections.items()) or "none"
    later_moves = ", ".join(f"{tool} -> {version} on {', '.join(names)}" for tool, (version, names) in
                            readiness.after.items()) or "none"
    head = (f"Kubernetes {target} on {len(clusters)} cluster(s): {len(readiness.hops)} control-plane hop(s) one minor "
            f"at a time; tools that must move first: {moves}; "
            f"tools that can only move after: {later_moves}; "
            f"{sum(f.code == 'K8S-API-REMOVED' for f in findings)} object(s) on API versions {target} no longer "
            "serves.")
    combined = combine(
        request.text, context.fleet_ref or request.fleet, sections,
        kubernetes=KubernetesReadiness(target=target, hops=readiness.hops, blockers=readiness.blockers,
                                       findings=findings, schema_notes=readiness.schema_notes),
        order=order or None, control_plane=_control_plane(fleet, readiness), extra_risk=risk, summary_head=head,
        fallback=fallback, after=after,
    )
    violations = kubernetes_order_violations(combined)
    verification = combined.verification.model_copy(update={
        "violations": [*combined.verification.violations, *violations],
        "checked": [*combined.verification.checked,
                    "every tool hop supported on the Kubernetes version its cluster runs at that step"],
    })
    return combined.model_copy(update={"verification": verification}), warnings
