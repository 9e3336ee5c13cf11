"""Gate evaluation: run a gate's PromQL for one cluster over its window and judge it pass/fail/inconclusive.

How a gate is judged (the same for `upgradectl baseline` and `upgradectl validate`):

- **Per cluster.** `cluster="<name>"` is added to every vector selector of the gate's PromQL
  (`promql_labels.with_label`), so one gate library serves every cluster of a shared metrics source.
- **Over the window.** The query runs as a range query over the gate's `window` ending at the
  evaluation time (about 30 points). The gate's value is the *worst* point of that window: the highest
  for `<`/`<=`, the lowest for `>`/`>=`, the farthest from the target for `==`, the closest for `!=`.
  A baseline is the worst point of the same window before the upgrade, so before and after compare
  like with like.
- **Several series.** Gate queries should aggregate to one series; when several come back, every
  series is judged and the worst one decides; the message names it and how many there were.
- **Absolute or relative.** Absolute: `value <comparison> threshold`. Relative to baseline: the change
  `(value - baseline) / |baseline|` is compared with the threshold (0.2 = at most +20%, -0.1 = at
  least -10%). A zero baseline makes any rise an infinite change (a gate on errors with none before
  fails at the first error).
- **Inconclusive, never pass**, when the source is unreachable or rejects the query, when the query
  returns no series, when every point is NaN (0/0: nothing observed), when the newest point is older
  than two steps (stale data), or when a relative gate has no baseline. NaN points among finite ones
  are skipped and counted in the message. Before any gate runs, the monitoring-analyst also checks
  that some gate metric of the cluster has a sample in the 5 minutes before the evaluation time, so a
  gate whose query defaults to 0 (`... or vector(0)`, for error counters that appear at the first
  error) cannot pass on a cluster whose scraping stopped. Inconclusive blocks promotion like fail.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from upgradectl.models import Comparison, Gate
from upgradectl.tools.metrics.labels import PromQLSyntaxError, with_label
from upgradectl.tools.metrics.promql import PromClient, PromQLError, to_unix

CLUSTER_LABEL = "cluster"
POINTS_PER_WINDOW = 30
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def window_seconds(window: str) -> float:
    """'10m' -> 600, '1h30m' -> 5400; raises ValueError naming the bad text."""
    text = window.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"window {window!r} is not a duration like 30s, 10m, 1h or 1h30m")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def step_for(window: float) -> float:
    """Range-query step giving about POINTS_PER_WINDOW points, between 15 s and 5 min."""
    return float(min(300, max(15, round(window / POINTS_PER_WINDOW))))


def scoped_query(promql: str, cluster: str) -> str:
    """The gate's PromQL restricted to one cluster (unchanged when cluster is empty)."""
    return with_label(promql, CLUSTER_LABEL, cluster) if cluster else promql


@dataclass(frozen=True)
class Point:
    series: str  # the series' labels, `{}` for an aggregate
    timestamp: float
    value: float


