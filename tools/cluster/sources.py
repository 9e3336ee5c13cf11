"""Cluster sources: the one read-only interface agents use to see a cluster.

`SnapshotCluster` reads a recorded snapshot directory (docs/snapshot-format.md). A live source
answers the same methods. There is deliberately no method that writes.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from upgradectl.tools import parse_cache, yamlio
from upgradectl.tools.helm import HELM_SECRET_TYPE, HelmRelease, UnreadableRelease, read_releases
from upgradectl.tools.textfiles import json_problem, load_yaml_file, parse_json, parse_yaml, read_text, type_name


class SourceError(RuntimeError):
    """A cluster source could not answer; the message says which cluster and why."""


@dataclass(frozen=True)
class ResourceType:
    """One served resource: group/version, plural, kind, and scope."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class ClusterSource(Protocol):
    """What every cluster source answers. All reads; nothing here can change a cluster."""

    name: str

    def server_version(self) -> dict[str, Any]: ...

    def resource_types(self) -> list[ResourceType]: ...

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]: ...

    def objects_of_kind(self, kind: str, group: str | None = None) -> list[dict[str, Any]]: ...

    def helm_releases(self) -> list[HelmRelease]: ...

    def unreadable_helm_releases(self) -> list[UnreadableRelease]: ...

    def observed_at(self) -> datetime: ...


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


_K8S_CORE = re.compile(r"^\d{1,4}\.\d{1,4}(?:\.\d{1,6})?$")


def kubernetes_version(server_version: dict[str, Any]) -> str:
    """'v1.29.6-eks-1552ad0' -> '1.29.6'; SourceError when neither gitVersion nor major/minor is one."""
    if not isinstance(server_version, dict):
        raise SourceError(f"server version is {type_name(server_version)}, not a mapping with gitVersion")
    git = str(server_version.get("gitVersion", "")).lstrip("v")
    core = git.split("-", 1)[0].split("+", 1)[0]
    if _K8S_CORE.match(core):
        return core if core.count(".") == 2 else f"{core}.0"
    major = str(server_version.get("major", "")).rstrip("+")
    minor = str(server_version.get("minor", "")).rstrip("+")
    if not (major.isdigit() and minor.isdigit()):
        raise SourceError(
            "server version has no usable gitVersion (like v1.29.6) or numeric major/minor; "
            "re-record the snapshot or check the API server's /version"
        )
    return f"{major}.{minor}.0"


