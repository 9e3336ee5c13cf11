"""The consolidation packer never breaks a constraint (independent checker), never beats the lower bound,
the bound never exceeds the true optimum (brute force on tiny instances), and the checker itself catches
broken placements."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from upgradectl.tools.cost.binpack import Guide, PackingInput, pack
from upgradectl.tools.cost.cluster_generator import generate_cluster
from upgradectl.tools.cost.consolidation import simulate
from upgradectl.tools.cost.kpis import analyze_cluster
from upgradectl.tools.cost.lowerbound import lower_bound, relax
from upgradectl.tools.cost.placement_check import check_simulation
from upgradectl.tools.cost.prices import PriceError, load_prices


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


@pytest.mark.parametrize("seed", [1, 2, 3, 7])
@pytest.mark.parametrize("pods", [500, 1500])
def test_generated_clusters_come_within_5_percent_of_the_bound(pods, seed):
    """The acceptance target on the generated mixes (the benchmark checks 5,000 and 50,000 pods)."""
    c = analyze_cluster(generate_cluster(pods, seed), load_prices(), "ap-south-1", "eks").consolidation
    assert c.violations == []
    assert 1.0 <= c.ratio_to_bound <= 1.05


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


# ---- the bound against brute force on tiny instances ------------------------------------------------------


def _tiny_instance(rng: np.random.Generator) -> PackingInput:
    """A random problem small enough to enumerate: up to 6 pods, 4 offerings, 2 kept nodes, 2 zones."""
    n_groups = int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 4)) for _ in range(n_groups)]
    while sum(sizes) > 6:
        sizes[int(np.argmax(sizes))] -= 1
    demand = np.column_stack([rng.choice([0.25, 0.5, 1.0, 1.5, 2.0], n_groups),
                              rng.choice([0.5, 1.0, 2.0, 4.0, 8.0], n_groups), np.ones(n_groups)])
    anti = np.where(rng.random(n_groups) < 0.3, rng.integers(0, 2, n_groups), -1)
    n_offers = int(rng.integers(1, 5))
    cap = np.column_stack([rng.choice([2.0, 4.0, 8.0], n_offers), rng.choice([4.0, 8.0, 16.0, 32.0], n_offers),
                           rng.integers(2, 8, n_offers).astype(float)])
    price = np.round(rng.uniform(0.05, 1.0, n_offers), 3)
    offer_zmask = np.where(rng.random(n_offers) < 0.7, 3, -1).astype(np.int64)
    sig_offer = rng.choice([0, 1, 2, 3, -1], (n_groups, n_offers), p=[0.15, 0.1, 0.1, 0.35, 0.3]).astype(np.int64)
    home = rng.integers(0, n_offers, n_groups)  # every group fits an offering it may use (as consolidation ensures)
    for g, o in enumerate(home):
        sig_offer[g, o] = -1
        cap[o] = np.maximum(cap[o], demand[g])
    n_kept = int(rng.integers(0, 3))
    kept_rem = np.column_stack([rng.choice([0.5, 1.0, 2.0, 3.0], n_kept), rng.choice([1.0, 2.0, 4.0, 8.0], n_kept),
                                rng.integers(1, 4, n_kept).astype(float)]).reshape(-1, 3)
    pods, start = [], 0
    for n in sizes:
        pods.append(np.arange(start, start + n))
        start += n
    return PackingInput(group_demand=demand, group_pods=pods, group_sig=np.arange(n_groups), group_anti=anti,
                        sig_offer_zmask=sig_offer, sig_kept_ok=rng.random((n_groups, n_kept)) < 0.6,
                        offer_price=price, offer_cap=cap, offer_zmask=offer_zmask, kept_rem=kept_rem,
                        kept_zmask=np.full(n_kept, -1, dtype=np.int64))


def _partitions(items: list[int]):
    """Every way to split items into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]


def _block_fits(p: PackingInput, groups: list[int], room: np.ndarray) -> bool:
    anti = [int(p.group_anti[g]) for g in groups if p.group_anti[g] >= 0]
    return len(anti) == len(set(anti)) and bool((p.group_demand[groups].sum(axis=0) <= room + 1e-9).all())


def _new_node_cost(p: PackingInput, groups: list[int]) -> float:
    """Cheapest offering that holds the block in one zone all its pods allow (inf when none)."""
    best = np.inf
    for o in range(len(p.offer_price)):
        zones = [-1] if p.offer_zmask[o] < 0 else [z for z in (1, 2) if p.offer_zmask[o] & z]
        common = any(all(p.sig_offer_zmask[p.group_sig[g], o] & z for g in groups) for z in zones)
        if common and _block_fits(p, groups, p.offer_cap[o]):
            best = min(best, float(p.offer_price[o]))
    return best


