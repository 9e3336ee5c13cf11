"""Cost plots drawn once are copied from the plot cache, byte for byte, and drawn again whenever what they show
changes, the cache is off, or its entry is not a PNG (tools/cost/plots.py)."""

from __future__ import annotations

import pytest

from upgradectl.cost_models import CostReport
from upgradectl.tools.cost import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # the PNG specification's file signature


def kpis(nodes: int, high: int, histogram: list[int]) -> dict:
    """Made-up KPIs of a small cluster (only nodes, nodes_high and the histogram are drawn)."""
    return {"nodes": nodes, "karpenter_nodes": nodes, "nodes_high": high, "bin_packing_efficiency": high / nodes,
            "utilization_histogram": histogram, "cpu_allocatable": 16.0, "cpu_requested": 9.0,
            "memory_allocatable_gib": 64.0, "memory_requested_gib": 30.0, "cpu_utilization": 0.56,
            "memory_utilization": 0.47, "spot_nodes": 0, "on_demand_nodes": nodes, "unknown_capacity_nodes": 0,
            "spot_node_share": 0.0, "spot_cpu_request_share": 0.0, "spot_memory_request_share": 0.0,
            "workload_pods": 12, "daemonset_pods": 2, "daemonset_cpu": 0.2, "daemonset_memory_gib": 0.25,
            "daemonset_cpu_share": 0.01, "hourly_cost": 0.4, "monthly_cost": 292.0, "cost_per_pod_hour": 0.03}


def report(hourly_after: float = 0.1) -> CostReport:
    return CostReport.model_validate({
        "cluster": "shop-dev",
        "prices": {"as_of": "2026-01-01", "sources": ["test"], "uncertain": False},
        "current": kpis(4, 1, [0, 0, 1, 0, 2, 0, 0, 0, 1, 0]),
        "projected": kpis(2, 2, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]),
        "pools": [{"pool": "default", "manager": "karpenter", "nodes_before": 4, "hourly_before": 0.4,
                   "nodes_after": 2, "hourly_after": hourly_after}],
    })


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def forbid_drawing(monkeypatch) -> None:
    def refuse(shown, path):
        raise AssertionError(f"drew {path.name} although the plot cache holds it")

    monkeypatch.setattr(plots, "_draw_utilization", refuse)
    monkeypatch.setattr(plots, "_draw_pools", refuse)


def test_a_plot_drawn_once_is_copied_from_the_cache_byte_for_byte(cache, tmp_path, monkeypatch):
    plots.draw_plots(report(), tmp_path / "first")
    drawn = {p.name: p.read_bytes() for p in (tmp_path / "first").iterdir()}
    assert sorted(drawn) == ["cost-shop-dev-pools.png", "cost-shop-dev-utilization.png"]
    assert all(data.startswith(PNG_SIGNATURE) for data in drawn.values())
    assert {oct(p.stat().st_mode & 0o777) for p in cache.glob("plot-*.png")} == {"0o600"}  # owner-only

    forbid_drawing(monkeypatch)
    assert plots.cached_plots(report(), tmp_path / "second")
    plots.draw_plots(report(), tmp_path / "third")
    for copy in ("second", "third"):
        assert {p.name: p.read_bytes() for p in (tmp_path / copy).iterdir()} == drawn


def test_changed_numbers_are_drawn_again(cache, tmp_path):
    plots.draw_plots(report(hourly_after=0.1), tmp_path / "first")
    assert not plots.cached_plots(report(hourly_after=0.2), tmp_path / "second")
    assert not (tmp_path / "second").exists()  # all or nothing: the unchanged histogram is not copied alone
    plots.draw_plots(report(hourly_after=0.2), tmp_path / "second")
    first, second = ((tmp_path / d / "cost-shop-dev-pools.png").read_bytes() for d in ("first", "second"))
    assert first != second
    assert (tmp_path / "first" / "cost-shop-dev-utilization.png").read_bytes() == (
        tmp_path / "second" / "cost-shop-dev-utilization.png").read_bytes()


def test_a_cache_entry_that_is_not_a_png_is_drawn_over(cache, tmp_path):
    plots.draw_plots(report(), tmp_path / "first")
    for entry in cache.glob("plot-*.png"):
        entry.write_bytes(b"not a picture")
    assert not plots.cached_plots(report(), tmp_path / "second")
    plots.draw_plots(report(), tmp_path / "second")
    assert (tmp_path / "second" / "cost-shop-dev-pools.png").read_bytes().startswith(PNG_SIGNATURE)


def test_with_the_cache_off_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("UPGRADECTL_CACHE_DIR", "")
    plots.draw_plots(report(), tmp_path / "first")
    assert not plots.cached_plots(report(), tmp_path / "second")
    assert len(list((tmp_path / "first").glob("*.png"))) == 2