class SnapshotCluster:
    """A recorded cluster read from a snapshot directory."""

    def __init__(self, path: Path, name: str | None = None):
        self.path = Path(path)
        meta_file = self.path / "cluster.yaml"
        if not meta_file.is_file():
            raise SourceError(
                f"{self.path} is not a snapshot: {meta_file} is missing "
                "(record one with `upgradectl snapshot --context C --out DIR`)"
            )
        meta = load_yaml_file(meta_file, "snapshot file", SourceError)
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise SourceError(
                f"snapshot file {meta_file} is {type_name(meta)}, not a mapping with name, server_version and "
                "recorded_at (see docs/snapshot-format.md)"
            )
        self.meta: dict[str, Any] = meta
        self._reading = threading.Lock()
        self.prefetched: Future | None = None  # this snapshot's lists, read by a worker (cluster/prefetch.py)
        self.facts: dict[tuple, Any] = {}  # what that worker worked out from them (prefetch.derived_fact)
        self.name = name or str(self.meta.get("name") or self.path.name)
        self._recorded_at = self._read_recorded_at(meta_file)

    def __repr__(self) -> str:
        return f"SnapshotCluster({self.name!r}, {str(self.path)!r})"

    def server_version(self) -> dict[str, Any]:
        version = self.meta.get("server_version")
        if not version:
            raise SourceError(f"{self.path / 'cluster.yaml'} has no server_version block")
        if not isinstance(version, dict):
            raise SourceError(
                f"{self.path / 'cluster.yaml'}: server_version is {type_name(version)}; it must be the API server's "
                "/version mapping (gitVersion: v1.29.6, major: '1', minor: '29')"
            )
        try:
            kubernetes_version(version)
        except SourceError as exc:
            raise SourceError(f"{self.path / 'cluster.yaml'}: {exc}") from None
        return dict(version)

    @cached_property
    def _files(self) -> dict[tuple[str, str], Path]:
        """(api_version, plural) -> file, for every recorded resource list."""
        found: dict[tuple[str, str], Path] = {}
        root = self.path / "resources"
        if not root.is_dir():
            return found
        for file in sorted(root.glob("**/*")):
            if file.suffix not in (".yaml", ".yml", ".json") or not file.is_file():
                continue
            rel = file.relative_to(root).parts
            if len(rel) != 3:
                continue
            group, version, name = rel
            api_version = version if group == "core" else f"{group}/{version}"
            found[(api_version, Path(name).stem)] = file
        return found

    def _load(self, file: Path) -> list[dict[str, Any]]:
        """One List file's items, each checked (`_checked_object`) and kept lean (see `lean`); big lists keep
        repeated values once (Shared), and big JSON lists are decoded item by item, so 50,000 pods never exist in
        memory parsed whole and lean at once."""
        if file.suffix != ".json":
            with yamlio.bulk_parse():
                cached = parse_cache.read(file, "snapshot-list")
            if isinstance(cached, list):
                return cached  # checked and kept lean before: the JSON copy reads ~30x faster than the YAML
        text = read_text(file, "snapshot list", SourceError, max_bytes=MAX_LIST_BYTES)
        shared = Shared() if len(text) >= SHARE_STRINGS_FROM else None
        try:
            items = self._items(file, text, shared)
        finally:
            if shared is not None:
                shared.release()
        if file.suffix != ".json":
            parse_cache.write(file, "snapshot-list", items)
        return items

    def _items(self, file: Path, text: str, shared: Shared | None) -> list[dict[str, Any]]:
        def keep(item: Any, index: int) -> dict[str, Any]:
            return lean(_checked_object(item, file, index), shared)

        with yamlio.bulk_parse():
            if file.suffix == ".json" and shared is not None:
                try:
                    items = _json_list_items(text, keep)
                except json.JSONDecodeError as exc:
                    raise SourceError(
                        f"snapshot list {file} is not valid JSON ({json_problem(exc)}); re-record it"
                    ) from None
                except RecursionError:
                    raise SourceError(f"snapshot list {file} nests too deeply to be a snapshot list") from None
                if items is None:
                    raise SourceError(f"snapshot list {file}: expected a List document with an items list")
                return items
            parse = parse_json if file.suffix == ".json" else parse_yaml
            doc = parse(text, file, "snapshot list", SourceError)
            if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
                raise SourceError(f"snapshot list {file}: expected a List document with an items list")
            return [keep(item, index) for index, item in enumerate(doc.get("items") or [])]

    def _list(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        """One recorded resource list, read on first use (a plan reads a fraction of a snapshot); agents that
        ask for the same list at the same time wait for one read instead of each parsing it."""
        if key not in self._cache and self.prefetched is not None:
            self.take_prefetched()
        if key not in self._cache:
            with self._reading:
                lock = self._list_locks.setdefault(key, threading.Lock())
            with lock:
                if key not in self._cache:
                    self._cache[key] = self._load(self._files[key])
        return self._cache[key]

    def take_prefetched(self) -> None:
        """The lists (and facts) a worker process read for this snapshot, once it sent them; a worker that
        failed leaves every list to be read here."""
        future = self.prefetched
        if future is None:
            return
        try:
            lists, facts = future.result()
        except Exception:  # a worker that died (out of memory, killed): the lists are read in this process
            lists, facts = {}, {}
        with self._reading:
            if self.prefetched is None:  # another thread took them first
                return
            for key, items in lists.items():
                self._cache.setdefault(key, items)
            self.facts.update(facts)
            self.prefetched = None

    def release(self) -> None:
        """Drop the lists read so far (a big fleet's are most of a plan's memory); any asked for again is re-read."""
        with self._reading:
            self._cache.clear()
            self.facts.clear()

    @cached_property
    def _list_locks(self) -> dict[tuple[str, str], threading.Lock]:
        return {}

    @cached_property
    def _cache(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        return {}

    @cached_property
    def _crd_scopes(self) -> dict[tuple[str, str], tuple[str, bool]]:
        """(group, kind) -> (plural, namespaced) from recorded CRDs."""
        scopes = {}
        key = ("apiextensions.k8s.io/v1", "customresourcedefinitions")
        for crd in self._list(key) if key in self._files else []:
            spec = crd.get("spec") or {}
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            scopes[(spec.get("group", ""), names.get("kind", ""))] = (
                names.get("plural", ""),
                spec.get("scope") == "Namespaced",
            )
        return scopes

    def _plurals_for(self, kind: str) -> set[str]:
        """File names (plurals) that can hold a kind: from recorded CRDs, else from the kind's spelling (worked
        out once per kind: agents ask for every cluster's objects of a kind many times)."""
        plurals = self._plurals.get(kind)
        if plurals is None:
            spellings = _plural_spellings(kind)
            plurals = {plural for (_group, k), (plural, _ns) in self._crd_scopes.items() if k == kind}
            plurals.update(p for (_v, p) in self._files if p in spellings)
            self._plurals[kind] = plurals
        return plurals

    @cached_property
    def _plurals(self) -> dict[str, set[str]]:
        return {}

    def resource_types(self) -> list[ResourceType]:
        types = []
        for api_version, plural in self._files:
            items = self._list((api_version, plural))
            group, version = split_api_version(api_version)
            kind = items[0].get("kind", "") if items else ""
            namespaced = bool(items and items[0].get("metadata", {}).get("namespace"))
            crd = next((v for (g, k), v in self._crd_scopes.items() if g == group and v[0] == plural), None)
            if crd:
                namespaced = crd[1]
                kind = kind or next(k for (g, k), v in self._crd_scopes.items() if g == group and v[0] == plural)
            types.append(ResourceType(group, version, plural, kind or _kind_from_plural(plural), namespaced))
        return types

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every recorded object of this apiVersion and kind (optionally in one namespace)."""
        plurals = self._plurals_for(kind)
        result = []
        for key in self._files:
            if key[0] != api_version or (plurals and key[1] not in plurals):
                continue
            for item in self._list(key):
                if item.get("kind") != kind:
                    continue
                if namespace is not None and item.get("metadata", {}).get("namespace") != namespace:
                    continue
                result.append(item)
        return result

    def objects_of_kind(self, kind: str, group: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind at whatever version they were recorded (optionally one API group)."""
        plurals = self._plurals_for(kind)
        result = []
        for key in self._files:
            api_version, plural = key
            if plurals and plural not in plurals:
                continue
            if group is not None and split_api_version(api_version)[0] != group:
                continue
            result.extend(item for item in self._list(key) if item.get("kind") == kind)
        return result

    def helm_releases(self) -> list[HelmRelease]:
        return self._releases[0]

    def unreadable_helm_releases(self) -> list[UnreadableRelease]:
        """Release secrets in the snapshot that could not be decoded (not checked, so a plan says so)."""
        return self._releases[1]

    @cached_property
    def _releases(self) -> tuple[list[HelmRelease], list[UnreadableRelease]]:
        return read_releases([s for s in self.objects("v1", "Secret") if s.get("type") == HELM_SECRET_TYPE])

    def observed_at(self) -> datetime:
        """When the snapshot was recorded (ages of pods and jobs are measured from here)."""
        return self._recorded_at or datetime.now(UTC)

    def _read_recorded_at(self, meta_file: Path) -> datetime | None:
        raw = self.meta.get("recorded_at")
        if not raw:
            return None
        try:
            value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            raise SourceError(
                f"{meta_file}: recorded_at is not a date and time; write it as ISO 8601, e.g. 2026-11-20T09:00:00Z"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def metrics_files(self) -> list[Path]:
        """Recorded metric sample files (JSON lines), if any."""
        root = self.path / "metrics"
        return sorted(root.glob("*.jsonl")) if root.is_dir() else []


# Status fields upgradectl reads of the two kinds a big cluster has thousands of; the rest of their status
# (IPs, container IDs, running/terminated states, conditions other than Ready; node image lists) is dropped
# when a list is loaded: it is half of what 50,000 parsed pods take. The LLM tools show a pod's phase, start
# time and each container's name, readiness and restarts; fleet health (tools/cluster/health.py) reads the
# Ready condition and why a container is waiting (CrashLoopBackOff). `serve-snapshot` serves the files whole.
LEAN_STATUS: dict[str, tuple[str, ...]] = {
    "Pod": ("phase", "startTime", "conditions", "initContainerStatuses", "containerStatuses")
}
LEAN_CONTAINER_STATUS = ("name", "ready", "restartCount")
LEAN_POD_CONDITION = ("type", "status", "reason")  # of the Ready condition only
DROPPED_NODE_STATUS = ("images",)
SHARE_STRINGS_FROM = 256 * 2**10  # characters: lists this big keep one copy of each repeated value (Shared)
MAX_LIST_BYTES = 2 * 2**30  # a recorded list of a big cluster (50,000 pods) runs to hundreds of MB
_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_DECODER = json.JSONDecoder()


_LIST = object()  # marks a list's key in Shared (a dict's key is its keys, then its values' identities)


class Shared:
    """One copy of each repeated value of a big list: strings, and the specs, labels, annotations and owner
    references that the replicas of one workload repeat (read-only, like everything a source returns).

    `copy(value)` shares the strings; `one(value)` also makes two equal dicts (same keys in the same order) or
    lists the same object, found by the identities of their already-shared parts (built bottom-up); `part(value)`
    is `one` that first looks the whole value up by its repr (C code, which tells 1 from 1.0, True and '1'), so
    a replica's spec part seen before costs one repr instead of a walk over it."""

    def __init__(self) -> None:
        strings: dict[str, str] = {}
        values: dict[tuple, Any] = {}
        parts: dict[str, Any] = {}
        string, value = strings.setdefault, values.setdefault  # bound once: these run millions of times

        def copy(v: Any) -> Any:
            kind = type(v)
            if kind is str:
                return string(v, v)
            if kind is dict:
                return {string(k, k) if type(k) is str else k: copy(x) for k, x in v.items()}
            if kind is list:
                return [copy(x) for x in v]
            return v

        def one(v: Any) -> Any:
            kind = type(v)
            if kind is str:
                return string(v, v)
            if kind is dict:
                built = {string(k, k) if type(k) is str else k: one(x) for k, x in v.items()}
                return value((*built, *map(id, built.values())), built)
            if kind is list:
                items = [one(x) for x in v]
                return value((_LIST, *map(id, items)), items)
            return v

        def part(v: Any) -> Any:
            kind = type(v)
            if kind is not dict and kind is not list:
                return one(v)
            key = repr(v)
            found = parts.get(key)
            if found is None:
                found = parts[key] = one(v)
            return found

        self.string = lambda v: string(v, v)
        self.copy = copy
        self.one = one
        self.part = part
        self.release = lambda: (strings.clear(), values.clear(), parts.clear())  # the closures form a cycle


SHARED_METADATA_PARTS = ("labels", "annotations", "ownerReferences")


def _lean_container(status: Any) -> Any:
    """A container status with its name, readiness and restarts, and the reason it is waiting (if it is)."""
    if not isinstance(status, dict):
        return status
    kept = {k: status[k] for k in LEAN_CONTAINER_STATUS if k in status}
    waiting = (status.get("state") or {}).get("waiting") if isinstance(status.get("state"), dict) else None
    if isinstance(waiting, dict) and waiting.get("reason"):
        kept["state"] = {"waiting": {"reason": waiting["reason"]}}
    return kept


def lean(item: Any, shared: Shared | None = None) -> Any:
    """A recorded object as upgradectl keeps it: pods without the status fields nobody reads, nodes without
    their image lists; with `shared`, repeated strings and the parts replicas repeat (each part of the spec,
    labels, annotations, owner references) are one object (see Shared)."""
    if isinstance(item, dict):
        kind = item.get("kind")
        status = item.get("status")
        if kind == "Pod" and isinstance(status, dict):
            kept = {k: status[k] for k in LEAN_STATUS["Pod"] if k in status}
            for key in ("initContainerStatuses", "containerStatuses"):
                if isinstance(kept.get(key), list):
                    kept[key] = [_lean_container(c) for c in kept[key]]
            if isinstance(kept.get("conditions"), list):
                kept["conditions"] = [
                    {k: c[k] for k in LEAN_POD_CONDITION if k in c}
                    for c in kept["conditions"]
                    if isinstance(c, dict) and c.get("type") == "Ready"
                ]
            item = {**item, "status": kept}
        elif kind == "Node" and isinstance(status, dict) and any(k in status for k in DROPPED_NODE_STATUS):
            item = {**item, "status": {k: v for k, v in status.items() if k not in DROPPED_NODE_STATUS}}
    if shared is None or not isinstance(item, dict):
        return item if shared is None else shared.copy(item)
    out = {}
    for key, value in item.items():
        if key == "spec" and isinstance(value, dict):
            value = {shared.string(k): shared.part(v) for k, v in value.items()}
        elif key == "metadata" and isinstance(value, dict):
            value = {shared.string(k): shared.part(v) if k in SHARED_METADATA_PARTS else shared.copy(v)
                     for k, v in value.items()}
        elif key == "status" and isinstance(value, dict):  # replicas' conditions and container states repeat
            value = {shared.string(k): shared.part(v) for k, v in value.items()}
        else:
            value = shared.copy(value)
        out[shared.string(key)] = value
    return out


def _json_list_items(text: str, keep: Callable[[Any, int], Any]) -> list[Any] | None:
    """The items of a JSON List document, each passed through `keep(item, index)` as soon as it is decoded;
    None when the document is not an object or its `items` is not a list. Raises json.JSONDecodeError for text
    that is not JSON."""
    at = _JSON_WS.match(text, 0).end()
    if not text.startswith("{", at):
        _JSON_DECODER.decode(text)  # not JSON at all raises here; a JSON scalar or array is not a List
        return None
    items: list[Any] = []
    at = _JSON_WS.match(text, at + 1).end()
    first = True
    while not text.startswith("}", at):
        if not first:
            if not text.startswith(",", at):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = _JSON_WS.match(text, at + 1).end()
        first = False
        key, at = _JSON_DECODER.raw_decode(text, at)
        at = _JSON_WS.match(text, at).end()
        if not isinstance(key, str) or not text.startswith(":", at):
            raise json.JSONDecodeError("Expecting property name and ':'", text, at)
        at = _JSON_WS.match(text, at + 1).end()
        if key == "items" and text.startswith("[", at):
            items, at = _json_array(text, at, keep)
        else:
            value, at = _JSON_DECODER.raw_decode(text, at)
            if key == "items":
                if not isinstance(value, list):
                    return None
                items = [keep(v, index) for index, v in enumerate(value)]
        at = _JSON_WS.match(text, at).end()
    if _JSON_WS.match(text, at + 1).end() != len(text):
        raise json.JSONDecodeError("Extra data", text, at + 1)
    return items


def _json_array(text: str, at: int, keep: Callable[[Any, int], Any]) -> tuple[list[Any], int]:
    """The elements of the JSON array starting at `at` ('['), each through `keep`, and the index after its ']'."""
    out: list[Any] = []
    at = _JSON_WS.match(text, at + 1).end()
    while not text.startswith("]", at):
        if out:
            if not text.startswith(",", at):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = _JSON_WS.match(text, at + 1).end()
        value, at = _JSON_DECODER.raw_decode(text, at)
        out.append(keep(value, len(out)))
        at = _JSON_WS.match(text, at).end()
    return out, at + 1


@dataclass(frozen=True)
class RecordedSeries:
    """One line of a snapshot's metrics/*.jsonl (VictoriaMetrics' /api/v1/export format)."""

    metric: dict[str, str]
    values: list[float]
    timestamps: list[float]

    @property
    def name(self) -> str:
        return self.metric.get("__name__", "")


def recorded_series(file: Path) -> Iterator[RecordedSeries]:
    """Every series of a recorded metrics file; SourceError naming the file and line of one that is not
    `{"metric": {...}, "values": [...], "timestamps": [...]}` (numbers, NaN as null or "NaN")."""
    text = read_text(file, "recorded metrics file", SourceError)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise SourceError(f"recorded metrics file {file}, line {number}: not a JSON object; re-record it") from None
        metric = raw.get("metric") if isinstance(raw, dict) else None
        values = raw.get("values", []) if isinstance(raw, dict) else None
        stamps = raw.get("timestamps", []) if isinstance(raw, dict) else None
        if not isinstance(metric, dict) or not isinstance(values, list) or not isinstance(stamps, list):
            raise SourceError(
                f"recorded metrics file {file}, line {number}: expected metric (a mapping), values and timestamps "
                "(lists), as /api/v1/export writes them"
            )
        try:
            numbers = [math.nan if v is None else float(v) for v in values]
            times = [float(t) for t in stamps]
        except (TypeError, ValueError):
            raise SourceError(
                f"recorded metrics file {file}, line {number}: values and timestamps must be numbers"
            ) from None
        yield RecordedSeries({str(k): str(v) for k, v in metric.items()}, numbers, times)


_MAPPING_FIELDS = ("metadata", "spec", "status", "data", "stringData")


def _checked_object(item: Any, file: Path, index: int) -> dict[str, Any]:
    """A recorded object as every reader may assume it: a mapping with metadata.name, whose metadata, spec,
    status and data are mappings (null spec/status/data are dropped, as the API server omits empty fields);
    SourceError naming the file and item for anything else."""
    if not isinstance(item, dict):
        raise SourceError(f"snapshot list {file}: items[{index}] is {type_name(item)}, not an object; re-record it")
    nulls = [key for key in _MAPPING_FIELDS if key in item and item[key] is None]
    for key in _MAPPING_FIELDS:
        if key in item and item[key] is not None and not isinstance(item[key], dict):
            raise SourceError(
                f"snapshot list {file}: items[{index}].{key} is {type_name(item[key])}, not a mapping; re-record it"
            )
    meta = item.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise SourceError(
            f"snapshot list {file}: items[{index}] has no metadata.name (every Kubernetes object has one); re-record it"
        )
    for key in ("labels", "annotations"):
        if isinstance(meta, dict) and meta.get(key) is not None and not isinstance(meta[key], dict):
            raise SourceError(
                f"snapshot list {file}: items[{index}].metadata.{key} is {type_name(meta[key])}, not a mapping"
            )
    return {k: v for k, v in item.items() if k not in nulls} if nulls else item


def _plural_spellings(kind: str) -> set[str]:
    """How Kubernetes pluralises a kind: Pod -> pods, Ingress -> ingresses, Policy -> policies."""
    k = kind.lower()
    spellings = {k + "s", k + "es", k}
    if k.endswith("y"):
        spellings.add(k[:-1] + "ies")
    return spellings


def _kind_from_plural(plural: str) -> str:
    """Best-effort kind for an empty list of a built-in type ('nodes' -> 'Node')."""
    special = {"endpoints": "Endpoints", "ingresses": "Ingress", "storageclasses": "StorageClass"}
    if plural in special:
        return special[plural]
    stem = plural[:-3] + "y" if plural.endswith("ies") else plural.rstrip("s")
    return stem[:1].upper() + stem[1:]
