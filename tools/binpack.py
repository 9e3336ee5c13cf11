"""Multi-resource bin packing for the consolidation simulation: pods onto the cheapest allowed nodes.

Pure numpy, no Kubernetes knowledge: tools/consolidation.py encodes pods, offerings and the nodes that
stay into arrays. Resources are three columns: CPU cores, memory GiB, pod slots.

The packer is first-fit-decreasing by dominant resource with per-node-shape bins, guided by the LP
relaxation (tools/lowerbound.py): the LP says how much of each pod group each offering should take;
each offering's share is then packed into bins of that shape, identical pods in runs and every fit
check vectorised over the open bins. Two clean-up passes follow: empty the least-filled new nodes into
others, then move each new node to the cheapest offering that still holds its pods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-9


@dataclass
class PackingInput:
    """Everything the packer needs, as arrays. G groups of identical pods, O offerings, K kept nodes."""

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


@dataclass
class PackingResult:
    """Bins 0..K-1 are the kept nodes; K.. are new nodes of bin_offer's offering in bin_zone."""

    pod_bin: dict[int, int]  # pod index -> bin
    bin_offer: np.ndarray  # (B,) offering index, -1 for kept nodes
    bin_zmask: np.ndarray  # (B,) remaining zone choices (new bins: pick any set bit)
    bin_used: np.ndarray  # (B, 3) requested by the moved pods
    kept: int

    @property
    def new_bins(self) -> np.ndarray:
        return np.arange(self.kept, len(self.bin_offer))

    def new_cost(self, price: np.ndarray) -> float:
        offers = self.bin_offer[self.kept :]
        return float(price[offers].sum()) if len(offers) else 0.0


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
        self.members: dict[int, list[tuple[int, int]]] = {}  # bin -> [(group, count)] for new bins

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
        self.offer[lo : self.n] = offer
        self.zmask[lo : self.n] = zmask
        return np.arange(lo, self.n)


def _max_fit(rem: np.ndarray, d: np.ndarray) -> int:
    """How many pods of demand d fit into remaining room rem."""
    need = d > 0
    if not need.any():
        return 1 << 30
    return int(np.floor((rem[need] + EPS) / d[need]).min())


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

    def _open_for(self, g: int, count: int, offer: int) -> None:
        p, bins = self.p, self.bins
        d = p.group_demand[g]
        cap = p.offer_cap[offer]
        per_bin = max(1, min(_max_fit(cap, d), 1 if p.group_anti[g] >= 0 else count))
        n_bins = -(-count // per_bin)
        zmask = int(p.sig_offer_zmask[p.group_sig[g], offer] & p.offer_zmask[offer])
        opened = bins.open(offer, n_bins, cap, zmask)
        for i, b in enumerate(opened):
            k = min(per_bin, count - i * per_bin)
            self._record(g, int(b), k)

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

    def fill_kept(self, order: np.ndarray, counts: np.ndarray) -> None:
        """Use the room on nodes that stay first: it is already paid for."""
        p = self.p
        k = self.bins.kept
        if k == 0:
            return
        for g in order:
            if counts[g] == 0:
                continue
            allowed = p.sig_kept_ok[p.group_sig[g]]
            if not allowed.any():
                continue
            left = self._fill(g, int(counts[g]), 0, k, np.int64(-1), allowed)
            counts[g] = left

    def pack_offers(self, order: np.ndarray, share: np.ndarray) -> None:
        """share (G, O) pod counts per offering: fill one node of each offering shape at a time."""
        for o in np.flatnonzero(share.sum(axis=0)):
            groups = np.array([g for g in order if share[g, o] > 0], dtype=np.int64)
            self._fill_offer(int(o), groups, share[groups, o].astype(np.int64))

    def _fill_offer(self, o: int, groups: np.ndarray, counts: np.ndarray) -> None:
        """Open nodes of offering o and fill each by dot product: the pod group whose normalised demand
        best matches the node's remaining room goes next (half of what fits, then look again), which
        keeps CPU and memory filling together instead of one running out while the other idles."""
        p, bins = self.p, self.bins
        cap = np.maximum(p.offer_cap[o], EPS)
        norm = p.group_demand[groups] / cap
        zms = p.sig_offer_zmask[p.group_sig[groups], o]
        anti = p.group_anti[groups] >= 0
        counts = counts.copy()
        while counts.sum() > 0:
            live = np.flatnonzero(counts > 0)
            first = live[0]
            b = int(bins.open(o, 1, p.offer_cap[o], int(zms[first] & p.offer_zmask[o]))[0])
            rem = np.ones(3)
            banned = np.zeros(len(groups), bool)
            while True:
                fits = (counts > 0) & ~banned & (norm <= rem + EPS).all(axis=1) & ((zms & bins.zmask[b]) != 0)
                if not fits.any():
                    break
                score = np.where(fits, norm @ rem, -1.0)
                i = int(np.argmax(score))
                need = norm[i] > 0
                most = int(np.floor((rem[need] + EPS) / norm[i][need]).min()) if need.any() else int(counts[i])
                k = 1 if anti[i] else max(1, min(int(counts[i]), most // 2 if most > 1 else 1))
                g = int(groups[i])
                bins.zmask[b] &= zms[i]
                self._record(g, b, k)
                rem = rem - k * norm[i]
                counts[i] -= k
                if anti[i]:
                    banned[i] = True

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
            content = members.get(b, {})
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
            moved_all = True
            for g, count in sorted(content.items(), key=lambda kv: -float(p.group_demand[kv[0]].max())):
                sig = p.group_sig[g]
                zm = np.empty(bins.n, dtype=np.int64)
                zm[: bins.kept] = np.where(p.sig_kept_ok[sig], -1, 0)
                zm[bins.kept :] = p.sig_offer_zmask[sig, bins.offer[bins.kept : bins.n]]
                if self._fill(g, count, 0, bins.n, zm, ~blocked):
                    moved_all = False
                    break
            if moved_all:
                closed.add(b)
                touched.update(t for _, t, _ in self.journal)
                bins.used[b] = 0.0
                bins.rem[b] = -1.0
            else:
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
            self.journal = None
        if closed:
            self._compact(closed)

    def _compact(self, closed: set[int]) -> None:
        bins = self.bins
        keep = np.array([i for i in range(bins.n) if i not in closed])
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


def pack(p: PackingInput, lp_share: np.ndarray | None, sparse_limit: int = 64) -> PackingResult:
    """Pack every group: room on kept nodes first, then the LP's split over offerings (or each group's
    best offering), then the clean-up passes. Every pod is placed: a group is only given offerings
    whose empty node holds one of its pods."""
    order = dominant_order(p)
    counts = np.array([len(x) for x in p.group_pods], dtype=np.int64)
    packer = Packer(p)
    packer.fill_kept(order, counts)
    weights = np.zeros((len(counts), len(p.offer_price)))
    if lp_share is not None:
        weights[:] = lp_share
    eligible = p.sig_offer_zmask[p.group_sig] != 0
    weights = np.where(eligible, weights, 0.0)
    for g in np.flatnonzero((weights.sum(axis=1) <= 0) & (counts > 0)):
        weights[g, packer.best_offer(int(g))] = 1.0
    share = integer_shares(weights, counts)
    packer.pack_offers(order, share)
    packer.empty_sparse_bins(sparse_limit)
    packer.downsize()
    return packer.result()
