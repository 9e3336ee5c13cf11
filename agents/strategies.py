"""Rollout strategies as different steps: canary and blue-green per tool, from the knowledge base's mechanisms.

The decision tree (graph/decision.py) picks the plan's strategy; this module renders what it means for one
environment and one cluster's hop:

- canary across clusters: in an environment with several clusters, the cluster with the fewest nodes goes first
  (its own change sets and gates), the rest after it (`waves`);
- canary inside a cluster, where the tool's `strategies.canary` says it can (Cilium: the agent DaemonSet on
  OnDelete and one node's agent recycled first; Karpenter: every node outside one NodePool held with
  do-not-disrupt): phase `canary` (the change, the rest held back), `canary-subset` (the subset takes the new
  version; its gate), `rest` (the rest follows; its gate);
- blue-green, where `strategies.blue_green` says it can (VictoriaMetrics single-node: a second instance fed by
  the same vmagent takes the readers; Karpenter: a second NodePool): phase `green` (the parallel installation at
  the target takes the readers; its gate), the hop's own change, phase `retire`.

A cluster or hop the mechanism does not fit (its `when`/`unless` do not hold, or a fact it needs, such as a
NodePool or a VMSingle, is not in the cluster) rolls out as a rolling upgrade, and the stage notes say why.
Every step is rendered from the hop like the procedure's steps (agents/procedures.py), so the plan verifier
checks it the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from upgradectl.agents.base import TaskInput
from upgradectl.agents.procedures import (
    HopFacts,
    reconcile_step,
    render,
    rollback_steps,
    rollout_steps,
    validate_step,
)
from upgradectl.models import FileEdit, Phase, Step, StrategyKind
from upgradectl.tools.gitops.changes import describe
from upgradectl.tools.knowledge.loader import StepTemplate, StrategyMechanism, ToolKnowledge

SPOT = "karpenter.sh/capacity-type"
POOL_LABELS = ("karpenter.sh/nodepool", "karpenter.sh/provisioner-name")  # NodePool nodes; Provisioner nodes


def mechanism(knowledge: ToolKnowledge, kind: StrategyKind) -> StrategyMechanism | None:
    """The tool's documented way to do a strategy (None for rolling and maintenance windows)."""
    if kind == "canary":
        return knowledge.strategies.canary
    if kind == "blue-green":
        return knowledge.strategies.blue_green
    return None


def canary_soak(soak: int) -> int:
    """The canary's (or the green installation's) soak: half the stage's, at least 15 minutes."""
    return max(15, int(round(soak / 2 / 15.0)) * 15)


# ---------------------------------------------------------------- facts read from the cluster


def node_count(task: TaskInput, cluster: str) -> int:
    source = task.cluster(cluster).source
    return len(source.objects_of_kind("Node")) if source is not None else 0


def cluster_facts(task: TaskInput, cluster: str) -> dict[str, str]:
    """What strategy steps need from the cluster: the canary NodePool (the smallest pool with spot nodes, whose
    workloads tolerate interruption; else the smallest), the VMSingle and the VMAgent that feeds it."""
    source = task.cluster(cluster).source
    if source is None:
        return {}
    facts: dict[str, str] = {}
    sizes: Counter[str] = Counter()
    spot: set[str] = set()
    for node in source.objects_of_kind("Node"):
        labels = (node.get("metadata") or {}).get("labels") or {}
        pool = next((str(labels[key]) for key in POOL_LABELS if labels.get(key)), "")
        if pool:
            sizes[pool] += 1
            if labels.get(SPOT) == "spot":
                spot.add(pool)
    if sizes:
        candidates = [p for p in sizes if p in spot] or list(sizes)
        facts["canary_pool"] = min(candidates, key=lambda p: (sizes[p], p))
    singles = sorted(str((o.get("metadata") or {}).get("name", "")) for o in source.objects_of_kind("VMSingle"))
    if singles and singles[0]:
        facts["vmsingle"] = singles[0]
        agents = source.objects_of_kind("VMAgent")
        feeding = [a for a in agents if any(f"vmsingle-{singles[0]}." in str(w.get("url", ""))
                                            for w in ((a.get("spec") or {}).get("remoteWrite") or []))]  # fmt: skip
        names = sorted(str((a.get("metadata") or {}).get("name", "")) for a in feeding or agents)
        if names and names[0]:
            facts["vmagent"] = names[0]
    return facts


# ---------------------------------------------------------------- waves: a canary cluster first


