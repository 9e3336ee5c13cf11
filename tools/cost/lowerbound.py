"""The lower bound on what any repacking of the movable pods can cost, and the LP that guides the packer.

The relaxation (every island). Variables: x_o >= 0 nodes of each offering, a_gj >= 0 pods of group g
on offering or kept-node class j. Each group places all its pods on the offerings and kept nodes it
allows; on each offering the pods' CPU, memory and pod slots fit into x_o nodes' room; kept nodes
(already paid for) of the same eligibility are pooled. Two families of cuts tighten it:
- per-node count: one node of offering o holds at most f_go = min_r floor(cap_or / d_gr) pods of g
  (1 under one-per-node anti-affinity), so a_go <= f_go * x_o;
- kept nodes: the pods of g on a kept class are at most the sum over its nodes of what fits on each.
Minimise sum(price_o * x_o). Solved as one LP (it separates by island); small islands are also solved
with x and a integral (whole nodes, whole pods: the "aggregated MIP"), which captures that 2.4 nodes
cost 3 nodes.

Exact pattern model (small islands only). For each node type (an offering in one zone, or one kept
node), every maximal pattern: whole pods per group that fit together on one node (CPU, memory, pod
slots, one pod per anti-affinity key, a common zone) and to which no further pod fits. Integer
y_p >= 0 copies of each pattern cover every group's pods (surplus pods are simply dropped), each kept
node takes at most one pattern; minimise the new nodes' price.

Both integer models run under HiGHS branch and bound with a node and time limit; their proven dual
bound is used, and their best solutions are handed to the packer as plans it may adopt.

Why the value is a true lower bound (every feasible integral packing costs at least this much):
- Islands: groups are split into connected components of "group may use offering / kept node". No node
  ever holds pods of two islands, so a packing's cost is the sum of its islands' costs, and a bound
  per island adds up. The LP separates by island too, so its value splits into island parts.
- Relaxation: a real packing gives x_o = its number of nodes of offering o and a_gj = its pods of g
  there - whole numbers. That point satisfies the capacity rows (each node's pods fit, so their sum fits
  x_o nodes), the per-node count cuts (each of the x_o nodes holds at most f_go pods of g), the
  kept-class rows and caps (room per node summed, whole pods per node summed). Zones and anti-affinity
  between different groups are dropped, which only enlarges the feasible set. So the optimum of the
  aggregated MIP, and of the LP below it, is at most the packing's cost.
- Pattern model: each node of a real packing holds a feasible pattern of its type, which is contained
  in some maximal pattern of that type (add pods while one fits). Picking that maximal pattern per
  node, at the price of the cheapest offering with the same room and eligibility, gives an integer
  point that covers every group (surplus allowed) at no more than the packing's cost; kept nodes take
  one pattern each. So the model's optimum is at most the packing's cost.
- Both integer models leave out dominated node types (another type has at least the room, takes every
  group it takes, costs no more): a node of a dominated type can be swapped for one of the type that
  beats it without raising the cost, so this changes neither optimum.
- A MIP stopped early still proves its dual bound <= its optimum; that is the number used.
- With very many distinct pod sizes, sizes are rounded *down* onto a 2% grid before the LP: every real
  packing stays feasible for the rounded sizes (cuts computed from them are only weaker). No integer
  model is solved then.
- Solver tolerance: the LP value is reduced by 1e-7 relative and a branch-and-bound dual bound by 1e-6,
  so neither sits above the true optimum of its model. An island's bound is the largest of its LP part
  and its integer models' dual bounds.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix, csr_matrix, issparse

from upgradectl.tools.cost.binpack import (
    Guide,
    IslandPlan,
    PackingInput,
    PlannedNode,
    eligible_kept,
    eligible_offers,
    islands,
    max_fit,
    restrict,
)

MAX_GROUPS = 2500
GRID = 1.02
CUT_GAIN = 1e-3  # add a per-node count cut only where it removes more than this share of the LP's room
INTEGER_MAX_PODS = 2000  # integer models only for islands this small (on larger ones rounding hardly matters)
AGG_MAX_GROUPS = 10  # aggregated MIP only for islands with at most this many groups (beyond, HiGHS's root
# processing alone takes seconds and the bound hardly moves)
ENUM_ROWS = 60000  # partial patterns examined per node type in the pattern model
PATTERN_LIMIT = 8000  # patterns per island in the pattern model
MIP_NODES = 200  # branch-and-bound nodes per integer model: the limit that stops it (work, not time)
MIP_MODELS = 16  # integer models per bound at most (a work budget: the same plan on a busy or idle machine)
MIP_SECONDS = 30.0  # per integer model, a safety net far above the node limit's time even on a loaded machine
SOLVED_MAX = 512  # solver results kept per process (each a few vectors): fleets repeat cluster shapes
SAFETY = 1e-7  # relative margin on the LP value
MIP_SAFETY = 1e-6  # relative margin on a branch-and-bound dual bound (its tolerances are looser)


@dataclass
class LowerBound:
    value: float  # hourly cost of new nodes: no packing of the movable pods costs less
    share: np.ndarray  # (G, O) pods of each input group per offering in the LP's packing
    method: str
    coarsened: bool
    duals: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (G,) LP dual price of one more pod
    plans: dict[int, IslandPlan] = field(default_factory=dict)  # island key -> integer models' solutions
    islands: int = 0
    integer_islands: int = 0  # islands whose bound an integer model raised


@dataclass
class _Model:
    """The relaxation as matrices: x_o (one per offering) first, then a_go, then a_gk (kept classes)."""

    cost: np.ndarray
    a_ub: csr_matrix
    b_ub: np.ndarray
    a_eq: csr_matrix
    b_eq: np.ndarray  # pods per coarse group
    upper: np.ndarray
    og: np.ndarray  # coarse group of each a_go
    oo: np.ndarray  # offering of each a_go
    cid: np.ndarray  # coarse group of each input group
    counts: np.ndarray  # pods per input group
    coarsened: bool
    x_count: int  # offerings

    def input_share(self, a_go: np.ndarray) -> np.ndarray:
        """(G_in, O) pods per input group and offering from the coarse a_go values."""
        coarse = np.zeros((len(self.b_eq), self.x_count))
        coarse[self.og, self.oo] = a_go
        per_pod = np.divide(coarse, self.b_eq[:, None], out=np.zeros_like(coarse), where=self.b_eq[:, None] > 0)
        return per_pod[self.cid] * self.counts[:, None]


@dataclass
class _LP:
    value: float
    share: np.ndarray  # (G, O) per input group
    duals: np.ndarray  # (G,) per input group
    offer_cost: np.ndarray  # (O,) price * nodes of each offering in the LP optimum
    coarsened: bool


def _coarse_groups(p: PackingInput, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """(coarse id per group, demand, signature, anti id) - sizes rounded down when there are many groups."""
    demand = p.group_demand
    coarsened = False
    if int((counts > 0).sum()) > MAX_GROUPS:
        logs = np.floor(np.log(np.maximum(demand[:, :2], 1e-12)) / np.log(GRID))
        rounded = np.where(demand[:, :2] > 0, GRID**logs, 0.0)
        demand = np.column_stack([np.minimum(rounded, demand[:, :2]), demand[:, 2]])
        coarsened = True
    key = np.column_stack([p.group_sig.astype(float), p.group_anti.astype(float), demand])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    return inverse.reshape(-1), uniq[:, 2:], uniq[:, 0].astype(np.int64), uniq[:, 1].astype(np.int64), coarsened


def _kept_classes(p: PackingInput) -> list[list[int]]:
    """Kept nodes pooled by which signatures may use them."""
    classes: dict[bytes, list[int]] = {}
    for k in range(p.sig_kept_ok.shape[1]):
        col = p.sig_kept_ok[:, k]
        if col.any():
            classes.setdefault(col.tobytes(), []).append(k)
    return list(classes.values())


def _model(p: PackingInput, counts: np.ndarray, kept_rem: np.ndarray) -> _Model:
    """The relaxation (module docstring) for `counts` pods per group and `kept_rem` room on kept nodes."""
    n_offers = len(p.offer_price)
    cid, dem, sig, anti, coarsened = _coarse_groups(p, counts)
    n_c = len(dem)
    ccount = np.bincount(cid, weights=counts, minlength=n_c)
    live = ccount > 0
    room = np.maximum(kept_rem, 0.0)
    classes = _kept_classes(p)

    per_offer = max_fit(p.offer_cap[None, :, :], dem[:, None, :])  # (C, O) pods per empty node
    per_offer = np.where(anti[:, None] >= 0, np.minimum(per_offer, 1), per_offer)
    offer_ok = (p.sig_offer_zmask[sig] != 0) & (per_offer >= 1) & live[:, None]
    per_kept = max_fit(room[None, :, :], dem[:, None, :]) if len(room) else np.zeros((n_c, 0))
    per_kept = np.where(anti[:, None] >= 0, np.minimum(per_kept, 1), per_kept)
    per_kept = np.where(p.sig_kept_ok[sig], per_kept, 0.0)
    class_cap = np.array([per_kept[:, nodes].sum(axis=1) for nodes in classes]).T.reshape(n_c, len(classes))
    class_room = np.array([room[nodes].sum(axis=0) for nodes in classes]).reshape(-1, 3)

    og, oo = np.nonzero(offer_ok)
    kg, kk = np.nonzero((class_cap >= 1) & live[:, None])
    n_a = len(og) + len(kg)
    n_var = n_offers + n_a
    a_off = n_offers + np.arange(len(og))
    a_kept = n_offers + len(og) + np.arange(len(kg))
    eq = coo_matrix((np.ones(n_a), (np.concatenate([og, kg]), np.concatenate([a_off, a_kept]))), shape=(n_c, n_var))

    rows, cols, vals, b_ub = [], [], [], []
    n_rows = 0
    for r in range(3):  # offerings: sum_g a_go * d_gr - cap_or * x_o <= 0
        rows += [n_rows + oo, n_rows + np.arange(n_offers)]
        cols += [a_off, np.arange(n_offers)]
        vals += [dem[og, r], -p.offer_cap[:, r]]
        b_ub.append(np.zeros(n_offers))
        n_rows += n_offers
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dem[og] > 0, p.offer_cap[oo] / np.where(dem[og] > 0, dem[og], 1.0), np.inf).min(axis=1)
    f = per_offer[og, oo]
    ci = np.flatnonzero((f < ccount[og]) & ((ratio > f * (1 + CUT_GAIN)) | (anti[og] >= 0)))
    rows += [n_rows + np.arange(len(ci))] * 2  # per-node count: a_go - f_go * x_o <= 0
    cols += [a_off[ci], oo[ci]]
    vals += [np.ones(len(ci)), -f[ci]]
    b_ub.append(np.zeros(len(ci)))
    n_rows += len(ci)
    for r in range(3):  # kept classes: sum_g a_gk * d_gr <= pooled room
        rows.append(n_rows + kk)
        cols.append(a_kept)
        vals.append(dem[kg, r])
        b_ub.append(class_room[:, r])
        n_rows += len(classes)
    ub = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_var))
    upper = np.concatenate([np.full(n_offers + len(og), np.inf), class_cap[kg, kk]])
    cost = np.concatenate([p.offer_price, np.zeros(n_a)])
    return _Model(cost, ub.tocsr(), np.concatenate(b_ub), eq.tocsr(), ccount, upper, og, oo, cid,
                  counts.astype(float), coarsened, n_offers)


_solved: dict[bytes, Any] = {}
_solved_lock = threading.Lock()


def _digest(*parts: Any) -> bytes:
    """A digest of a model's arrays (sparse or dense), scalars and options: equal digests, equal models."""
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        if issparse(part):
            part = csr_matrix(part)
            h.update(repr(("csr", part.shape)).encode())
            for array in (part.data, part.indices, part.indptr):
                h.update(np.ascontiguousarray(array).tobytes())
        elif isinstance(part, np.ndarray):
            h.update(repr((part.dtype.str, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.digest()


def _freeze(result: dict) -> None:
    """Make every array of a solver result (nested results too) read-only."""
    for value in result.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        elif isinstance(value, dict):
            _freeze(value)


def _memo(key: bytes, solve: Callable[[], Any]) -> Any:
    """The solver's result for a model solved before in this process, else solve it and keep the result.

    HiGHS is deterministic under a node limit (MIP_NODES), so the kept result is the one a new solve would
    give; a fleet of same-shaped clusters (copies per region or environment) solves each model once. The
    result's arrays are made read-only so no caller can change what later callers read.
    """
    found = _solved.get(key)
    if found is not None:
        return found
    found = solve()
    _freeze(found)
    with _solved_lock:
        while len(_solved) >= SOLVED_MAX:
            _solved.pop(next(iter(_solved)))
        _solved[key] = found
    return found


def _solve_lp(p: PackingInput, counts: np.ndarray, kept_rem: np.ndarray) -> _LP:
    """The LP relaxation: value, split over offerings, dual prices and cost per offering."""
    n_in, n_offers = len(p.group_demand), len(p.offer_price)
    if counts.sum() == 0:
        return _LP(0.0, np.zeros((n_in, n_offers)), np.zeros(n_in), np.zeros(n_offers), False)
    m = _model(p, counts, kept_rem)
    bounds = np.column_stack([np.zeros(len(m.cost)), m.upper])
    res = _memo(_digest("linprog", m.cost, m.a_ub, m.b_ub, m.a_eq, m.b_eq, bounds),
                lambda: linprog(m.cost, A_ub=m.a_ub, b_ub=m.b_ub, A_eq=m.a_eq, b_eq=m.b_eq, bounds=bounds,
                                method="highs"))
    if res.status != 0:
        raise RuntimeError(f"lower-bound LP did not solve: {res.message}")
    share = m.input_share(res.x[n_offers : n_offers + len(m.og)])
    duals = np.asarray(res.eqlin.marginals)[m.cid]
    return _LP(float(res.fun), share, duals, p.offer_price * res.x[:n_offers], m.coarsened)


def _milp(cost: np.ndarray, cons: list[LinearConstraint], upper: np.ndarray, seconds: float, nodes: int):
    """HiGHS branch and bound under the node and time limits; None unless it proved a finite dual bound
    (stopped early, the dual bound it reports is still proven)."""
    options = {"node_limit": nodes, "time_limit": seconds, "mip_rel_gap": 0.0}
    key = _digest("milp", cost, upper, options, *[x for c in cons for x in (c.A, c.lb, c.ub)])
    res = _memo(key, lambda: milp(cost, constraints=cons, integrality=np.ones(len(cost)), bounds=Bounds(0, upper),
                                  options=options))
    bound = getattr(res, "mip_dual_bound", None)
    stopped = res.status == 1 or (res.status == 4 and "limit reached" in str(res.message))  # node limit
    if not (res.status == 0 or stopped) or bound is None or not np.isfinite(bound):
        return None
    return res


def _dominated(room: np.ndarray, eligible: np.ndarray, price: np.ndarray) -> np.ndarray:
    """(T,) node types some other type beats: at least the room, every group it takes, at most the price.

    Dropping them leaves the integer models' optimum unchanged (any node of a dominated type can become
    a node of the type beating it, at no higher cost), and makes branch and bound much faster.
    """
    at_least = (room[None, :, :] >= room[:, None, :] - 1e-12).all(axis=2)  # [a, b]: b has a's room
    covers = (eligible[None, :, :] >= eligible[:, None, :]).all(axis=2)
    cheaper = price[None, :] <= price[:, None]
    beats = at_least & covers & cheaper
    same = beats & beats.T  # identical types: keep the first
    beats &= ~same | (np.arange(len(price))[None, :] < np.arange(len(price))[:, None])
    np.fill_diagonal(beats, False)
    return beats.any(axis=1)


def _aggregated(q: PackingInput, seconds: float,
                nodes: int = MIP_NODES) -> tuple[float, tuple[np.ndarray, np.ndarray] | None] | None:
    """The relaxation with whole nodes and whole pods: (dual bound, (pods per group and offering, pods
    per group on kept nodes) or None)."""
    if len(q.group_demand) > AGG_MAX_GROUPS:
        return None
    offer_ok = eligible_offers(q)
    drop = _dominated(q.offer_cap, offer_ok.T, q.offer_price) | ~offer_ok.any(axis=0)
    q = replace(q, sig_offer_zmask=np.where(drop[None, :], 0, q.sig_offer_zmask))
    m = _model(q, q.counts, q.kept_rem)
    if m.coarsened:
        return None
    cons = [LinearConstraint(m.a_ub, -np.inf, m.b_ub), LinearConstraint(m.a_eq, m.b_eq, m.b_eq)]
    res = _milp(m.cost, cons, m.upper, seconds, nodes)
    if res is None:
        return None
    if res.x is None:
        return float(res.mip_dual_bound), None
    share = m.input_share(np.round(res.x[m.x_count : m.x_count + len(m.og)]))
    return float(res.mip_dual_bound), (share, q.counts - share.sum(axis=1))


def relax(p: PackingInput, counts: np.ndarray, kept_rem: np.ndarray) -> Guide:
    """The LP's split and dual prices for the pods still to place (the packer's guide)."""
    lp = _solve_lp(p, counts, kept_rem)
    return Guide(lp.share, lp.duals, lp.value)


def _bits(mask: int) -> list[int]:
    """The single-zone masks in a zone mask (-1, unknown zones: one entry, -1)."""
    if mask < 0:
        return [-1]
    return [1 << i for i in range(63) if mask >> i & 1]


def _node_types(q: PackingInput) -> list[tuple[int, int, int, np.ndarray, float, np.ndarray]]:
    """(offer or -1, kept node or -1, zone mask, room, price, eligible groups) of every kind of node.

    New nodes: one type per offering and zone, deduplicated by (room, eligible groups) keeping the
    cheapest, without dominated types. Kept nodes: one type each.
    """
    offer_ok, kept_ok = eligible_offers(q), eligible_kept(q)
    types: dict[tuple, tuple[int, int, int, np.ndarray, float, np.ndarray]] = {}
    for o in np.flatnonzero(offer_ok.any(axis=0)):
        for z in _bits(int(q.offer_zmask[o])):
            el = np.flatnonzero(offer_ok[:, o] & ((q.sig_offer_zmask[q.group_sig, o] & z) != 0))
            if not len(el):
                continue
            key = (tuple(np.round(q.offer_cap[o], 9)), el.tobytes())
            if key not in types or q.offer_price[o] < types[key][4]:
                types[key] = (int(o), -1, z, q.offer_cap[o], float(q.offer_price[o]), el)
    out = list(types.values())
    if out:
        rooms = np.array([t[3] for t in out])
        eligible = np.zeros((len(out), len(q.group_demand)), bool)
        for i, t in enumerate(out):
            eligible[i, t[5]] = True
        drop = _dominated(rooms, eligible, np.array([t[4] for t in out]))
        out = [t for t, d in zip(out, drop, strict=True) if not d]
    for k in np.flatnonzero(kept_ok.any(axis=0)):
        out.append((-1, int(k), -1, np.maximum(q.kept_rem[k], 0.0), 0.0, np.flatnonzero(kept_ok[:, k])))
    return out


def _maximal_patterns(q: PackingInput, room: np.ndarray, groups: np.ndarray, counts: np.ndarray) -> np.ndarray | None:
    """Every maximal pattern (pods per group of `groups`) fitting `room`; None when there are too many."""
    dem = q.group_demand[groups]
    anti = q.group_anti[groups]
    most = np.minimum(counts[groups], max_fit(room[None, :], dem)).astype(np.int64)
    most[anti >= 0] = np.minimum(most[anti >= 0], 1)
    pats = np.zeros((1, 0), dtype=np.int64)
    load = np.zeros((1, 3))
    for j in range(len(groups)):
        k = np.arange(most[j] + 1)
        if len(pats) * len(k) > ENUM_ROWS:
            return None
        pats = np.column_stack([np.repeat(pats, len(k), axis=0), np.tile(k, len(pats))])
        load = np.repeat(load, len(k), axis=0) + np.tile(k, len(load))[:, None] * dem[j]
        ok = (load <= room + 1e-9).all(axis=1)
        pats, load = pats[ok], load[ok]
    keys = np.unique(anti[anti >= 0])
    for a in keys:  # one pod per anti-affinity key on a node
        ok = pats[:, anti == a].sum(axis=1) <= 1
        pats, load = pats[ok], load[ok]
    can_add = (pats < most) & ((load[:, None, :] + dem[None, :, :]) <= room + 1e-9).all(axis=2)
    for a in keys:
        has = pats[:, anti == a].sum(axis=1) >= 1
        can_add[np.ix_(has, anti == a)] = False
    return pats[~can_add.any(axis=1) & (pats.sum(axis=1) > 0)]


def _patterned(q: PackingInput, seconds: float,
               nodes: int = MIP_NODES) -> tuple[float, list[PlannedNode] | None] | None:
    """The pattern model (module docstring) for one island: (dual bound, best plan found or None)."""
    counts = q.counts
    columns: list[tuple[int, int, int, float, np.ndarray]] = []  # offer, kept, zmask, price, pods per group
    for offer, kept, zmask, room, price, groups in _node_types(q):
        pats = _maximal_patterns(q, room, groups, counts)
        if pats is None or len(columns) + len(pats) > PATTERN_LIMIT:
            return None
        for row in pats:
            full = np.zeros(len(counts), dtype=np.int64)
            full[groups] = row
            columns.append((offer, kept, zmask, price, full))
    if not columns:
        return None
    cover = csr_matrix(np.array([c[4] for c in columns], dtype=float).T)
    cons = [LinearConstraint(cover, counts.astype(float), np.inf)]
    kept_cols = [(c[1], j) for j, c in enumerate(columns) if c[1] >= 0]
    if kept_cols:
        row_of = {k: i for i, k in enumerate(sorted({k for k, _ in kept_cols}))}
        once = coo_matrix((np.ones(len(kept_cols)), ([row_of[k] for k, _ in kept_cols], [j for _, j in kept_cols])),
                          shape=(len(row_of), len(columns)))
        cons.append(LinearConstraint(once.tocsr(), 0.0, 1.0))
    res = _milp(np.array([c[3] for c in columns]), cons, np.full(len(columns), np.inf), seconds, nodes)
    if res is None:
        return None
    if res.x is None:
        return float(res.mip_dual_bound), None
    plan = []
    for j in np.flatnonzero(np.round(res.x) > 0):
        offer, kept, zmask, _price, pods = columns[j]
        content = {int(g): int(pods[g]) for g in np.flatnonzero(pods)}
        plan.extend(PlannedNode(offer, kept, zmask, dict(content)) for _ in range(int(round(res.x[j]))))
    return float(res.mip_dual_bound), plan


def _integer_models(p: PackingInput, lp: _LP) -> tuple[float, dict[int, IslandPlan], int]:
    """(bound gained over the LP, plans per island, islands raised) from the islands' integer models."""
    gained, plans, raised = 0.0, {}, 0
    models = 0
    for island in islands(p):
        q = restrict(p, island)
        if q.pods > INTEGER_MAX_PODS:
            continue
        lp_part = float(lp.offer_cost[np.flatnonzero(eligible_offers(q).any(axis=0))].sum())
        best = lp_part
        plan = IslandPlan()
        for solve in (_patterned, _aggregated):  # the aggregated model only where patterns are too many
            if models >= MIP_MODELS or (solve is _aggregated and plan.nodes is not None):
                break
            models += 1
            solved = solve(q, MIP_SECONDS)
            if solved is None:
                continue
            best = max(best, solved[0] - MIP_SAFETY * max(1.0, abs(solved[0])))
            if solve is _patterned:
                plan.nodes = solved[1]
            elif solved[1] is not None:
                plan.share, plan.kept = solved[1]
        if best > lp_part:
            gained += best - lp_part
            raised += 1
        if plan.nodes is not None or plan.share is not None:
            plans[island.key] = plan
    return gained, plans, raised


def lower_bound(p: PackingInput, integer: bool = True) -> LowerBound:
    """The least the new nodes can cost (module docstring), with the LP's guide and the islands' plans."""
    n_groups, n_offers = len(p.group_demand), len(p.offer_price)
    counts = p.counts
    if n_groups == 0 or counts.sum() == 0:
        return LowerBound(0.0, np.zeros((n_groups, n_offers)), "nothing to place", False, np.zeros(n_groups))
    lp = _solve_lp(p, counts, p.kept_rem)
    n_islands = len(islands(p))
    gained, plans, raised = _integer_models(p, lp) if integer and not lp.coarsened else (0.0, {}, 0)
    value = lp.value + gained
    value = max(0.0, value - SAFETY * max(1.0, abs(value)))
    method = "LP relaxation (HiGHS) over CPU, memory and pod slots with per-node pod-count cuts" + (
        f", pod sizes rounded down to a {round((GRID - 1) * 100)}% grid" if lp.coarsened else ""
    ) + (f"; whole-node integer models raise it on {raised} of {n_islands} pod islands" if raised else "")
    return LowerBound(value, lp.share, method, lp.coarsened, lp.duals, plans, n_islands, raised)