def _kept_ok(p: PackingInput, groups: list[int], k: int) -> bool:
    return all(p.sig_kept_ok[p.group_sig[g], k] for g in groups) and _block_fits(p, groups, p.kept_rem[k])


def _brute_force(p: PackingInput) -> float:
    """The cheapest packing, by trying every split of the pods into nodes and every use of the kept nodes."""
    group_of = {int(pod): g for g, pods in enumerate(p.group_pods) for pod in pods}
    best = np.inf
    for part in _partitions(sorted(group_of)):
        blocks = [[group_of[pod] for pod in block] for block in part]
        new = [_new_node_cost(p, b) for b in blocks]
        choices = [None, *range(len(blocks))]
        for use in itertools.product(choices, repeat=len(p.kept_rem)):  # use[k]: the block kept node k takes
            taken = [b for b in use if b is not None]
            if len(taken) == len(set(taken)) and all(_kept_ok(p, blocks[b], k) for k, b in enumerate(use)
                                                      if b is not None):
                best = min(best, sum(c for i, c in enumerate(new) if i not in taken))
    return best


def _placement_cost_if_valid(p: PackingInput, result) -> float:
    """Cost of a packing after checking every node of it independently of the packer."""
    contents: dict[int, list[int]] = {}
    group_of = {int(pod): g for g, pods in enumerate(p.group_pods) for pod in pods}
    assert sorted(result.pod_bin) == sorted(group_of)
    for pod, b in result.pod_bin.items():
        contents.setdefault(b, []).append(group_of[pod])
    for b, groups in contents.items():
        if b < result.kept:
            assert _kept_ok(p, groups, b)
        else:
            o = int(result.bin_offer[b])
            assert _new_node_cost(p, groups) <= p.offer_price[o] + 1e-12
            assert _block_fits(p, groups, p.offer_cap[o])
    return result.new_cost(p.offer_price)


def test_bound_never_exceeds_the_brute_force_optimum_on_tiny_instances():
    rng = np.random.default_rng(8)
    checked = 0
    for _ in range(150):
        p = _tiny_instance(rng)
        optimum = _brute_force(p)
        if not np.isfinite(optimum):
            continue
        lp_only = lower_bound(p, integer=False)
        full = lower_bound(p)
        assert lp_only.value <= optimum + 1e-9
        assert full.value <= optimum + 1e-9
        assert full.value >= lp_only.value - 1e-9
        # the pattern model is exact on instances this small, so the bound meets the optimum
        assert full.value == pytest.approx(optimum, rel=1e-5, abs=2e-6)  # less the safety margins
        packed = pack(p, Guide(full.share, full.duals), relax, full.plans)
        assert _placement_cost_if_valid(p, packed) == pytest.approx(optimum, rel=1e-9, abs=1e-9)
        checked += 1
    assert checked >= 100


def test_a_model_solved_before_is_not_solved_again_and_gives_the_same_bound(monkeypatch):
    """Clusters of the same shape (copies per region) solve each LP and integer model once per process."""
    from upgradectl.tools.cost import lowerbound

    p = _tiny_instance(np.random.default_rng(3))
    monkeypatch.setattr(lowerbound, "_solved", {})
    first = lower_bound(p)
    calls = []
    monkeypatch.setattr(lowerbound, "milp", lambda *a, **k: calls.append("milp"))
    monkeypatch.setattr(lowerbound, "linprog", lambda *a, **k: calls.append("linprog"))
    again = lower_bound(copy.deepcopy(p))  # an equal instance, not the same object
    assert calls == []
    assert again.value == first.value and again.method == first.method
    assert np.array_equal(again.share, first.share) and np.array_equal(again.duals, first.duals)
    kept = next(iter(lowerbound._solved.values()))
    with pytest.raises(ValueError):  # no caller can change what the next one reads
        kept.x[0] = -1.0


def test_a_changed_model_is_solved_again(monkeypatch):
    from upgradectl.tools.cost import lowerbound

    monkeypatch.setattr(lowerbound, "_solved", {})
    p = _tiny_instance(np.random.default_rng(3))
    lower_bound(p)
    solved = len(lowerbound._solved)
    cheaper = copy.deepcopy(p)
    cheaper.offer_price[0] *= 0.5
    lower_bound(cheaper)
    assert len(lowerbound._solved) > solved
