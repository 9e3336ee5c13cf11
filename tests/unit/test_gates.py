"""Gate judgement without a server: comparisons, worst point, NaN, baselines, backported gates."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from upgradectl.models import Gate
from upgradectl.tools.knowledge.loader import load_tool
from upgradectl.tools.metrics.baselines import BaselineEntry, ClusterBaseline, backport_gate, lookup
from upgradectl.tools.metrics.gates import Measurement, Point, judge, record, relative_change, step_for, window_seconds


def gate(comparison="<=", threshold=0.2, relative=True, **extra) -> Gate:
    return Gate(name="g", description="d", promql="sum(x)", comparison=comparison, threshold=threshold,
                relative_to_baseline=relative, window="10m", metric_names=["x"], **extra)  # fmt: skip


def measured(*values: float, series: int = 1) -> Measurement:
    points = [Point("{}" if series == 1 else f'{{pod="p{i % series}"}}', 1000.0 + i, v) for i, v in enumerate(values)]
    nan = sum(1 for v in values if math.isnan(v))
    return Measurement("q", 0, 2000, [p for p in points if not math.isnan(p.value)], series, nan)


def test_windows_and_steps():
    assert window_seconds("10m") == 600 and window_seconds("1h30m") == 5400 and window_seconds("30s") == 30
    assert step_for(600) == 20 and step_for(3600) == 120 and step_for(60) == 15
    with pytest.raises(ValueError, match="not a duration"):
        window_seconds("ten minutes")


def test_relative_change_handles_zero_baselines():
    assert relative_change(12, 10) == pytest.approx(0.2)
    assert relative_change(0, 0) == 0 and relative_change(1, 0) == math.inf


def test_absolute_gate_uses_the_worst_point():
    result = judge(gate("<", 300, relative=False), measured(10, 350, 20), None)
    assert result.result == "fail" and result.value == 350 and "worst 350" in result.message
    assert judge(gate("==", 1, relative=False), measured(1, 1, 1), None).result == "pass"
    assert judge(gate("==", 1, relative=False), measured(1, 2, 1), None).value == 2
    assert judge(gate(">=", 0.9, relative=False), measured(1, 0.5, 1), None).result == "fail"


def test_relative_gate_compares_the_change_with_the_threshold():
    ok = judge(gate(), measured(10, 11.9), 10.0)
    assert ok.result == "pass" and ok.baseline == 10 and "+19.0%" in ok.message
    bad = judge(gate(), measured(10, 13), 10.0)
    assert bad.result == "fail" and bad.value == 13 and "+30.0%" in bad.message
    floor = gate(">=", -0.1)
    assert judge(floor, measured(95, 91), 100.0).result == "pass"
    assert judge(floor, measured(95, 85), 100.0).result == "fail"
    assert judge(gate(), measured(0, 0.01), 0.0).result == "fail"  # any rise over a zero baseline


def test_no_data_nan_and_missing_baseline_are_inconclusive_never_pass():
    empty = Measurement("q", 0, 1, problem="no data: the query returned no series")
    assert judge(gate(relative=False), empty, None).result == "inconclusive"
    all_nan = measured(math.nan, math.nan)
    assert not all_nan.points
    missing = judge(gate(), measured(1.0), None)
    assert missing.result == "inconclusive" and missing.value == 1.0 and "upgradectl baseline" in missing.message
    assert judge(gate(), measured(1.0), math.nan).result == "inconclusive"


def test_nan_points_among_finite_ones_are_skipped_and_said():
    result = judge(gate("<", 5, relative=False), measured(1, math.nan, 2), None)
    assert result.result == "pass" and "1 NaN points skipped" in result.message


def test_several_series_the_worst_decides_and_is_named():
    result = judge(gate("<", 5, relative=False), measured(1, 9, 2, 3, series=2), None)
    assert result.result == "fail" and "worst of 2 series" in result.message and 'pod="p1"' in result.message


def test_record_keeps_the_worst_value_and_judges_absolute_gates():
    assert record(gate(), measured(3, 7, 5)).value == 7
    assert record(gate(">=", -0.1), measured(3, 7, 5)).value == 3
    assert record(gate(), measured(3, 7, 5)).result is None
    assert record(gate("<", 5, relative=False), measured(3, 7)).result == "fail"


def test_backport_gate_follows_renames_back_to_the_running_version():
    karpenter = load_tool("karpenter")
    drift = next(g for g in karpenter.gates if g.name == "karpenter-drift-storm")
    as_gate = Gate(**{k: v for k, v in drift.model_dump().items() if k in Gate.model_fields})
    backported, renamed = backport_gate(as_gate, karpenter, "0.31.3", "1.0.10")
    assert renamed == {"karpenter_nodeclaims_disrupted_total": "karpenter_machines_disrupted"}
    assert backported.promql == "sum(increase(karpenter_machines_disrupted[30m]))"
    assert backport_gate(as_gate, karpenter, "0.37.8", "1.0.10")[1] == {
        "karpenter_nodeclaims_disrupted_total": "karpenter_nodeclaims_disrupted"
    }
    assert backport_gate(as_gate, karpenter, "1.0.10", "1.0.10") == (as_gate, {})


def test_lookup_prefers_the_entry_for_the_validated_version():
    at = datetime(2026, 11, 20, tzinfo=UTC)
    old = BaselineEntry(version="0.31.3", gate=gate().model_copy(update={"value": 1.0}), query="q")
    new = BaselineEntry(version="1.0.10", gate=gate().model_copy(update={"value": 2.0}), query="q",
                        renamed={"x_total": "x"})  # fmt: skip
    cluster = ClusterBaseline(cluster="c", version="0.31.3", metrics_url="http://m", at=at, entries=[old, new])
    assert lookup(cluster, gate(), "1.0.10") == (2.0, "baseline measured x (the 0.31.3 name of x_total)")
    assert lookup(cluster, gate(), "0.31.3")[0] == 1.0
    assert lookup(None, gate(), "1.0.10")[0] is None
    assert "no baseline for other" in lookup(cluster, gate().model_copy(update={"name": "other"}), "1.0.10")[1]