def waves(task: TaskInput, clusters: list[str], files: dict[str, set[str]], kind: StrategyKind) -> tuple[
        list[list[str]], list[str]]:  # fmt: skip
    """Cluster groups in rollout order, and notes: under canary, the cluster with the fewest nodes goes first when
    the environment has several and its files are its own (a file other clusters apply changes them together)."""
    if kind != "canary" or len(clusters) < 2:
        return [], []
    canary = min(clusters, key=lambda c: (node_count(task, c), c))
    others = [c for c in clusters if c != canary]
    shared = sorted(f for f in files.get(canary, set()) if any(f in files.get(o, set()) for o in others))
    if shared:
        return [], [f"canary: {canary} cannot go first on its own: {', '.join(shared)} is applied by the other "
                    "clusters of this environment too; they roll out together"]
    verb = "follows" if len(others) == 1 else "follow"
    return [[canary], others], [f"canary: {canary} ({node_count(task, canary)} nodes, the fewest) goes first in this "
                                f"environment; {', '.join(others)} {verb} once its gates pass"]


# ---------------------------------------------------------------- per hop


@dataclass(frozen=True)
class HopRollout:
    """One cluster's hop under the strategy: forward steps (each with its phase), rollback steps, and a note when
    the strategy could not apply to it."""

    steps: list[Step]
    rollback: list[Step]
    note: str = ""


def _applies(templates: list[StepTemplate], f: HopFacts) -> list[StepTemplate]:
    return [s for s in templates if s.for_owner(f.ownership.owner) and s.applies(f.a, f.b, f.limits)]


def _phased(steps: list[Step], phase: Phase) -> list[Step]:
    return [s.model_copy(update={"phase": phase}) for s in steps]


def _render(templates: list[StepTemplate], f: HopFacts, kind, phase: Phase) -> list[Step]:
    return [render(s, f, kind).model_copy(update={"phase": phase}) for s in _applies(templates, f)]


def _why_not(m: StrategyMechanism, f: HopFacts, kind: StrategyKind) -> str:
    """Why the mechanism does not fit this cluster's hop ('' when it does)."""
    missing = [n for n in m.needs if not f.facts.get(n)]
    if missing:
        return (f"{kind} needs {', '.join(missing)} on {f.cluster}, which the cluster does not show: "
                f"{f.a} -> {f.b} rolls out in place")
    steps = [*m.hold, *m.subset, *m.rest] if kind == "canary" else m.green
    if steps and not _applies(steps, f):
        conditions = sorted({" ".join(w for w in (s.when if s.when != "always" else "", f"unless {s.unless}"
                                                  if s.unless else "") if w) for s in steps})  # fmt: skip
        return (f"the {kind} steps of {f.knowledge.display_name} apply to hops {'; '.join(conditions)} only: "
                f"{f.a} -> {f.b} on {f.cluster} rolls out in place")
    return ""


def hop_rollout(task: TaskInput, f: HopFacts, edits: list[FileEdit], soak: int, kind: StrategyKind) -> HopRollout:
    """The steps of one cluster's hop under the plan's strategy (rolling where the strategy does not fit)."""
    m = mechanism(task.knowledge, kind)
    plain = HopRollout(rollout_steps(task, f, edits, soak), rollback_steps(task, f, edits))
    if m is None or not m.available:
        return plain
    if kind == "canary":
        if not m.in_cluster:
            return plain
        why = _why_not(m, f, kind)
        return replace(plain, note=why) if why else _canary(task, f, edits, soak, m)
    why = _why_not(m, f, kind)
    return replace(plain, note=why) if why else _blue_green(task, f, edits, soak, m)


def _split(steps: list[Step]) -> tuple[list[Step], list[Step]]:
    """A hop's forward steps as (everything up to the change and its reconcile, the verify steps); the validate
    step is left out (each phase gets its own)."""
    return [s for s in steps if s.kind not in ("verify", "validate")], [s for s in steps if s.kind == "verify"]


def _canary(task: TaskInput, f: HopFacts, edits: list[FileEdit], soak: int, m: StrategyMechanism) -> HopRollout:
    """Canary inside the cluster: the change with the rest held back, the subset and its gate, the rest."""
    k = task.knowledge
    gitops = f.ownership.owner != "helm-cli"
    held_values, restore = _held_value_edits(task, f, m, edits) if gitops and m.values else ([], [])
    held = replace(f, strategy_values=m.values if not gitops else {})
    forward = rollout_steps(task, held, [*edits, *held_values], soak)
    head, verify = _split(forward)
    change_at = next((i for i, s in enumerate(head) if s.kind in ("change", "upgrade")), len(head))
    hold = _render(m.hold, held, "upgrade", "canary")
    canary = _phased(head[:change_at], "canary") + hold + _phased(head[change_at:], "canary")
    subset = _render(m.subset, held, "upgrade", "canary-subset")
    subset.append(validate_step(held, canary_soak(soak), f"with the canary on {f.b}")
                  .model_copy(update={"phase": "canary-subset"}))  # fmt: skip
    rest = _render(m.rest, f, "upgrade", "rest")
    if restore:
        rest.append(_rest_change(f, restore))
        if (wait := reconcile_step(f, f.b, f"wait until {f.ownership.describe()} runs {f.b} everywhere")) is not None:
            rest.append(wait.model_copy(update={"phase": "rest"}))
    rest += _phased(verify, "rest")
    rest.append(validate_step(f, soak).model_copy(update={"phase": "rest"}))
    back = rollback_steps(task, held, [*edits, *held_values])
    if restore:
        back = [_rest_revert(f, restore, k.display_name), *back]
    back = _render(m.rollback, f, "rollback", "canary") + back
    return HopRollout(canary + subset + rest, back)


