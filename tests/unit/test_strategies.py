"""Strategies from knowledge data, maintenance windows and the timeline: what the tree picks where a tool cannot do a
strategy, and when a window opens (IANA time zone rules: Europe/Berlin is UTC+1 in winter, UTC+2 in summer)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from upgradectl.agents.base import make_finding
from upgradectl.graph.decision import choose_strategy, strategy_options
from upgradectl.graph.timeline import FLEET_WIDE, borderline_gates, open_findings, soak_lesson
from upgradectl.models import Evidence, Gate, Plan, Subject
from upgradectl.tools.cluster.windows import WindowSpec, inside, next_opening
from upgradectl.tools.gitops.changes import ChangeSet
from upgradectl.tools.knowledge.loader import load_tool
from upgradectl.tools.metrics.gates import headroom

BERLIN_TUESDAY = WindowSpec.model_validate(
    {"weekly": {"days": ["tue"], "start": "22:00", "hours": 4, "timezone": "Europe/Berlin"}}
)


def test_blue_green_falls_back_where_the_tool_cannot_run_two_installations():
    cilium = load_tool("cilium")
    strategy = choose_strategy("critical", True, strategy_options(cilium, {"prod": 2}), tool="Cilium")
    assert strategy.kind == "canary" and strategy.asked == "blue-green"
    assert "blue-green is not available for Cilium" in strategy.reasons[-1]
    assert "OnDelete" in strategy.mechanism  # Kubernetes DaemonSet update strategy: replaced only when deleted
    assert any("k8s-install-migration.rst" in s for s in strategy.sources)


def test_blue_green_stands_where_two_installations_can_run_side_by_side():
    vm = load_tool("victoriametrics")
    strategy = choose_strategy("critical", False, strategy_options(vm, {"prod": 1}), tool="VictoriaMetrics")
    assert strategy.kind == "blue-green" and strategy.asked is None
    assert "vmagent" in strategy.mechanism


def test_without_a_subset_or_a_second_cluster_canary_is_not_available():
    argocd = load_tool("argocd")
    options = strategy_options(argocd, {"dev": 1, "prod": 1})
    assert not options["canary"].available and not options["blue-green"].available
    strategy = choose_strategy("critical", False, options, tool="Argo CD")
    assert strategy.kind == "maintenance-window"
    several = strategy_options(argocd, {"prod": 3})
    assert several["canary"].available and "one cluster first in prod" in several["canary"].how


def test_strategy_asked_overrides_the_tree_with_the_reason():
    strategy = choose_strategy("critical", True, strategy_options(load_tool("cilium"), {}), asked="rolling")
    assert strategy.kind == "rolling" and strategy.forced
    assert strategy.reasons[0].startswith("--strategy rolling asked for (the tree chose blue-green")


def test_weekly_window_follows_the_time_zone_through_daylight_saving():
    winter = next_opening([BERLIN_TUESDAY], datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    summer = next_opening([BERLIN_TUESDAY], datetime(2026, 7, 6, 12, 0, tzinfo=UTC))
    assert winter is not None and winter.start.astimezone(UTC) == datetime(2026, 12, 8, 21, 0, tzinfo=UTC)
    assert summer is not None and summer.start.astimezone(UTC) == datetime(2026, 7, 7, 20, 0, tzinfo=UTC)
    assert inside([BERLIN_TUESDAY], datetime(2026, 12, 9, 0, 30, tzinfo=UTC)) is not None  # open past midnight
    assert inside([BERLIN_TUESDAY], datetime(2026, 12, 9, 1, 0, tzinfo=UTC)) is None  # 4 hours are over


def test_a_change_that_does_not_fit_the_rest_of_a_window_goes_to_the_next():
    late = datetime(2026, 12, 9, 0, 30, tzinfo=UTC)  # 30 minutes of this week's window left
    assert next_opening([BERLIN_TUESDAY], late, 20).start.astimezone(UTC).day == 8
    assert next_opening([BERLIN_TUESDAY], late, 45).start.astimezone(UTC).day == 15


def test_dated_window_and_bad_windows():
    dated = WindowSpec.model_validate({"from": "2026-12-24T20:00:00+01:00", "until": "2026-12-25T02:00:00+01:00"})
    assert next_opening([dated], datetime(2026, 12, 1, tzinfo=UTC)).start == dated.start
    assert next_opening([dated], datetime(2026, 12, 26, tzinfo=UTC)) is None
    for bad, message in [
        ({"weekly": {"days": ["tue"], "start": "22:00", "hours": 4, "timezone": "Mars/Olympus"}}, "IANA time zone"),
        ({"weekly": {"days": ["tuesday-ish"], "start": "22:00", "hours": 4}}, "use mon, tue"),
        ({"from": "2026-12-24T20:00:00", "until": "2026-12-25T02:00:00"}, "UTC offset"),
        ({"from": "2026-12-24T20:00:00+00:00"}, "both from: and until:"),
    ]:
        with pytest.raises(ValidationError, match=message):
            WindowSpec.model_validate(bad)


def _drops(value: float, baseline: float) -> dict:
    """A judged relative gate as the executor records it (the cilium-drops gate: at most +20% drops)."""
    gate = Gate(name="cilium-drops", description="", promql="sum(rate(cilium_drop_count_total[5m]))",
                comparison="<=", threshold=0.2, relative_to_baseline=True, result="pass", value=value,
                baseline=baseline, message=f"change {(value - baseline) / baseline:+.1%}")  # fmt: skip
    return gate.model_dump(mode="json")


def test_headroom_is_the_share_of_the_allowed_distance_left():
    assert headroom(Gate.model_validate(_drops(117, 100))) == pytest.approx(0.15)  # +17% of +20%: 15% left
    assert headroom(Gate.model_validate(_drops(100, 100))) == pytest.approx(1.0)
    absolute = Gate(name="p99", description="", promql="x", comparison="<", threshold=2.0, result="pass", value=1.0)
    assert headroom(absolute) == pytest.approx(0.5)
    assert headroom(absolute.model_copy(update={"comparison": "=="})) is None  # nothing between 0 and 0
    assert headroom(absolute.model_copy(update={"result": "fail"})) is None


def test_a_borderline_gate_lengthens_the_same_hop_later_never_another_hop_or_environment():
    sets = [ChangeSet("dev", "1.14.5", "1.14.19", ["dev-apps"]), ChangeSet("dev", "1.14.19", "1.15.19", ["dev-apps"]),
            ChangeSet("staging", "1.14.5", "1.14.19", ["eks"]), ChangeSet("staging", "1.14.19", "1.15.19", ["eks"]),
            ChangeSet("prod", "1.14.5", "1.14.19", ["ravan"])]  # fmt: skip
    steps = {"dev/1.14.5->1.14.19": {"observed": {"borderline": borderline_gates({"dev-apps": [_drops(117, 100)]})}},
             "dev/1.14.19->1.15.19": {"observed": {"borderline": borderline_gates({"dev-apps": [_drops(105, 100)]})}}}
    assert soak_lesson(sets, steps, 0) is None  # dev itself learns nothing from dev
    assert soak_lesson(sets, steps, 3) is None  # the next hop passed with room (+5% of +20%)
    for index in (2, 4):  # staging and prod both run the borderline hop again
        lesson = soak_lesson(sets, steps, index)
        assert lesson is not None and lesson.factor > 1 and "in dev dev-apps: cilium-drops" in lesson.reason


def test_fleet_wide_high_findings_pause_the_first_change_set_only():
    rows = [("REPO-WIDE", "high", "", "repo-wide problem"), ("DEV-ONLY", "critical", "dev-apps", "dev"),
            ("PROD-ONLY", "high", "ravan", "prod"), ("NOT-IN-RUN", "critical", "gke-staging-apps", "not in the run"),
            ("LOW-SEV", "medium", "", "fleet-wide but medium")]  # fmt: skip
    plan = Plan.model_construct(findings=[_finding(*row) for row in rows])
    sets = [ChangeSet("dev", "1.14.5", "1.14.19", ["dev-apps"]), ChangeSet("prod", "1.14.5", "1.14.19", ["ravan"])]
    first, second = open_findings(plan, sets, 0), open_findings(plan, sets, 1)
    assert ("REPO-WIDE", FLEET_WIDE, "repo-wide problem") in first and ("DEV-ONLY", "dev-apps", "dev") in first
    assert [code for code, _, _ in second] == ["PROD-ONLY"]  # the fleet-wide one was asked about once, first
    assert all(code != "NOT-IN-RUN" and code != "LOW-SEV" for code, _, _ in first + second)


def _finding(code: str, severity: str, cluster: str, title: str):
    evidence = [Evidence(source="knowledge", ref="test", excerpt=title)]
    return make_finding(code=code, severity=severity, category="compatibility", title=title, agent="flux-navigator",
                        evidence=evidence, subject=Subject(cluster=cluster))  # fmt: skip
