"""Who must know: each rollout stage's approvers and informed people (the fleet file's owners per environment
and cluster, CODEOWNERS of the GitOps files the stage edits), the user's tests it runs as gates, and the chat
messages (Markdown) for its start, gate result and rollback. `execute --notify URL` sends the same messages with
the run's results filled in."""

from __future__ import annotations

from upgradectl.models import RolloutStage, StageMessage, StageOwners, UserCheck
from upgradectl.tools.cluster.fleet import Fleet
from upgradectl.tools.gitops.codeowners import load as load_codeowners


def stage_owners(fleet: Fleet, stage: RolloutStage) -> StageOwners:
    """Approvers and informed people of a stage, with where each name comes from."""
    approvers: list[str] = []
    informed: list[str] = []
    sources: list[str] = []
    env = fleet.spec.environments.get(stage.environment)
    if env is not None and env.owners:
        approvers += env.owners
        sources.append(f"fleet file environments.{stage.environment}.owners")
    for cluster in stage.clusters:
        entry = fleet.clusters[cluster].entry if cluster in fleet.clusters else None
        if entry is not None and entry.owners:
            approvers += entry.owners
            sources.append(f"fleet file clusters[{cluster}].owners")
    root = fleet.gitops_root
    codeowners = load_codeowners(root) if root is not None and root.is_dir() else None
    if codeowners is not None and root is not None:
        files = sorted({e.file for step in stage.steps for e in step.edits if e.file})
        for file in files:
            try:
                inside = (fleet.root / file).resolve().relative_to(root).as_posix()
            except ValueError:
                continue  # a Terraform file outside the GitOps repo: its CODEOWNERS do not apply
            owners, rule = codeowners.owners_of(inside)
            if rule is not None and owners:
                approvers += owners
                sources.append(f"{root.name}/{codeowners.path}:{rule.line} ({inside})")
    if env is not None and env.notify:
        informed += env.notify
        sources.append(f"fleet file environments.{stage.environment}.notify")
    approvers = list(dict.fromkeys(approvers))
    informed = list(dict.fromkeys([*informed, *approvers]))
    return StageOwners(approvers=approvers, informed=informed, sources=sources)


def stage_tests(fleet: Fleet, environment: str) -> list[UserCheck]:
    """The user's tests the fleet file declares for an environment (run after every hop, as gates)."""
    env = fleet.spec.environments.get(environment)  # type: ignore[call-overload]
    return [spec.check() for spec in env.tests] if env is not None else []


def _cc(owners: StageOwners) -> str:
    return f"\ncc {' '.join(owners.informed)}" if owners.informed else ""


def start_message(tool: str, stage: RolloutStage, hop: str = "", run: str = "") -> str:
    """Markdown for the start of a stage (or one hop of it, during execution)."""
    what = hop or ", ".join(stage.hops)
    gates = len(stage.gates)
    lines = [
        f"*{tool} upgrade starting in {stage.environment}*{f' (run {run})' if run else ''}",
        f"- clusters: {', '.join(stage.clusters)}",
        f"- hop(s): {what}",
        f"- gates after each hop: {gates} metric gate(s)"
        + (f", tests: {', '.join(t.name for t in stage.tests)}" if stage.tests else "")
        + f"; soak {stage.soak_minutes} min",
        f"- approval: {'required from ' + (', '.join(stage.owners.approvers) or 'the environment owner') if stage.approval_required else 'not required'}",  # noqa: E501
        "- if a gate fails or a test fails or times out, the hop is reverted and nothing after it is changed",
    ]
    return "\n".join(lines) + _cc(stage.owners)


def gate_message(tool: str, stage: RolloutStage, hop: str, result: str, details: list[str]) -> str:
    """Markdown for a hop's gate result (metric gates and the user's tests)."""
    icon = {"pass": "passed", "fail": "FAILED", "inconclusive": "INCONCLUSIVE"}.get(result, result)
    head = f"*{tool} gates {icon} in {stage.environment}* for {hop}"
    body = [f"- {line}" for line in details[:30]] or ["- (no gate results)"]
    if len(details) > 30:
        body.append(f"- ... and {len(details) - 30} more")
    return "\n".join([head, *body]) + _cc(stage.owners)


def rollback_message(tool: str, stage: RolloutStage, hop: str, reason: str, revert: str, after: str) -> str:
    """Markdown for a hop's rollback: why, the revert commit, and the gates after it."""
    lines = [
        f"*{tool} ROLLED BACK in {stage.environment}*: {hop}",
        f"- why: {reason}",
        f"- revert commit: `{revert[:12]}`" if revert else "- revert commit: none (the revert failed: see the run)",
        f"- gates after the rollback: {after}",
        "- later environments were not touched",
    ]
    return "\n".join(lines) + _cc(stage.owners)


def with_people(fleet: Fleet, tool: str, stage: RolloutStage) -> RolloutStage:
    """The stage with its owners, the user's tests and the messages it will send (previews at plan time)."""
    people = {"owners": stage_owners(fleet, stage), "tests": stage_tests(fleet, stage.environment)}
    stage = stage.model_copy(update=people)
    judged = [f"{g.name}: pass, fail or inconclusive" for g in stage.gates] + [
        f"test {t.describe()}: pass, fail or timeout" for t in stage.tests
    ]
    messages = [
        StageMessage(kind="start", markdown=start_message(tool, stage)),
        StageMessage(kind="gate", markdown=gate_message(tool, stage, "<hop>", "<result>", judged)),
        StageMessage(kind="rollback", markdown=rollback_message(tool, stage, "<hop>", "<why>", "<commit>", "<result>")),
    ]
    return stage.model_copy(update={"messages": messages})