def _held_value_edits(task: TaskInput, f: HopFacts, m: StrategyMechanism, edits: list[FileEdit]) -> tuple[
        list[FileEdit], list[FileEdit]]:  # fmt: skip
    """GitOps owners: the Helm values that hold the rest back, as edits of the file that holds the pin (its
    values), and the edits that take them out again in the rest phase."""
    pin = next((e for e in edits if e.purpose == "chart-version" and e.action == "set" and e.format == "yaml"), None)
    if pin is None:
        return [], []
    release = task.releases.get(f.cluster)
    values = release.values if release else {}
    held, restore = [], []
    for dotted, value in m.values.items():
        path: list[str | int] = list(dotted.split("."))
        current = _lookup(values, dotted)
        common = {"cluster": f.cluster, "from_version": f.a, "to_version": f.b, "purpose": "values", "file": pin.file,
                  "format": "yaml", "document": pin.document, "values_root": ["spec", "values"], "path": path,
                  "applies_to": pin.applies_to}  # fmt: skip
        if current is None:
            held.append(FileEdit(action="add-key", new=value, **common))
            restore.append(FileEdit(action="remove-key", old=value, **common))
        else:
            held.append(FileEdit(action="set", old=str(current), new=value, value_type="yaml", **common))
            restore.append(FileEdit(action="set", old=value, new=str(current), value_type="yaml", **common))
    return held, restore


def _lookup(values: dict, dotted: str):
    node = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _rest_change(f: HopFacts, restore: list[FileEdit]) -> Step:
    return Step(
        title=f"{f.cluster}: {f.knowledge.display_name} {f.a} -> {f.b}: the rest (the hold taken out of the values)",
        detail="The values the canary held the rest back with are removed: the rest takes the new version.",
        kind="change", cluster=f.cluster, from_version=f.a, to_version=f.b, chart_from=f.chart_a, chart_to=f.chart_b,
        owner=f.ownership.owner, changes=[describe(e) for e in restore], edits=restore, phase="rest",
    )  # fmt: skip


def _rest_revert(f: HopFacts, restore: list[FileEdit], name: str) -> Step:
    inverse = [e.model_copy(update={"action": "add-key" if e.action == "remove-key" else "set", "old": e.new,
                                    "new": e.old}) for e in restore]  # fmt: skip
    return Step(
        title=f"{f.cluster}: if the rest of {f.a} -> {f.b} fails: revert the rest's commit first",
        detail=f"Then the canary's commit below brings {name} back to {f.a}.",
        kind="rollback", cluster=f.cluster, from_version=f.a, to_version=f.b, chart_from=f.chart_a,
        chart_to=f.chart_b, owner=f.ownership.owner, changes=[describe(e) for e in inverse],
        commands=["git revert --no-edit <commit-of-the-rest>"],
        inputs={"<commit-of-the-rest>": f"the commit that took the hold out for {f.a} -> {f.b} on {f.cluster} "
                f"(`upgradectl execute` marks it Upgradectl-Step: <run>/{f.environment}/{f.a}->{f.b}/.../rest)"},
        phase="rest",
    )  # fmt: skip


def _blue_green(task: TaskInput, f: HopFacts, edits: list[FileEdit], soak: int, m: StrategyMechanism) -> HopRollout:
    """Blue-green: the parallel installation at the target takes the readers (its gate), the installation itself
    changes while nobody reads it (its gate), then the readers move back and the parallel one goes."""
    forward = rollout_steps(task, f, edits, soak)
    baseline = [s for s in forward if s.kind == "baseline"]
    green = _phased(baseline, "green") + _render(m.hold, f, "upgrade", "green")
    green += _render(m.green, f, "upgrade", "green")
    green.append(validate_step(f, canary_soak(soak), f"with the readers on the green installation at {f.b}")
                 .model_copy(update={"phase": "green"}))  # fmt: skip
    main = [s for s in forward if s.kind != "baseline"]
    retire = _render(m.retire, f, "upgrade", "retire")
    back = _render(m.rollback, f, "rollback", "green") + rollback_steps(task, f, edits)
    return HopRollout(green + main + retire, back)
