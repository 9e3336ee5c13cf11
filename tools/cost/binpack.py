"""Multi-resource bin packing for the consolidation simulation: pods onto the cheapest allowed nodes.

Pure numpy, no Kubernetes knowledge: tools/cost/consolidation.py encodes pods, offerings and the nodes that
stay into arrays. Resources are three columns: CPU cores, memory GiB, pod slots.

The problem splits into islands: groups of pods that share no offering and no kept node with any other
group (a tainted pool's pods and that pool's nodes, say). Each island is packed by the cheapest of:

- the guided heuristic, steered by the LP relaxation (tools/cost/lowerbound.py):
  1. room on nodes that stay (already paid for) goes first, node by node, to the pods most expensive
     to place elsewhere per share of the node's room they take (worth = the LP's dual prices, or each
     pod's standalone cost; whichever leaves the LP a cheaper rest);
  2. the LP is solved again for the pods still to place, and its split of each group over the
     offerings is rounded to whole pods;
  3. each offering's pods are packed by repeated patterns: one node's worth of the offering's mix (its
     pods spread over the nodes it needs, rounded down), topped up one pod at a time with the pod that
     leaves the node's less-filled resource fullest, opened as many times as the counts allow; then the
     mix is recomputed for what is left. This keeps every node close to the LP's balanced mix instead
     of filling memory on the first nodes and CPU on the last;
  4. clean-up: empty the least-filled new nodes into others, then move every new node to the cheapest
     offering that still holds its pods;
- the plans of the integer models tools/cost/lowerbound.py solves for small islands: node-by-node contents
  (pattern model), or whole pods per offering and on kept nodes (aggregated model) packed by steps 3-4.

Then a large-neighbourhood search repacks the most wasteful new nodes of the island together and keeps
the result when it is cheaper. Every placement is re-checked by tools/cost/placement_check.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

EPS = 1e-9


@dataclass
class PackingInput:
    """Everything the packer needs, as arrays. G groups of identical pods, O offerings, K kept nodes.

    Every group may use at least one offering whose empty node holds one of its pods (the caller
    leaves pods without such an offering where they are).
    """

    group_demand: np.ndarray  # (G, 3) one pod's request
    group_pods: list[np.ndarray]  # G arrays of pod indices (into the caller's pod list)
    group_sig: np.ndarray  # (G,) signature id: what the pods need from a node
    group_anti: np.ndarray  # (G,) anti-affinity id (at most one such pod per node) or -1
    sig_offer_zmask: np.ndarray  # (S, O) int64 zone bitmask where the signature may use the offering; 0 = never
    sig_kept_ok: np.ndarray  # (S, K) bool: the signature may run on the kept node
    offer_price: np.ndarray  # (O,) hourly
    offer_cap: np.ndarray  # (O, 3) room on a new node after DaemonSet overhead
    offer_zmask: np.ndarray  # (O,) int64 zones the offering may use
    kept_rem: np.ndarray  # (K, 3) room left on nodes that stay
    kept_zmask: np.ndarray  # (K,) int64 the kept node's zone bit

    @property
    def pods(self) -> int:
        return int(sum(len(p) for p in self.group_pods))

    @property
    def counts(self) -> np.ndarray:
        return np.array([len(x) for x in self.group_pods], dtype=np.int64)


@dataclass
class PackingResult:
    """Bins 0..K-1 are the kept nodes; K.. are new nodes of bin_offer's offering in bin_zone."""

    pod_bin: dict[int, int]  # pod index -> bin
    bin_offer: np.ndarray  # (B,) offering index, -1 for kept nodes
    bin_zmask: np.ndarray  # (B,) remaining zone choices (new bins: pick any set bit)
    bin_used: np.ndarray  # (B, 3) requested by the moved pods
    kept: int

    def new_cost(self, price: np.ndarray) -> float:
        offers = self.bin_offer[self.kept :]
        return float(price[offers].sum()) if len(offers) else 0.0


@dataclass
class Guide:
    """What a relaxation says about the pods still to place."""

    share: np.ndarray  # (G, O) pods of each group per offering (fractional)
    duals: np.ndarray  # (G,) what one more pod of the group costs to place (LP dual price)
    value: float = 0.0  # the relaxation's cost for these pods


# (problem, pods left per group, room left on kept nodes) -> guide for those pods
Relax = Callable[[PackingInput, np.ndarray, np.ndarray], Guide]

REPACK_SIZES = (3, 5, 8)  # how many of the most wasteful new nodes one repacking round pulls apart
REPACK_ROUNDS = 12


