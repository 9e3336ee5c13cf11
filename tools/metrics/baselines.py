"""Baseline files: the pre-upgrade value of every gate per cluster, written by `upgradectl baseline`.

A relative gate after the upgrade is compared with the same gate before it. Gates are matched by
name. When the upgrade renames a metric a gate reads (Karpenter 1.0: `karpenter_nodes_created` ->
`karpenter_nodes_created_total`), the target version's gate cannot run before the upgrade as written;
`backport_gate` rewrites it with the running version's names from the knowledge base's metric renames,
so `baseline --to 1.0.10` records a baseline for `karpenter-nodes-created` on a 0.31 cluster.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from upgradectl.models import Gate, ToolName
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.metrics.labels import PromQLSyntaxError, rename_metrics
from upgradectl.tools.metrics.storage_integrity import IntegrityBaseline
from upgradectl.tools.textfiles import json_problem, read_text
from upgradectl.tools.versions import Version


class BaselineError(ValueError):
    """A baseline file that is missing, unreadable or for another tool; the message says how to fix it."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BaselineEntry(_Model):
    """One gate measured before the upgrade."""

    version: str = Field(description="The tool version whose gate this is (running, or the --to target)")
    gate: Gate = Field(description="The gate as run (PromQL before cluster scoping), with value and message")
    query: str = Field(description="The exact PromQL sent, with the cluster matcher")
    renamed: dict[str, str] = Field(default_factory=dict, description="target metric -> metric recorded instead")


class ClusterBaseline(_Model):
    cluster: str
    version: str = Field(description="Tool version running when the baseline was recorded")
    metrics_url: str
    at: datetime
    entries: list[BaselineEntry] = Field(default_factory=list)
    integrity: IntegrityBaseline | None = None
    problem: str = Field(default="", description="Why nothing could be recorded, if so")


class BaselineFile(_Model):
    kind: Literal["upgradectl-baseline"] = "upgradectl-baseline"
    schema_version: Literal[1] = 1
    tool: ToolName
    fleet: str
    target_version: str = ""
    at: datetime
    created_at: datetime
    upgradectl_version: str
    clusters: list[ClusterBaseline]

    def cluster(self, name: str) -> ClusterBaseline | None:
        return next((c for c in self.clusters if c.cluster == name), None)


def lookup(baseline: ClusterBaseline | None, gate: Gate, version: str) -> tuple[float | None, str]:
    """(baseline value, note) for a gate; prefers the entry recorded for `version`."""
    if baseline is None:
        return None, "the baseline file has no entry for this cluster"
    entries = [e for e in baseline.entries if e.gate.name == gate.name]
    if not entries:
        return None, f"no baseline for {gate.name} (recorded at {baseline.version}; record with --to {version})"
    entries.sort(key=lambda e: e.version != version)
    usable = [e for e in entries if e.gate.value is not None]
    if not usable:
        return None, f"the baseline for {gate.name} has no value ({entries[0].gate.message})"
    chosen = usable[0]
    note = ""
    if chosen.renamed:
        names = ", ".join(f"{old} (the {baseline.version} name of {new})" for new, old in chosen.renamed.items())
        note = f"baseline measured {names}"
    return chosen.gate.value, note


def backport_gate(
    gate: Gate, knowledge: ToolKnowledge, running: str, target: str
) -> tuple[Gate, dict[str, str]] | None:
    """The target's gate rewritten with the running version's metric names; None when a rename is ambiguous.

    Returns the gate and {target name: running name} for the metrics that changed (empty when none did).
    """
    if Version.parse(target) <= Version.parse(running):
        return gate, {}
    crossed = sorted(
        knowledge.metric_renames_crossed(running, target), key=lambda r: Version.parse(r.version), reverse=True
    )
    back: dict[str, str] = {}
    for name in gate.metric_names:
        current = name
        for rename in crossed:
            if rename.new != current:
                continue
            olds = {r.old for r in crossed if r.new == current and r.version == rename.version}
            if len(olds) != 1:
                return None  # several old metrics merged into one new: no single old query
            current = rename.old
        if current != name:
            back[name] = current
    if not back:
        return gate, {}
    try:
        promql = rename_metrics(gate.promql, back)
    except PromQLSyntaxError:
        return None
    names = [back.get(n, n) for n in gate.metric_names]
    return gate.model_copy(update={"promql": promql, "metric_names": names}), back


def load_baseline(path: Path) -> BaselineFile:
    if not path.is_file():
        raise BaselineError(f"baseline file {path} not found; record one with `upgradectl baseline --out {path}`")
    text = read_text(path, "baseline file", BaselineError)
    try:
        return BaselineFile.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline file {path} is not JSON ({json_problem(exc)}); re-record it with upgradectl baseline"
        ) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise BaselineError(f"{path} is not an upgradectl baseline file: {problems}") from exc


def write_baseline(baseline: BaselineFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline.model_dump_json(indent=2) + "\n")
