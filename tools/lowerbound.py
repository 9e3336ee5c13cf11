"""The LP relaxation that bounds what any repacking of the movable pods can cost.

Variables: x_o >= 0 nodes of each offering (fractional), a_gj >= 0 pods of group g on offering or
kept-node class j. Each group places all its pods on the offerings and kept nodes it allows; on each
offering the pods' CPU, memory and pod slots fit into x_o nodes' room; kept nodes (already paid for)
of the same eligibility are pooled. Minimise sum(price_o * x_o).

Every real packing is a feasible point of this LP (integral nodes, whole pods), so its optimum is a
lower bound on the cost of the new nodes. Zones and one-per-node anti-affinity are dropped, which only
lowers the bound. With very many distinct pod sizes, sizes are rounded *down* onto a 2% grid before
solving: that also only lowers the bound, and keeps the LP small. Solved with HiGHS (scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from upgradectl.tools.binpack import PackingInput

MAX_GROUPS = 2500
GRID = 1.02


@dataclass
class LowerBound:
    value: float  # hourly cost of new nodes in the best fractional packing
    share: np.ndarray  # (G, O) pods of each input group per offering in that packing
    method: str
    coarsened: bool


def _coarse_groups(p: PackingInput) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(coarse id per group, coarse demand, coarse signature) - sizes rounded down when there are many."""
    demand = p.group_demand
    coarsened = False
    if len(demand) > MAX_GROUPS:
        logs = np.floor(np.log(np.maximum(demand[:, :2], 1e-12)) / np.log(GRID))
        rounded = np.where(demand[:, :2] > 0, GRID**logs, 0.0)
        demand = np.column_stack([np.minimum(rounded, demand[:, :2]), demand[:, 2]])
        coarsened = True
    key = np.column_stack([p.group_sig.astype(float), demand])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    return inverse.reshape(-1), uniq[:, 1:], uniq[:, 0].astype(np.int64), coarsened


def lower_bound(p: PackingInput) -> LowerBound:
    """Solve the LP relaxation; the value is the least the new nodes can cost."""
    n_groups, n_offers = len(p.group_demand), len(p.offer_price)
    counts = np.array([len(x) for x in p.group_pods], dtype=float)
    if n_groups == 0 or counts.sum() == 0:
        return LowerBound(0.0, np.zeros((n_groups, n_offers)), "nothing to place", False)
    cid, cdemand, csig, coarsened = _coarse_groups(p)
    n_c = len(cdemand)
    ccount = np.bincount(cid, weights=counts, minlength=n_c)

    # kept nodes pooled by which signatures may use them
    kept_classes: dict[bytes, list[int]] = {}
    for k in range(p.sig_kept_ok.shape[1]):
        col = p.sig_kept_ok[:, k]
        if col.any():
            kept_classes.setdefault(col.tobytes(), []).append(k)
    class_nodes = list(kept_classes.values())
    class_room = np.array([np.maximum(p.kept_rem[nodes], 0).sum(axis=0) for nodes in class_nodes]).reshape(-1, 3)
    class_ok = np.array([p.sig_kept_ok[:, nodes[0]] for nodes in class_nodes]).reshape(-1, p.sig_kept_ok.shape[0])

    offer_ok = (p.sig_offer_zmask[csig] != 0) & (cdemand[:, None, :] <= p.offer_cap[None, :, :] + 1e-9).all(axis=2)
    keep_ok = class_ok[:, csig].T if len(class_nodes) else np.zeros((n_c, 0), bool)  # (C, Kc)
    if len(class_nodes):  # a pod only goes where one node of the class has room for it whole
        largest = np.array([np.maximum(p.kept_rem[nodes], 0).max(axis=0) for nodes in class_nodes])
        keep_ok &= (cdemand[:, None, :] <= largest[None, :, :] + 1e-9).all(axis=2)
    og, oo = np.nonzero(offer_ok)
    kg, kk = np.nonzero(keep_ok)
    n_a = len(og) + len(kg)
    n_var = n_offers + n_a

    cost = np.concatenate([p.offer_price, np.zeros(n_a)])
    # equality: each coarse group places all its pods
    a_group = np.concatenate([og, kg])
    a_cols = n_offers + np.arange(n_a)
    eq = coo_matrix((np.ones(n_a), (a_group, a_cols)), shape=(n_c, n_var)).tocsr()

    rows, cols, vals = [], [], []
    for r in range(3):
        # offerings: sum_g a_go * d_gr - cap_or * x_o <= 0
        rows.append(r * n_offers + oo)
        cols.append(n_offers + np.arange(len(og)))
        vals.append(cdemand[og, r])
        rows.append(r * n_offers + np.arange(n_offers))
        cols.append(np.arange(n_offers))
        vals.append(-p.offer_cap[:, r])
        # kept classes: sum_g a_gk * d_gr <= room_kr
        if len(kg):
            rows.append(3 * n_offers + r * len(class_nodes) + kk)
            cols.append(n_offers + len(og) + np.arange(len(kg)))
            vals.append(cdemand[kg, r])
    n_ub = 3 * n_offers + 3 * len(class_nodes)
    ub = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_ub, n_var)).tocsr()
    b_ub = np.concatenate([np.zeros(3 * n_offers), class_room.T.reshape(-1) if len(class_nodes) else []])

    res = linprog(cost, A_ub=ub, b_ub=b_ub, A_eq=eq, b_eq=ccount, bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"lower-bound LP did not solve: {res.message}")
    value = float(res.fun)
    # HiGHS optimum within its tolerance; take the dual bound side so the value is never above the true LP
    value = max(0.0, value - 1e-7 * max(1.0, abs(value)))

    coarse_share = np.zeros((n_c, n_offers))
    np.add.at(coarse_share, (og, oo), res.x[n_offers : n_offers + len(og)])
    # hand each input group its coarse group's split, in proportion
    per_pod = np.divide(coarse_share, ccount[:, None], out=np.zeros_like(coarse_share), where=ccount[:, None] > 0)
    share = per_pod[cid] * counts[:, None]
    method = "LP relaxation (HiGHS) over CPU, memory and pod slots" + (
        f", pod sizes rounded down to a {round((GRID - 1) * 100)}% grid" if coarsened else ""
    )
    return LowerBound(value, share, method, coarsened)
