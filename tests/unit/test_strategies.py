"""Strategies from knowledge data, maintenance windows and the timeline: what the tree picks where a tool cannot do a
strategy, and when a window opens (IANA time zone rules: Europe/Berlin is UTC+1 in winter, UTC+2 in summer)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from upgradectl.graph.decision import choose_strategy, strategy_options
from upgradectl.tools.cluster.windows import WindowSpec, inside, next_opening
from upgradectl.tools.knowledge.loader import load_tool

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
