"""VictoriaMetrics data-integrity check: what the store holds for a fixed past window, before and after.

KNOWLEDGE.md 5 (C, E) asks three things of a VictoriaMetrics upgrade: `vm_rows` and
`vm_data_size_bytes` must not drop (those are ordinary gates in tools/knowledge/data/victoriametrics.yaml),
the `/api/v1/status/tsdb` series counts must not drop, and fixed past-window reference queries must
give the same answers. The last two live here: `record_integrity` runs them before the upgrade at the
baseline time and stores the numbers; `integrity_gates` runs exactly the same calls after the upgrade,
still pinned to the baseline time, so only lost (or rewritten) history can change them.

The reference queries read the whole store, not one cluster, and are bounded on purpose: `up` has one
series per scrape target, `vm_*` are the store's own metrics. `/api/v1/status/tsdb` is answered per day
by VictoriaMetrics (`totalSeries` for the baseline's date) but only for the in-memory head block by
Prometheus (`headStats.numSeries`), so on Prometheus the reference queries carry the check.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from upgradectl.models import Gate
from upgradectl.tools.metrics.gates import fmt, pct, relative_change, utc
from upgradectl.tools.metrics.promql import PromClient, PromQLError

SOURCE = "/work/shared/KNOWLEDGE.md 5.C/5.E (data-integrity check)"
REFERENCE_QUERIES: dict[str, str] = {
    "up-series-1h": "count(last_over_time(up[1h]))",
    "up-samples-1h": "sum(count_over_time(up[1h]))",
    "vm-series-1h": 'count(last_over_time({__name__=~"vm_.+"}[1h]))',
    "vm-rows-samples-1h": "sum(count_over_time(vm_rows[1h]))",
    "vm-data-size-samples-1h": "sum(count_over_time(vm_data_size_bytes[1h]))",
}  # one metric per *_over_time: Prometheus rejects two series left with the same labels once the name drops


class ReferenceValue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    promql: str
    value: float | None
    problem: str = ""


class IntegrityBaseline(BaseModel):
    """The store's answers at the baseline time, to compare after the upgrade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: float
    date: str
    tsdb_series: int | None
    tsdb_field: str = ""
    tsdb_problem: str = ""
    references: list[ReferenceValue]


def _tsdb_series(client: PromClient, date: str) -> tuple[int | None, str, str]:
    """(series count, which field gave it, problem)."""
    try:
        data = client.tsdb_status(date)
    except PromQLError as exc:
        return None, "", f"/api/v1/status/tsdb failed ({exc.kind}): {exc}"
    if isinstance(data.get("totalSeries"), int):
        return data["totalSeries"], "totalSeries", ""
    head = data.get("headStats")
    if isinstance(head, dict) and isinstance(head.get("numSeries"), int):
        return head["numSeries"], "headStats.numSeries", ""
    return None, "", "/api/v1/status/tsdb answered without totalSeries or headStats.numSeries"


def _reference(client: PromClient, name: str, promql: str, at: float) -> ReferenceValue:
    try:
        result = client.query(promql, at)
    except PromQLError as exc:
        return ReferenceValue(name=name, promql=promql, value=None, problem=f"query failed ({exc.kind}): {exc}")
    value = result.scalar
    if value is None or math.isnan(value):
        return ReferenceValue(name=name, promql=promql, value=None, problem=f"no data at {utc(at)}")
    return ReferenceValue(name=name, promql=promql, value=value)


def record_integrity(client: PromClient, at: float) -> IntegrityBaseline:
    """Series count for the day of `at` and the reference queries evaluated at `at`."""
    date = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
    series, field_name, problem = _tsdb_series(client, date)
    refs = [_reference(client, name, promql, at) for name, promql in REFERENCE_QUERIES.items()]
    return IntegrityBaseline(
        at=at, date=date, tsdb_series=series, tsdb_field=field_name, tsdb_problem=problem, references=refs
    )


def _gate(name: str, description: str, promql: str) -> Gate:
    return Gate(
        name=name,
        description=description,
        promql=promql,
        comparison=">=",
        threshold=0.0,
        relative_to_baseline=True,
        window="1h",
        source=SOURCE,
    )


def _compare(gate: Gate, before: float | None, after: float | None, why_missing: str) -> Gate:
    if before is None or after is None:
        return gate.model_copy(update={"result": "inconclusive", "baseline": before, "value": after,
                                       "message": why_missing})  # fmt: skip
    change = relative_change(after, before)
    ok = change >= gate.threshold
    message = f"before {fmt(before)}, after {fmt(after)}: change {pct(change)}" + (
        "" if ok else " -- history the store held before the upgrade is gone (data loss)"
    )
    return gate.model_copy(
        update={"result": "pass" if ok else "fail", "value": after, "baseline": before, "message": message}
    )


def integrity_gates(client: PromClient, before: IntegrityBaseline) -> list[Gate]:
    """Re-run the baseline's calls pinned to its time; each becomes a gate: after must be >= before."""
    after = record_integrity(client, before.at)
    gates = []
    tsdb = _gate(
        "vm-integrity-tsdb-series",
        f"Series the store reports for {before.date} do not drop across the upgrade",
        f"GET /api/v1/status/tsdb?date={before.date} ({before.tsdb_field or 'totalSeries'})",
    )
    why = before.tsdb_problem or after.tsdb_problem or "series count unavailable"
    gates.append(_compare(tsdb, before.tsdb_series, after.tsdb_series, f"before/after series count: {why}"))
    now = {r.name: r for r in after.references}
    for ref in before.references:
        gate = _gate(
            f"vm-integrity-{ref.name}",
            f"Reference query over the hour before {utc(before.at)} gives the same answer after the upgrade",
            f"{ref.promql} at {utc(before.at)}",
        )
        later = now.get(ref.name)
        why = ref.problem and f"baseline: {ref.problem}" or (later.problem if later else "not re-run")
        gates.append(_compare(gate, ref.value, later.value if later else None, why or "no value"))
    return gates