@dataclass
class PlannedNode:
    """One node of an exact plan: a new node of an offering in a zone, or a kept node, and its pods."""

    offer: int  # offering index, -1 for a kept node
    kept: int  # kept node index (when offer == -1)
    zmask: int
    counts: dict[int, int] = field(default_factory=dict)  # group -> pods


@dataclass
class IslandPlan:
    """What the integer models of tools/cost/lowerbound.py found for one island (either may be missing)."""

    nodes: list[PlannedNode] | None = None  # node by node contents (pattern model)
    share: np.ndarray | None = None  # (G_island, O) whole pods per offering (aggregated model)
    kept: np.ndarray | None = None  # (G_island,) whole pods on kept nodes (aggregated model)


@dataclass
class Island:
    """Groups that share offerings or kept nodes only among themselves, and their kept nodes."""

    groups: np.ndarray
    kept: np.ndarray

    @property
    def key(self) -> int:
        return int(self.groups[0])


def max_fit(room: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """How many pods of each demand row fit into each room row: (..., 3) x (G, 3) -> broadcast floor."""
    positive = demand > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(positive, np.floor((room + EPS) / np.where(positive, demand, 1.0)), np.inf)
    return per.min(axis=-1)


def eligible_offers(p: PackingInput) -> np.ndarray:
    """(G, O) the group may use the offering and one pod fits on an empty node of it."""
    fits = (p.group_demand[:, None, :] <= p.offer_cap[None, :, :] + EPS).all(axis=2)
    return (p.sig_offer_zmask[p.group_sig] != 0) & fits


def eligible_kept(p: PackingInput) -> np.ndarray:
    """(G, K) the group may run on the kept node and one pod fits in its room."""
    fits = (p.group_demand[:, None, :] <= p.kept_rem[None, :, :] + EPS).all(axis=2)
    return p.sig_kept_ok[p.group_sig] & fits


def islands(p: PackingInput) -> list[Island]:
    """Connected components of groups linked through the offerings and kept nodes they may use."""
    n_g = len(p.group_demand)
    if n_g == 0:  # nothing movable (a cluster with no pods, or only pinned ones)
        return []
    links = np.hstack([eligible_offers(p), eligible_kept(p)])  # (G, O + K)
    label = np.arange(n_g)
    big = n_g + 1
    while True:  # each group takes the least label reachable through one offering or kept node
        via = np.where(links, label[:, None], big).min(axis=0)
        new = np.minimum(label, np.where(links, via[None, :], big).min(axis=1, initial=big))
        if (new == label).all():
            break
        label = new
    via = np.where(links, label[:, None], big).min(axis=0)
    kept_label = via[len(p.offer_price) :]
    return [Island(np.flatnonzero(label == root), np.flatnonzero(kept_label == root)) for root in np.unique(label)]


def restrict(p: PackingInput, island: Island) -> PackingInput:
    """The island as a problem of its own: its groups and kept nodes, all offerings (others stay unused)."""
    g, k = island.groups, island.kept
    return replace(p, group_demand=p.group_demand[g], group_pods=[p.group_pods[i] for i in g],
                   group_sig=p.group_sig[g], group_anti=p.group_anti[g],
                   sig_kept_ok=p.sig_kept_ok[:, k], kept_rem=p.kept_rem[k].reshape(-1, 3),
                   kept_zmask=p.kept_zmask[k])


class _Bins:
    """Growable bin arrays shared by the packing passes."""

    def __init__(self, p: PackingInput, capacity: int):
        k = len(p.kept_rem)
        self.kept = k
        size = k + capacity + 1
        self.rem = np.zeros((size, 3))
        self.used = np.zeros((size, 3))
        self.offer = np.full(size, -1, dtype=np.int64)
        self.zmask = np.zeros(size, dtype=np.int64)
        self.rem[:k] = p.kept_rem
        self.zmask[:k] = p.kept_zmask
        self.n = k
        self.anti_bins: dict[int, set[int]] = {}

    def open(self, offer: int, count: int, cap: np.ndarray, zmask: int) -> np.ndarray:
        lo = self.n
        if lo + count > len(self.rem):
            grow = max(count, len(self.rem))
            self.rem = np.vstack([self.rem, np.zeros((grow, 3))])
            self.used = np.vstack([self.used, np.zeros((grow, 3))])
            self.offer = np.concatenate([self.offer, np.full(grow, -1, dtype=np.int64)])
            self.zmask = np.concatenate([self.zmask, np.zeros(grow, dtype=np.int64)])
        self.n += count
        self.rem[lo : self.n] = cap
        self.used[lo : self.n] = 0.0
        self.offer[lo : self.n] = offer
        self.zmask[lo : self.n] = zmask
        return np.arange(lo, self.n)


def _max_fit(rem: np.ndarray, d: np.ndarray) -> int:
    """How many pods of demand d fit into remaining room rem."""
    need = d > 0
    if not need.any():
        return 1 << 30
    return int(np.floor((rem[need] + EPS) / d[need]).min())


def _pattern(norm: np.ndarray, zms: np.ndarray, anti: np.ndarray, left: np.ndarray, full: int,
             rule: str) -> tuple[np.ndarray, int, int]:
    """One node's worth of pods for an offering: (pods per group, zone mask, nodes the rest needs).

    `norm` is each group's demand as a share of the node. The base is the remaining mix spread over
    the nodes it needs, rounded down; the top-up adds one pod at a time, the one that leaves the
    node's least-filled resource (CPU or memory) fullest. Ties are broken by `rule`: "big" prefers
    the larger pod, "even" the pod that keeps the node's fill closest to the remaining mix's shape.
    """
    load = left @ norm
    nodes = max(1, int(np.ceil(load.max() - 1e-9)))
    shape = np.maximum(load[:2] / max(float(load[:2].max()), EPS), 0.05) if rule == "even" else np.ones(2)
    a = np.floor(left / nodes + 1e-9).astype(np.int64)
    a[anti >= 0] = np.minimum(a[anti >= 0], 1)
    seen: set[int] = set()
    zmask = np.int64(full)
    for i in np.flatnonzero(a > 0)[np.argsort(-(a * norm.max(axis=1))[a > 0], kind="stable")]:
        if (anti[i] >= 0 and int(anti[i]) in seen) or not (zmask & zms[i]):
            a[i] = 0
            continue
        zmask &= zms[i]
        if anti[i] >= 0:
            seen.add(int(anti[i]))
    filled = a @ norm
    while True:
        ok = (left > a) & (norm <= 1.0 - filled + EPS).all(axis=1) & ((zms & zmask) != 0)
        if seen:
            ok &= (anti < 0) | ~np.isin(anti, list(seen))
        ok &= ~((anti >= 0) & (a >= 1))
        if not ok.any():
            break
        after = (filled[None, :2] + norm[:, :2]) / shape
        tie = -after.max(axis=1) if rule == "even" else after.sum(axis=1)
        i = int(np.argmax(np.where(ok, after.min(axis=1) + 1e-3 * tie, -np.inf)))
        a[i] += 1
        filled = filled + norm[i]
        zmask &= zms[i]
        if anti[i] >= 0:
            seen.add(int(anti[i]))
    return a, int(zmask), nodes


def _patterns(norm: np.ndarray, zms: np.ndarray, anti: np.ndarray, counts: np.ndarray, full: int,
              rule: str) -> list[tuple[np.ndarray, int, int]]:
    """(pods per group, zone mask, copies) for every node needed to hold `counts`, pattern by pattern."""
    left = counts.astype(np.int64).copy()
    out = []
    while left.sum() > 0:
        a, zmask, nodes = _pattern(norm, zms, anti, left, full, rule)
        used = a > 0
        copies = max(1, min(nodes, int((left[used] // a[used]).min())))
        out.append((a, zmask, copies))
        left -= copies * a
    return out


class Packer:
    """One packing run over a PackingInput; see the module docstring for the passes."""

    def __init__(self, p: PackingInput):
        self.p = p
        self.bins = _Bins(p, capacity=min(p.pods, 4096))
        self.taken: list[list[int]] = [[] for _ in p.group_pods]  # per group: bins, one entry per pod
        self.journal: list[tuple[int, int, int]] | None = None

    # ---- placing -----------------------------------------------------------------------------------------

    def _record(self, g: int, b: int, k: int) -> None:
        bins = self.bins
        d = self.p.group_demand[g]
        bins.rem[b] -= k * d
        bins.used[b] += k * d
        self.taken[g].extend([b] * k)
        if self.journal is not None:
            self.journal.append((g, b, k))
        anti = int(self.p.group_anti[g])
        if anti >= 0:
            bins.anti_bins.setdefault(anti, set()).add(b)

    def _fill(self, g: int, count: int, lo: int, hi: int, zm: np.ndarray | int, allowed: np.ndarray | None) -> int:
        """First fit `count` pods of group g into bins [lo, hi); return how many are left.

        `zm` is the group's zone mask (per bin when an array); `allowed` optionally restricts bins.
        """
        p, bins = self.p, self.bins
        d = p.group_demand[g]
        anti = int(p.group_anti[g])
        start = lo
        while count > 0 and start < hi:
            fits = (bins.rem[start:hi] >= d - EPS).all(axis=1)
            zone = zm[start - lo :] if isinstance(zm, np.ndarray) else zm
            fits &= (bins.zmask[start:hi] & zone) != 0
            if allowed is not None:
                fits &= allowed[start - lo :]
            if anti >= 0 and anti in bins.anti_bins:
                used = [b - start for b in bins.anti_bins[anti] if start <= b < hi]
                if used:
                    fits[used] = False
            hit = int(np.argmax(fits))
            if not fits[hit]:
                break
            b = start + hit
            k = min(count, _max_fit(bins.rem[b], d), 1 if anti >= 0 else count)
            zb = zone[hit] if isinstance(zone, np.ndarray) else zone
            bins.zmask[b] &= zb
            self._record(g, b, k)
            count -= k
            start = b + 1
        return count

    def best_offer(self, g: int) -> int:
        """The offering with the lowest price per pod of this group on an otherwise empty node."""
        p = self.p
        ok = p.sig_offer_zmask[p.group_sig[g]] != 0
        d = p.group_demand[g]
        need = d > 0
        per = np.floor((p.offer_cap[:, need] + EPS) / d[need]).min(axis=1) if need.any() else np.full(len(ok), 1e9)
        per = np.where(ok & (per >= 1), per, 0)
        if p.group_anti[g] >= 0:
            per = np.minimum(per, 1)
        cost = np.where(per > 0, p.offer_price / np.maximum(per, 1), np.inf)
        return int(np.argmin(cost))

    # ---- passes ------------------------------------------------------------------------------------------

    def fill_kept_by_value(self, duals: np.ndarray, counts: np.ndarray) -> int:
        """Fill each node that stays with the pods worth most per share of its room; return pods placed.

        A pod's worth is its LP dual price: what placing it elsewhere would cost. The share of the room
        is its bottleneck resource on this node, so a memory-heavy pod is cheap on a node with spare
        memory. Pods the LP gives no price still fill what room is left.
        """
        p, bins = self.p, self.bins
        d = p.group_demand
        value = np.maximum(duals, 0.0) + 1e-9
        placed = 0
        for k in range(bins.kept):
            ok = p.sig_kept_ok[p.group_sig, k] & (counts > 0)
            while ok.any():
                rem = bins.rem[k]
                fit = ok & (counts > 0) & (d <= rem + EPS).all(axis=1)
                for i in np.flatnonzero(fit & (p.group_anti >= 0)):
                    if k in bins.anti_bins.get(int(p.group_anti[i]), ()):
                        fit[i] = False
                if not fit.any():
                    break
                size = (d / np.maximum(rem, EPS)).max(axis=1)
                g = int(np.argmax(np.where(fit, value / np.maximum(size, EPS), -np.inf)))
                n = 1 if p.group_anti[g] >= 0 else max(1, min(int(counts[g]), _max_fit(rem, d[g])))
                self._record(g, k, n)
                counts[g] -= n
                placed += n
        return placed

    def pack_offers(self, order: np.ndarray, share: np.ndarray) -> None:
        """share (G, O) pod counts per offering: pack each offering's pods by repeated patterns."""
        for o in np.flatnonzero(share.sum(axis=0)):
            groups = np.array([g for g in order if share[g, o] > 0], dtype=np.int64)
            self._fill_offer(int(o), groups, share[groups, o].astype(np.int64))

    def _fill_offer(self, o: int, groups: np.ndarray, counts: np.ndarray) -> None:
        """Open nodes of offering o pattern by pattern (see _pattern) until these pods are placed; of the
        two tie-break rules, the one needing fewer nodes is used."""
        p = self.p
        norm = p.group_demand[groups] / np.maximum(p.offer_cap[o], EPS)
        zms = p.sig_offer_zmask[p.group_sig[groups], o] & p.offer_zmask[o]
        anti = p.group_anti[groups]
        plans = [_patterns(norm, zms, anti, counts, int(p.offer_zmask[o]), rule) for rule in ("big", "even")]
        for a, zmask, copies in min(plans, key=lambda plan: sum(c for _, _, c in plan)):
            used = a > 0
            self._open_pattern(o, groups[used], a[used], copies, zmask)

    def _open_pattern(self, o: int, groups: np.ndarray, per_node: np.ndarray, copies: int, zmask: int) -> None:
        """Open `copies` nodes of offering o, each holding per_node[i] pods of groups[i]."""
        p, bins = self.p, self.bins
        opened = bins.open(o, copies, p.offer_cap[o], zmask)
        load = per_node @ p.group_demand[groups]
        bins.rem[opened] -= load
        bins.used[opened] += load
        listed = opened.tolist()
        for g, k in zip(groups.tolist(), per_node.tolist(), strict=True):
            self.taken[g].extend(np.repeat(opened, k).tolist())
            anti = int(p.group_anti[g])
            if anti >= 0:
                bins.anti_bins.setdefault(anti, set()).update(listed)

    def _bin_groups(self) -> dict[int, dict[int, int]]:
        members: dict[int, dict[int, int]] = {}
        for g, bins in enumerate(self.taken):
            for b in bins:
                slot = members.setdefault(b, {})
                slot[g] = slot.get(g, 0) + 1
        return members

    def empty_sparse_bins(self, limit: int) -> None:
        """Try to move every pod of the least-filled new nodes onto other nodes; drop the emptied ones.

        A node that received pods in an earlier attempt is not emptied (its content changed); a failed
        attempt is rolled back from a journal of what it placed.
        """
        p, bins = self.p, self.bins
        new = np.arange(bins.kept, bins.n)
        if len(new) < 2:
            return
        offers = bins.offer[new]
        fill = (bins.used[new] / np.maximum(p.offer_cap[offers], EPS)).max(axis=1)
        members = self._bin_groups()
        closed: set[int] = set()
        touched: set[int] = set()
        for b in new[np.argsort(fill, kind="stable")][:limit]:
            b = int(b)
            if b in touched:
                continue
            if self._try_empty(b, members.get(b, {}), closed):
                closed.add(b)
                touched.update(t for _, t, _ in self.journal or [])
            self.journal = None
        if closed:
            self._compact(closed)

    def _try_empty(self, b: int, content: dict[int, int], closed: set[int]) -> bool:
        """Move all of bin b's pods elsewhere (first fit, largest first); roll back when one does not fit."""
        p, bins = self.p, self.bins
        self.journal = []
        saved_zmask = bins.zmask.copy()
        saved_rem_b, saved_used_b = bins.rem[b].copy(), bins.used[b].copy()
        for g in content:
            self.taken[g] = [x for x in self.taken[g] if x != b]
            anti = int(p.group_anti[g])
            if anti >= 0:
                bins.anti_bins[anti].discard(b)
        blocked = np.zeros(bins.n, bool)
        blocked[list(closed | {b})] = True
        for g, count in sorted(content.items(), key=lambda kv: -float(p.group_demand[kv[0]].max())):
            sig = p.group_sig[g]
            zm = np.empty(bins.n, dtype=np.int64)
            zm[: bins.kept] = np.where(p.sig_kept_ok[sig], -1, 0)
            zm[bins.kept :] = p.sig_offer_zmask[sig, bins.offer[bins.kept : bins.n]]
            if self._fill(g, count, 0, bins.n, zm, ~blocked):
                break
        else:
            bins.used[b] = 0.0
            bins.rem[b] = -1.0
            return True
        for g, t, k in reversed(self.journal):
            d = p.group_demand[g]
            bins.rem[t] += k * d
            bins.used[t] -= k * d
            del self.taken[g][len(self.taken[g]) - k :]
            anti = int(p.group_anti[g])
            if anti >= 0:
                bins.anti_bins[anti].discard(t)
        bins.zmask[:] = saved_zmask
        bins.rem[b], bins.used[b] = saved_rem_b, saved_used_b
        for g, count in content.items():
            self.taken[g].extend([b] * count)
            anti = int(p.group_anti[g])
            if anti >= 0:
                bins.anti_bins.setdefault(anti, set()).add(b)
        return False

    def _compact(self, closed: set[int]) -> None:
        bins = self.bins
        keep = np.array([i for i in range(bins.n) if i not in closed], dtype=np.int64)
        remap = {int(old): new for new, old in enumerate(keep)}
        bins.rem, bins.used = bins.rem[keep], bins.used[keep]
        bins.offer, bins.zmask = bins.offer[keep], bins.zmask[keep]
        bins.n = len(keep)
        self.taken = [[remap[b] for b in t] for t in self.taken]
        bins.anti_bins = {a: {remap[b] for b in s if b in remap} for a, s in bins.anti_bins.items()}

    def downsize(self) -> None:
        """Move each new node to the cheapest offering that all its pods allow and that holds them."""
        p, bins = self.p, self.bins
        members = self._bin_groups()
        for b in range(bins.kept, bins.n):
            groups = list(members.get(b, {}))
            if not groups:
                continue
            z = np.full(len(p.offer_price), -1, dtype=np.int64)
            for g in groups:
                z &= p.sig_offer_zmask[p.group_sig[g]]
            z &= p.offer_zmask
            ok = (z != 0) & (p.offer_cap >= bins.used[b] - EPS).all(axis=1)
            ok &= p.offer_price < p.offer_price[bins.offer[b]] - EPS
            if not ok.any():
                continue
            o = int(np.flatnonzero(ok)[np.argmin(p.offer_price[ok])])
            bins.offer[b] = o
            bins.zmask[b] = z[o]
            bins.rem[b] = p.offer_cap[o] - bins.used[b]

    def drop_empty(self) -> None:
        """Forget new nodes that hold no pod."""
        members = self._bin_groups()
        empty = {b for b in range(self.bins.kept, self.bins.n) if b not in members}
        if empty:
            self._compact(empty)

    def result(self) -> PackingResult:
        pod_bin: dict[int, int] = {}
        for g, bins in enumerate(self.taken):
            pods = self.p.group_pods[g]
            if len(bins) != len(pods):
                raise AssertionError(f"group {g}: {len(pods)} pods but {len(bins)} placements")
            for pod, b in zip(pods.tolist(), bins, strict=True):
                pod_bin[pod] = b
        n = self.bins.n
        return PackingResult(pod_bin, self.bins.offer[:n].copy(), self.bins.zmask[:n].copy(),
                             self.bins.used[:n].copy(), self.bins.kept)


def integer_shares(weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Split each row's count over the columns in proportion to weights (largest remainder)."""
    total = weights.sum(axis=1, keepdims=True)
    frac = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0) * counts[:, None]
    shares = np.floor(frac + 1e-9).astype(np.int64)
    short = counts - shares.sum(axis=1)
    rest = frac - shares
    for g in np.flatnonzero(short > 0):
        top = np.argsort(-rest[g])[: int(short[g])]
        shares[g, top] += 1
    return shares


def dominant_order(p: PackingInput) -> np.ndarray:
    """Groups by decreasing dominant share of the largest offering (the FFD order)."""
    scale = np.maximum(p.offer_cap.max(axis=0), EPS) if len(p.offer_cap) else np.ones(3)
    return np.argsort(-(p.group_demand / scale).max(axis=1), kind="stable")


def standalone_cost(p: PackingInput) -> np.ndarray:
    """(G,) what one pod costs on its cheapest offering when it fills its dominant resource exactly."""
    share = (p.group_demand[:, None, :] / np.maximum(p.offer_cap[None, :, :], EPS)).max(axis=2)
    cost = np.where(eligible_offers(p), p.offer_price[None, :] * share, np.inf)
    return np.where(np.isfinite(cost.min(axis=1)), cost.min(axis=1), 0.0)


def _offer_shares(packer: Packer, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Whole pods per offering from the relaxation's split; a group it leaves out gets its best offering."""
    p = packer.p
    weights = np.where(eligible_offers(p), weights, 0.0)
    for g in np.flatnonzero((weights.sum(axis=1) <= 0) & (counts > 0)):
        weights[g, packer.best_offer(int(g))] = 1.0
    return integer_shares(weights, counts)


def _fill_kept(p: PackingInput, guide: Guide | None, relax: Relax | None) -> tuple[Packer, np.ndarray, np.ndarray]:
    """Step 1 and 2: (packer with kept nodes filled, pods left per group, offering split for them).

    Two orders of worth are tried - the LP's dual prices and each pod's standalone cost (which favours
    pods that need pricey nodes, e.g. on-demand only, when the duals rate them like any other) - and
    the one whose leftover pods the LP can place more cheaply wins.
    """
    n_g = len(p.group_demand)
    share = guide.share if guide is not None else np.zeros((n_g, len(p.offer_price)))
    duals = guide.duals if guide is not None else np.zeros(n_g)
    best: tuple[float, Packer, np.ndarray, np.ndarray] | None = None
    for worth in (duals, standalone_cost(p)) if len(p.kept_rem) else ():
        packer, counts = Packer(p), p.counts
        if not packer.fill_kept_by_value(worth, counts) or relax is None or not counts.sum():
            best = best or (np.inf, packer, counts, share)
            continue
        rest = relax(p, counts, np.zeros_like(p.kept_rem))
        if best is None or rest.value < best[0]:
            best = (rest.value, packer, counts, rest.share)
    if best is None:
        return Packer(p), p.counts, share
    return best[1], best[2], best[3]


def pack_guided(p: PackingInput, guide: Guide | None, relax: Relax | None, sparse_limit: int = 64) -> PackingResult:
    """The guided heuristic (module docstring, steps 1-4) for one problem."""
    packer, counts, share = _fill_kept(p, guide, relax)
    packer.pack_offers(dominant_order(p), _offer_shares(packer, share, counts))
    packer.empty_sparse_bins(sparse_limit)
    packer.downsize()
    return packer.result()


def pack_split(p: PackingInput, share: np.ndarray, kept: np.ndarray | None, sparse_limit: int = 64) -> PackingResult:
    """Steps 3-4 for a given split: `kept[g]` pods of g onto kept nodes first (first fit, largest
    first; then what room is left, by standalone cost), the rest over the offerings as `share` says."""
    packer, counts = Packer(p), p.counts
    if kept is not None and len(p.kept_rem):
        want = np.minimum(np.round(kept).astype(np.int64), counts)
        for g in dominant_order(p):
            if want[g] > 0:
                allowed = p.sig_kept_ok[p.group_sig[g]]
                left = packer._fill(int(g), int(want[g]), 0, packer.bins.kept, np.int64(-1), allowed)
                counts[g] -= int(want[g]) - left
        packer.fill_kept_by_value(standalone_cost(p), counts)
    packer.pack_offers(dominant_order(p), _offer_shares(packer, share.copy(), counts))
    packer.empty_sparse_bins(sparse_limit)
    packer.downsize()
    return packer.result()


def realize_plan(p: PackingInput, plan: list[PlannedNode]) -> PackingResult | None:
    """Turn an exact plan (node contents) into placements; None when it does not hold every pod."""
    counts = p.counts
    packer = Packer(p)
    want = np.zeros(len(counts), dtype=np.int64)
    for node in plan:
        for g, k in node.counts.items():
            want[g] += k
    surplus = want - counts
    if (surplus < 0).any():
        return None
    for node in plan:
        if node.offer < 0:
            b = node.kept
        else:
            b = int(packer.bins.open(node.offer, 1, p.offer_cap[node.offer], node.zmask)[0])
        for g, k in node.counts.items():
            drop = min(k, int(surplus[g]))
            surplus[g] -= drop
            if k - drop > 0:
                packer._record(g, b, k - drop)
    if (packer.bins.rem[: packer.bins.n] < -1e-6).any():
        return None
    packer.drop_empty()
    packer.downsize()
    return packer.result()


def merge(p: PackingInput, parts: list[tuple[Island, PackingResult]]) -> PackingResult:
    """One result for the whole problem from per-island results (kept bins mapped back to their index)."""
    k_all = len(p.kept_rem)
    pod_bin: dict[int, int] = {}
    offers, zmasks, used = [np.full(k_all, -1, dtype=np.int64)], [p.kept_zmask.copy()], [np.zeros((k_all, 3))]
    next_bin = k_all
    for island, res in parts:
        remap = np.empty(len(res.bin_offer), dtype=np.int64)
        remap[: res.kept] = island.kept
        n_new = len(res.bin_offer) - res.kept
        remap[res.kept :] = next_bin + np.arange(n_new)
        next_bin += n_new
        used[0][island.kept] += res.bin_used[: res.kept]
        zmasks[0][island.kept] = res.bin_zmask[: res.kept]
        offers.append(res.bin_offer[res.kept :])
        zmasks.append(res.bin_zmask[res.kept :])
        used.append(res.bin_used[res.kept :])
        for pod, b in res.pod_bin.items():
            pod_bin[pod] = int(remap[b])
    return PackingResult(pod_bin, np.concatenate(offers), np.concatenate(zmasks), np.vstack(used), k_all)


def _best_of(q: PackingInput, guide: Guide | None, relax: Relax | None, plan: IslandPlan | None,
             sparse_limit: int = 64) -> PackingResult:
    """The cheapest of: the guided heuristic, the pattern model's plan, the guided heuristic steered by
    the aggregated model's whole pods per offering."""
    plan = plan or IslandPlan()
    candidates = [pack_guided(q, guide, relax, sparse_limit)]
    if plan.nodes is not None:
        candidates.append(realize_plan(q, plan.nodes))
    if plan.share is not None:
        candidates.append(pack_split(q, plan.share, plan.kept, sparse_limit))
    return min((c for c in candidates if c is not None), key=lambda r: r.new_cost(q.offer_price))


def _sub_problem(p: PackingInput, pods: list[int], group_of: dict[int, int]) -> PackingInput:
    """These pods as a problem of their own, with no kept nodes."""
    by_group: dict[int, list[int]] = {}
    for pod in pods:
        by_group.setdefault(group_of[pod], []).append(pod)
    g = np.array(sorted(by_group), dtype=np.int64)
    return replace(p, group_demand=p.group_demand[g], group_pods=[np.array(by_group[i]) for i in g.tolist()],
                   group_sig=p.group_sig[g], group_anti=p.group_anti[g],
                   sig_kept_ok=np.zeros((len(p.sig_kept_ok), 0), bool), kept_rem=np.zeros((0, 3)),
                   kept_zmask=np.zeros(0, dtype=np.int64))


def _wasteful(p: PackingInput, res: PackingResult, bins: list[int], k: int) -> list[int]:
    """The k new nodes wasting most: price times the unused share of their fuller resource."""
    offers = res.bin_offer[bins]
    fill = (res.bin_used[bins, :2] / np.maximum(p.offer_cap[offers, :2], EPS)).max(axis=1)
    order = np.argsort(-(p.offer_price[offers] * (1.0 - fill)), kind="stable")
    return [bins[i] for i in order[:k]]


def _splice(res: PackingResult, drop: list[int], fresh: PackingResult) -> PackingResult:
    """res without the nodes in drop, plus fresh's new nodes (fresh has no kept nodes)."""
    gone = set(drop)
    keep = np.array([b for b in range(len(res.bin_offer)) if b not in gone], dtype=np.int64)
    remap = {int(old): new for new, old in enumerate(keep)}
    pod_bin = {pod: remap[b] for pod, b in res.pod_bin.items() if b in remap}
    pod_bin.update({pod: len(keep) + b for pod, b in fresh.pod_bin.items()})
    return PackingResult(pod_bin, np.concatenate([res.bin_offer[keep], fresh.bin_offer]),
                         np.concatenate([res.bin_zmask[keep], fresh.bin_zmask]),
                         np.vstack([res.bin_used[keep], fresh.bin_used]), res.kept)


def repack_wasteful(p: PackingInput, res: PackingResult, relax: Relax | None,
                    rounds: int = REPACK_ROUNDS) -> PackingResult:
    """Large-neighbourhood search: pull the pods off the few new nodes that waste most, pack them afresh
    with the guided heuristic, keep the new nodes when they cost less.

    After a win the same number of nodes is tried again; after a loss, the next size; it stops when
    every size has failed in a row or after `rounds` rounds.
    """
    group_of = {pod: g for g, pods in enumerate(p.group_pods) for pod in pods.tolist()}
    failed = 0
    for _ in range(rounds):
        content: dict[int, list[int]] = {}
        for pod, b in res.pod_bin.items():
            content.setdefault(b, []).append(pod)
        new = [b for b in range(res.kept, len(res.bin_offer)) if b in content]
        if len(new) < 2 or failed >= len(REPACK_SIZES):
            break
        pick = _wasteful(p, res, new, REPACK_SIZES[failed])
        sub = _sub_problem(p, [pod for b in pick for pod in content[b]], group_of)
        guide = relax(sub, sub.counts, sub.kept_rem) if relax is not None else None
        fresh = pack_guided(sub, guide, relax)
        if fresh.new_cost(p.offer_price) < float(p.offer_price[res.bin_offer[pick]].sum()) - EPS:
            res = _splice(res, pick, fresh)
        else:
            failed += 1
    return res


def pack(p: PackingInput, guide: Guide | None, relax: Relax | None = None,
         plans: dict[int, IslandPlan] | None = None, sparse_limit: int = 64) -> PackingResult:
    """Pack every pod, island by island: the cheapest of the guided heuristic and the integer models'
    plans (_best_of), then repack the most wasteful nodes (repack_wasteful).

    Every pod is placed: a group is only given offerings whose empty node holds one of its pods.
    """
    parts = []
    for island in islands(p):
        q = restrict(p, island)
        g = island.groups
        sub = Guide(guide.share[g], guide.duals[g]) if guide is not None else None
        best = _best_of(q, sub, relax, (plans or {}).get(island.key), sparse_limit)
        parts.append((island, repack_wasteful(q, best, relax)))
    return merge(p, parts)