@dataclass(frozen=True)
class Measurement:
    """What one gate's query returned over its window for one cluster (no judgement yet)."""

    query: str
    start: float
    end: float
    points: list[Point] = field(default_factory=list)
    series: int = 0
    nan_points: int = 0
    problem: str = ""  # why there is nothing to judge; '' when points exist
    cut: str = ""


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt(value: float | None) -> str:
    """Numbers as people read them: 0.001667, 128.4, 1.235e+09, +Inf."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def pct(change: float) -> str:
    if math.isinf(change):
        return "+inf%" if change > 0 else "-inf%"
    return f"{change:+.1%}"


def measure(gate: Gate, client: PromClient, cluster: str, at: datetime | float) -> Measurement:
    """Run the gate's query for `cluster` over [at - window, at]; errors become a `problem`, never raise."""
    end = to_unix(at)
    try:
        span = window_seconds(gate.window)
        query = scoped_query(gate.promql, cluster)
    except (ValueError, PromQLSyntaxError) as exc:
        return Measurement(gate.promql, end, end, problem=f"gate definition error: {exc}")
    start = end - span
    step = step_for(span)
    try:
        result = client.query_range(query, start, end, step)
    except PromQLError as exc:
        return Measurement(query, start, end, problem=f"query failed ({exc.kind}): {exc}")
    points, nan = [], 0
    for series in result.series:
        label = series.describe()
        for ts, value in series.points:
            if math.isnan(value):
                nan += 1
            else:
                points.append(Point(label, ts, value))
    names = ", ".join(gate.metric_names) or "its metrics"
    problem = ""
    if not result.series:
        problem = (
            f"no data: the query returned no series for {CLUSTER_LABEL}={cluster!r} between {utc(start)} "
            f"and {utc(end)} (are {names} scraped and labelled {CLUSTER_LABEL}?)"
        )
    elif not points:
        problem = f"every point is NaN ({nan} points): nothing was observed in the window (e.g. 0/0)"
    elif max(p.timestamp for p in points) < end - max(2 * step, 90):
        newest = max(p.timestamp for p in points)
        problem = f"stale data: the newest value is from {utc(newest)}, the window ends {utc(end)}"
    return Measurement(query, start, end, points, len(result.series), nan, problem, result.cut)


def relative_change(value: float, baseline: float) -> float:
    """(value - baseline) / |baseline|; 0 when both are 0, +-inf when only the baseline is 0."""
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - baseline) / abs(baseline)


def holds(quantity: float, comparison: Comparison, threshold: float) -> bool:
    return {
        "<": quantity < threshold,
        "<=": quantity <= threshold,
        ">": quantity > threshold,
        ">=": quantity >= threshold,
        "==": math.isclose(quantity, threshold, rel_tol=1e-9, abs_tol=1e-12),
        "!=": not math.isclose(quantity, threshold, rel_tol=1e-9, abs_tol=1e-12),
    }[comparison]


def headroom(gate: Gate) -> float | None:
    """How much of the allowed distance a passed gate had left, as a fraction of its bound (0.15: the value used
    85% of it); None for ==/!= gates, a zero bound, or a gate with no judged value."""
    if gate.result != "pass" or gate.value is None or gate.threshold == 0 or gate.comparison in ("==", "!="):
        return None
    if gate.relative_to_baseline:
        if gate.baseline is None:
            return None
        quantity = relative_change(gate.value, gate.baseline)
    else:
        quantity = gate.value
    left = gate.threshold - quantity if gate.comparison in ("<", "<=") else quantity - gate.threshold
    return None if math.isinf(left) else left / abs(gate.threshold)


def worst(points: list[Point], comparison: Comparison, threshold: float, quantity=lambda v: v) -> Point:
    """The point that decides the gate: the one nearest to (or furthest past) failing."""
    if comparison in ("<", "<="):
        return max(points, key=lambda p: quantity(p.value))
    if comparison in (">", ">="):
        return min(points, key=lambda p: quantity(p.value))
    if comparison == "==":
        return max(points, key=lambda p: abs(quantity(p.value) - threshold))
    return min(points, key=lambda p: abs(quantity(p.value) - threshold))


def _where(m: Measurement, point: Point) -> str:
    where = f"at {utc(point.timestamp)}"
    if m.series > 1:
        where += f", worst of {m.series} series: {point.series}"
    if m.nan_points:
        where += f", {m.nan_points} NaN points skipped"
    if m.cut:
        where += f", {m.cut}"
    return where


