"""Plain-text rendering of gate results, one block per cluster, readable in a terminal and a CI log."""

from __future__ import annotations

from typing import Any

from upgradectl.app.gates import summary_counts
from upgradectl.models import Gate
from upgradectl.tools.metrics.gates import fmt, pct, utc

RESULT_WORD = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", None: "RECORDED"}


def rule(gate: Gate) -> str:
    """The gate's condition in words: '<= 0', 'change <= +20.0%'."""
    if gate.relative_to_baseline:
        return f"change {gate.comparison} {pct(gate.threshold)}"
    return f"{gate.comparison} {fmt(gate.threshold)}"


def render_table(tool: str, mode: str, at: float, clusters: list[tuple[Any, list[Gate]]]) -> str:
    """`clusters` is [(target with cluster/version/metrics_url, gates)]; each gate gets a line and its message."""
    lines = [f"{tool} {mode} at {utc(at)}"]
    for target, gates in clusters:
        lines.append("")
        lines.append(f"{target.cluster}  ({tool} {target.version or '?'}, metrics {target.metrics_url or 'none'})")
        width = max([len(g.name) for g in gates] + [4])
        lines.append(f"  {'RESULT':<12} {'GATE':<{width}} {'VALUE':>10} {'BASELINE':>10}  RULE")
        for g in gates:
            lines.append(
                f"  {RESULT_WORD[g.result]:<12} {g.name:<{width}} {fmt(g.value):>10} {fmt(g.baseline):>10}  {rule(g)}"
            )
            if g.message:
                lines.append(f"  {'':<12} {g.message}")
    every = [g for _, gates in clusters for g in gates]
    counts = summary_counts(every)
    verdict = ""
    if mode == "validate":
        blocked = counts.get("fail") or counts.get("inconclusive")
        verdict = " -> promotion BLOCKED" if blocked else " -> promotion may proceed"
    lines.append("")
    lines.append(f"{mode}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + verdict)
    return "\n".join(lines)
