"""Read a big fleet's snapshot lists on the machine's other cores while the plan works on the first ones.

Parsing a cluster's recorded lists (JSON decoding, checking, keeping them lean: `SnapshotCluster._load`) is most
of what a plan of many clusters spends per cluster, and one Python process runs it on one core. `prefetch`
hands each snapshot cluster to a worker process (forked, so it starts with the modules already imported) that
reads every list of the snapshot and sends them back pickled: a lean list whose replicas share their parts
pickles to a seventh of its JSON and unpickles about ten times faster than it parses. A source that needs a
list before its cluster came back waits for it (`SnapshotCluster._list`); a list a worker could not read is
read again in the plan's own process, which reports the problem as it always did.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from upgradectl.tools import parse_cache
from upgradectl.tools.cluster.sources import SnapshotCluster

# Fewer snapshot clusters read faster in the one process: each worker imports SciPy and solves the cost lower
# bound's models for itself (about 1 s of CPU), a cluster of 2,000 pods moves about 0.25 s of CPU to a worker
# (10 such clusters: 11.3 s of CPU with two workers against 9.2 s in one process, and no faster on a busy
# machine), and a few big clusters cost more to pickle across than the second core gains (3 of 50,000 pods:
# 33.8 s of CPU against 25.4 s)
PREFETCH_FROM = 16
WORKERS_ENV = "UPGRADECTL_READ_WORKERS"  # how many worker processes read snapshots; 0 reads in process


def read_workers(clusters: int) -> int:
    """How many worker processes read `clusters` snapshots: one per core (the plan's own process mostly waits
    for them while they read), none for fewer than PREFETCH_FROM or where fork is not available;
    `UPGRADECTL_READ_WORKERS` overrides (0: none)."""
    configured = os.environ.get(WORKERS_ENV, "").strip()
    if configured.isdigit():
        wanted = int(configured)
    elif clusters < PREFETCH_FROM:
        return 0
    else:
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return min(wanted, clusters)


@dataclass(frozen=True)
class Derived:
    """A fact a plan computes from one snapshot alone (a cluster's cost report), worked out by the worker that
    read the snapshot: `compute(source, *args)`, a module-level function, its result kept under `key`. A fact that
    costs more than reading it back (`kept_as`: its pydantic model) is kept in the parse cache for the next plan
    of the same recording (tools/parse_cache.py `read_derived`)."""

    key: tuple
    compute: Callable[..., Any]
    args: tuple = ()
    kept_as: type[BaseModel] | None = None

    @property
    def kept_kind(self) -> str:
        """Its name in the parse cache: the fact's key (its name and arguments)."""
        return f"fact\0{self.key!r}"

    def value(self, source: Any) -> Any:
        """The fact for this source: kept from an earlier plan of the same snapshot files and code, else computed
        (and kept when it reads back equal)."""
        if self.kept_as is None or not isinstance(source, SnapshotCluster):
            return self.compute(source, *self.args)
        kept = parse_cache.read_derived(source.path, self.kept_kind)
        if kept is not None:
            with suppress(ValidationError):  # an entry this model no longer reads: work it out again
                return self.kept_as.model_validate(kept)
        fact = self.compute(source, *self.args)
        data = fact.model_dump(mode="json")
        if self.kept_as.model_validate(data) == fact:
            parse_cache.write_derived(source.path, self.kept_kind, data)
        return fact


Lists = dict[tuple[str, str], list[dict[str, Any]]]


def _read_snapshot(path: str, name: str, derived: tuple[Derived, ...]) -> tuple[Lists, dict[tuple, Any]]:
    """Every list of one snapshot, read lean in a worker, and the facts asked for; a list that does not read
    and a fact that fails are left to the plan's own process, which reports them as it always does."""
    source = SnapshotCluster(Path(path), name=name)
    lists = {}
    for key in source._files:
        try:
            lists[key] = source._list(key)
        except Exception:  # the plan's own read of this list reports what is wrong with it
            continue
    facts = {}
    for fact in derived:
        try:
            facts[fact.key] = fact.value(source)
        except Exception:  # computed again in the plan's process, where the failure is reported
            continue
    return lists, facts


def prefetch(jobs: list[tuple[SnapshotCluster, tuple[Derived, ...]]], workers: int | None = None) -> None:
    """Start reading these snapshots' lists (and working out their facts) in worker processes; each source
    picks them up on first use. With no workers (a small fleet, `UPGRADECTL_READ_WORKERS=0`) nothing happens:
    lists are read on first use, facts computed when asked for."""
    todo = [(source, derived) for source, derived in jobs if source.prefetched is None]
    count = read_workers(len(todo)) if workers is None else min(workers, len(todo))
    if count <= 0:
        return
    pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("fork"))
    try:
        for source, derived in todo:
            future: Future = pool.submit(_read_snapshot, str(source.path), source.name, derived)
            source.prefetched = future
    finally:
        pool.shutdown(wait=False)  # the submitted reads finish; the workers exit after the last


def derived_fact(source: Any, key: tuple, compute: Callable[[], Any]) -> Any:
    """The fact a worker worked out for this source under `key` (handed over once), else `compute()`."""
    if isinstance(source, SnapshotCluster):
        source.take_prefetched()
        if key in source.facts:
            return source.facts.pop(key)
    return compute()


def forget_prefetched(sources: list[Any]) -> None:
    """Stop reading these snapshots in workers (those not started yet) and drop what was read for them: the plan
    will not use them (out of scope, or no plan at all). A list asked for later is read in the plan's process."""
    for source in sources:
        future = getattr(source, "prefetched", None)
        if isinstance(source, SnapshotCluster) and future is not None:
            future.cancel()
            source.prefetched = None
