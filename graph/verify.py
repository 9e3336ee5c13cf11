"""The plan verifier as the graph's last step, and for a plan file (`upgradectl verify-plan`).

It proves the assembled plan consistent (tools/verify/checks.py) and records the verdict on the plan
(`plan.verification`); each violation also becomes a high finding of its own (`PLAN-VERIFY-<CHECK>`), naming the
stage and step, so a plan with a wrong command never looks clean.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from upgradectl.agents.base import make_finding
from upgradectl.agents.inventory import edited_checkout
from upgradectl.graph.combine import combined_verification, kubernetes_order_violations, rollout_violations
from upgradectl.graph.state import PlanState, RunContext
from upgradectl.models import (
    SEVERITY_ORDER,
    CombinedPlan,
    Evidence,
    Finding,
    Plan,
    PlanVerification,
    Subject,
    Violation,
)
from upgradectl.tools.charts.store import ChartStore
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.gitops.yaml_edit import EditError
from upgradectl.tools.knowledge.loader import load_tool
from upgradectl.tools.verify.checks import verify_plan
from upgradectl.tools.verify.commands import CommandParser
from upgradectl.tools.verify.manifests import ManifestValidator, crd_schema


def _crd_lookup(fleet: Fleet | None):
    """CRD schemas from the clusters' recordings: (cluster, apiVersion, kind) -> openAPIV3Schema."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def lookup(cluster: str, api_version: str, kind: str) -> dict[str, Any] | None:
        if fleet is None or cluster not in fleet.clusters or fleet.clusters[cluster].source is None:
            return None
        if cluster not in cache:
            source = fleet.clusters[cluster].source
            assert source is not None
            cache[cluster] = source.objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        return crd_schema(cache[cluster], api_version, kind)

    return lookup


def violation_finding(violation: Violation) -> Finding:
    """A violation as a finding of its own: the plan must not look clean."""
    return make_finding(
        code=f"PLAN-VERIFY-{violation.check.upper()}",
        severity="high",
        category="rollout",
        title=f"Plan step does not hold ({violation.check}): {violation.environment} {violation.step}".strip(),
        agent="incident-responder",
        subject=Subject(name=violation.step[:200]),
        evidence=[Evidence(source="plan", ref=f"rollout {violation.environment}: {violation.step}",
                           excerpt=violation.message)],  # fmt: skip
        detail=violation.message,
        remediation="Do not run this step as printed; report it (it is a planner bug) and fix the step by hand.",
    )


def with_verification(plan: Plan, verification: PlanVerification) -> Plan:
    """The plan carrying its verdict, with one finding per violation (sorted in with the others)."""
    findings = [*plan.findings, *(violation_finding(v) for v in verification.violations)]
    findings.sort(key=lambda f: (SEVERITY_ORDER.index(f.severity), f.code, f.subject.describe()))
    return plan.model_copy(update={"verification": verification, "findings": findings})


def check_plan(plan: Plan, fleet: Fleet | None, charts: ChartStore | None = None,
               command_parser: CommandParser | None = None) -> PlanVerification:  # fmt: skip
    """Run every check of the verifier over a plan on the fleet it was made for."""
    knowledge = load_tool(plan.request.tool)
    return verify_plan(plan, knowledge, fleet.root if fleet else None, charts=charts, parse_command=command_parser,
                       manifests=ManifestValidator(_crd_lookup(fleet)))  # fmt: skip


def verify(state: PlanState, ctx: RunContext) -> dict:
    """The graph's final step: verify the assembled plan and attach the verdict (and findings on failure)."""
    plan = state["plan"]
    plan = plan if isinstance(plan, Plan) else Plan.model_validate(plan)
    verification = check_plan(plan, ctx.fleet, ctx.charts, ctx.command_parser)
    return {"plan": with_verification(plan, verification)}


def check_combined(plan: CombinedPlan, fleet: Fleet | None, charts: ChartStore | None = None,
                   command_parser: CommandParser | None = None) -> PlanVerification:
    """Every section through the verifier, then the combined rollout against the sections and (Kubernetes plans)
    every tool hop against the Kubernetes version its cluster runs at that point."""
    first = [s for o, s in zip(plan.order, plan.sections, strict=False) if not o.after_control_plane]
    later = [s for o, s in zip(plan.order, plan.sections, strict=False) if o.after_control_plane]
    sections = [with_verification(s, check_plan(s, fleet, charts, command_parser)) for s in first]
    extra: list[Violation] = []
    if later:
        sections += _check_after(later, first, fleet, charts, command_parser, extra)
    extra += rollout_violations(plan)
    checked = ["combined rollout = the sections' steps in the plan's order"]
    if plan.kubernetes is not None:
        extra += kubernetes_order_violations(plan)
        checked.append("every tool hop supported on the Kubernetes version its cluster runs at that step")
    return combined_verification(sections, extra, checked)


def _check_after(later: list[Plan], first: list[Plan], fleet: Fleet | None, charts: ChartStore | None,
                 command_parser: CommandParser | None, problems: list[Violation]) -> list[Plan]:
    """The sections after the control plane, verified on the Git the sections before it leave (their edits start
    from it); a before-section edit that does not apply is a violation."""
    if fleet is None:
        return [with_verification(s, check_plan(s, fleet, charts, command_parser)) for s in later]
    with tempfile.TemporaryDirectory(prefix="upgradectl-verify-after-") as checkout:
        try:
            root = edited_checkout(fleet, first, Path(checkout))
        except EditError as exc:
            problems.append(Violation(check="combined-rollout", message="the sections before the control plane do "
                                      f"not apply to this GitOps repo, so those after it cannot be checked: {exc}"))
            return [with_verification(s, check_plan(s, None, charts, command_parser)) for s in later]
        edited = Fleet(name=fleet.name, root=root, spec=fleet.spec, clusters=fleet.clusters)
        return [with_verification(s, check_plan(s, edited, charts, command_parser)) for s in later]


def load_plan_file(path: Path) -> Plan | CombinedPlan:
    """A plan.json as `upgradectl plan --format json` writes it (ValueError with the reason otherwise)."""
    try:
        text = path.read_text()
        if '"kind"' in text[:400]:  # a combined plan leads with schema_version, then kind
            return CombinedPlan.model_validate_json(text)
        return Plan.model_validate_json(text)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror}") from exc
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"{path} is not an upgradectl plan (plan --format json): {first}") from exc
