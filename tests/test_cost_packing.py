"""The consolidation packer never breaks a constraint (independent checker), never beats the LP bound,
and the checker itself catches broken placements."""

from __future__ import annotations

import copy

import pytest

from upgradectl.tools.cluster_generator import generate_cluster
from upgradectl.tools.consolidation import simulate
from upgradectl.tools.cost import analyze_cluster
from upgradectl.tools.placement_check import check_simulation
from upgradectl.tools.prices import PriceError, load_prices


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("pods", [200, 1500])
def test_generated_clusters_pack_without_violations_and_above_the_bound(pods, seed):
    source = generate_cluster(pods, seed)
    report = analyze_cluster(source, load_prices(), "ap-south-1", "eks")
    c = report.consolidation
    assert c.violations == []
    assert c.placements_checked >= pods
    assert c.hourly_after >= c.lower_bound_hourly - 1e-9
    assert c.movable_hourly_after >= c.movable_lower_bound_hourly - 1e-9
    assert report.projected.workload_pods == report.current.workload_pods
    assert c.hourly_after <= c.hourly_before + 1e-9


def test_checker_catches_capacity_taint_and_pinned_violations():
    source = generate_cluster(300, 4)
    sim = simulate(source, load_prices(), "ap-south-1")
    assert check_simulation(source, sim) == []
    broken = copy.copy(sim)
    broken.placement = dict(sim.placement)
    new_nodes = [n for n in sim.nodes if not n.existing]
    target = new_nodes[0].name
    for i in list(broken.placement)[:400]:  # pile pods onto one node: capacity must break
        broken.placement[i] = target
    problems = check_simulation(source, broken)
    assert any("exceed allocatable" in p or "exceed max pods" in p for p in problems)
    assert any("must stay" in p for p in problems) or any("Karpenter does not manage" in p for p in problems)


def test_user_price_file_overrides_and_bad_file_is_a_clear_error(tmp_path):
    override = tmp_path / "prices.yaml"
    override.write_text("as_of: '2026-01-01'\nregions:\n  ap-south-1:\n    prices:\n      m5.large: {on_demand: 1.0}\n")
    table = load_prices(override)
    assert table.as_of == "2026-01-01"
    assert table.quote("m5.large", "ap-south-1", "on-demand").hourly == 1.0
    assert table.quote("m5.xlarge", "ap-south-1", "on-demand").hourly == 0.202  # untouched entries stay
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: {ap-south-1: {prices: {m5.large: {on_demand: -3}}}}\n")
    with pytest.raises(PriceError, match="on_demand"):
        load_prices(bad)