def judge(gate: Gate, m: Measurement, baseline: float | None, baseline_note: str = "") -> Gate:
    """The gate with result, value, baseline and a message that names the metric and the numbers."""
    metric = ", ".join(gate.metric_names) or gate.name
    if m.problem:
        return gate.model_copy(update={"result": "inconclusive", "baseline": baseline, "message": m.problem})
    if not gate.relative_to_baseline:
        point = worst(m.points, gate.comparison, gate.threshold)
        ok = holds(point.value, gate.comparison, gate.threshold)
        message = (
            f"{metric}: worst {fmt(point.value)} over {gate.window} ({_where(m, point)}); "
            f"required {gate.comparison} {fmt(gate.threshold)}"
        )
        return gate.model_copy(update={"result": "pass" if ok else "fail", "value": point.value, "message": message})
    if baseline is None or math.isnan(baseline):
        point = worst(m.points, gate.comparison, 0.0)
        why = baseline_note or "no baseline recorded for this gate"
        return gate.model_copy(
            update={
                "result": "inconclusive",
                "value": point.value,
                "message": f"{metric}: worst {fmt(point.value)} over {gate.window}, but {why}: run `upgradectl "
                "baseline` before the upgrade (with --to the target version) and pass --baseline FILE",
            }
        )
    point = worst(m.points, gate.comparison, gate.threshold, lambda v: relative_change(v, baseline))
    change = relative_change(point.value, baseline)
    ok = holds(change, gate.comparison, gate.threshold)
    message = (
        f"{metric}: worst {fmt(point.value)} over {gate.window} ({_where(m, point)}) vs baseline {fmt(baseline)}: "
        f"change {pct(change)}, allowed {gate.comparison} {pct(gate.threshold)}"
    )
    if baseline_note:
        message += f"; {baseline_note}"
    return gate.model_copy(
        update={"result": "pass" if ok else "fail", "value": point.value, "baseline": baseline, "message": message}
    )


def record(gate: Gate, m: Measurement) -> Gate:
    """A baseline entry: the window's worst value. Absolute gates are judged too (health before the upgrade);
    relative ones carry result None (recorded, nothing to compare yet) or inconclusive when there is no data."""
    if m.problem:
        return gate.model_copy(update={"result": "inconclusive", "message": m.problem})
    if not gate.relative_to_baseline:
        return judge(gate, m, None)
    point = worst(m.points, gate.comparison, 0.0)
    metric = ", ".join(gate.metric_names) or gate.name
    message = f"{metric}: baseline {fmt(point.value)} = worst over {gate.window} ({_where(m, point)})"
    return gate.model_copy(update={"result": None, "value": point.value, "message": message})


def inconclusive(gates: list[Gate], why: str) -> list[Gate]:
    """Every gate inconclusive for one reason (unreachable source, no metrics URL)."""
    return [g.model_copy(update={"result": "inconclusive", "message": why}) for g in gates]


def present_metrics(
    client: PromClient, cluster: str, names: list[str], at: datetime | float, span: float
) -> set[str]:
    """Which of `names` have samples for the cluster in [at - span, at] (raises PromQLError when unreachable)."""
    if not names:
        return set()
    selector = '{__name__=~"' + "|".join(sorted(set(names))) + '"}'
    end = to_unix(at)
    return set(client.label_values("__name__", scoped_query(selector, cluster), end - span, end))


def fresh_series(client: PromClient, cluster: str, names: list[str], at: datetime | float, span: float) -> int:
    """How many series of `names` have a sample for the cluster in [at - span, at] (exact, unlike label
    values, which VictoriaMetrics answers per day and Prometheus per block)."""
    selector = '{__name__=~"' + "|".join(sorted(set(names))) + '"}'
    query = f"count(last_over_time({scoped_query(selector, cluster)}[{int(span)}s]))"
    value = client.query(query, at).scalar
    return 0 if value is None or math.isnan(value) else int(value)


def with_presence_note(gate: Gate, present: set[str]) -> Gate:
    """Say so when a gate passed only through its `or vector(0)` default (none of its metrics recorded)."""
    if gate.result == "pass" and gate.metric_names and not present & set(gate.metric_names):
        note = f" (no {', '.join(gate.metric_names)} series in the window: counted as 0 by the query's default)"
        return gate.model_copy(update={"message": gate.message + note})
    return gate
