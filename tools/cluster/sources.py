"""Cluster sources: the one read-only interface agents use to see a cluster.

`SnapshotCluster` reads a recorded snapshot directory (docs/snapshot-format.md). A live source
answers the same methods. There is deliberately no method that writes.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import yaml

from upgradectl.tools import parse_cache, yamlio
from upgradectl.tools.helm import HELM_SECRET_TYPE, HelmRelease, current_releases


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

    def observed_at(self) -> datetime: ...


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def kubernetes_version(server_version: dict[str, Any]) -> str:
    """'v1.29.6-eks-1552ad0' -> '1.29.6'."""
    git = str(server_version.get("gitVersion", "")).lstrip("v")
    core = git.split("-", 1)[0].split("+", 1)[0]
    if core.count(".") >= 1:
        return core
    major = str(server_version.get("major", "")).rstrip("+")
    minor = str(server_version.get("minor", "")).rstrip("+")
    if not (major and minor):
        raise SourceError(f"server version has no usable gitVersion or major/minor: {server_version}")
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
        self.meta: dict[str, Any] = yamlio.load(meta_file.read_text()) or {}
        self._reading = threading.Lock()
        self.name = name or self.meta.get("name") or self.path.name

    def __repr__(self) -> str:
        return f"SnapshotCluster({self.name!r}, {str(self.path)!r})"

    def server_version(self) -> dict[str, Any]:
        version = self.meta.get("server_version")
        if not version:
            raise SourceError(f"{self.path / 'cluster.yaml'} has no server_version block")
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
        """One List file's items, kept lean (see `lean`); big lists keep repeated values once (Shared), and big
        JSON lists are decoded item by item, so 50,000 pods never exist in memory parsed whole and lean at once."""
        if file.suffix != ".json":
            with yamlio.bulk_parse():
                cached = parse_cache.read(file, "snapshot-list")
            if isinstance(cached, list):
                return cached  # parsed and kept lean before: the JSON copy reads ~30x faster than the YAML
        text = file.read_text()
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
        try:
            with yamlio.bulk_parse():
                if file.suffix == ".json" and shared is not None:
                    items = _json_list_items(text, shared)
                else:
                    doc = json.loads(text) if file.suffix == ".json" else yamlio.load(text)
                    if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
                        items = None
                    else:
                        items = [lean(item, shared) for item in doc.get("items") or []]
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise SourceError(f"{file}: not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {exc}") from exc
        if items is None:
            raise SourceError(f"{file}: expected a List document with an items list")
        return items

    def _list(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        """One recorded resource list, read on first use (a plan reads a fraction of a snapshot); agents that
        ask for the same list at the same time wait for one read instead of each parsing it."""
        if key not in self._cache:
            with self._reading:
                lock = self._list_locks.setdefault(key, threading.Lock())
            with lock:
                if key not in self._cache:
                    self._cache[key] = self._load(self._files[key])
        return self._cache[key]

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
            spec = crd.get("spec", {})
            names = spec.get("names", {})
            scopes[(spec.get("group", ""), names.get("kind", ""))] = (
                names.get("plural", ""),
                spec.get("scope") == "Namespaced",
            )
        return scopes

    def _plurals_for(self, kind: str) -> set[str]:
        """File names (plurals) that can hold a kind: from recorded CRDs, else from the kind's spelling."""
        plurals = {plural for (_group, k), (plural, _ns) in self._crd_scopes.items() if k == kind}
        plurals.update(p for (_v, p) in self._files if p in _plural_spellings(kind))
        return plurals

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
        secrets = [s for s in self.objects("v1", "Secret") if s.get("type") == HELM_SECRET_TYPE]
        return current_releases(secrets)

    def observed_at(self) -> datetime:
        """When the snapshot was recorded (ages of pods and jobs are measured from here)."""
        raw = self.meta.get("recorded_at")
        if not raw:
            return datetime.now(UTC)
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def metrics_files(self) -> list[Path]:
        """Recorded metric sample files (JSON lines), if any."""
        root = self.path / "metrics"
        return sorted(root.glob("*.jsonl")) if root.is_dir() else []


# Status fields upgradectl reads of the two kinds a big cluster has thousands of; the rest of their status
# (pod conditions, IPs, container IDs and states; node image lists) is dropped when a list is loaded: it is
# half of what 50,000 parsed pods take. The LLM tools show a pod's phase, start time and each container's
# name, readiness and restarts, exactly these. `serve-snapshot` reads the files itself and serves them whole.
LEAN_STATUS: dict[str, tuple[str, ...]] = {"Pod": ("phase", "startTime", "containerStatuses")}
LEAN_CONTAINER_STATUS = ("name", "ready", "restartCount")
DROPPED_NODE_STATUS = ("images",)
SHARE_STRINGS_FROM = 4 * 2**20  # characters: lists this big keep one copy of each repeated value (Shared)
_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_DECODER = json.JSONDecoder()


_LIST = object()  # marks a list's key in Shared (a dict's key is its keys, then its values' identities)


class Shared:
    """One copy of each repeated value of a big list: strings, and the specs, labels, annotations and owner
    references that the replicas of one workload repeat (read-only, like everything a source returns).

    `copy(value)` shares the strings; `one(value)` also makes two equal dicts (same keys in the same order) or
    lists the same object, found by the identities of their already-shared parts (built bottom-up)."""

    def __init__(self) -> None:
        strings: dict[str, str] = {}
        values: dict[tuple, Any] = {}
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

        self.string = lambda v: string(v, v)
        self.copy = copy
        self.one = one
        self.release = lambda: (strings.clear(), values.clear())  # the closures above form a cycle: empty it


SHARED_METADATA_PARTS = ("labels", "annotations", "ownerReferences")


def lean(item: Any, shared: Shared | None = None) -> Any:
    """A recorded object as upgradectl keeps it: pods without the status fields nobody reads, nodes without
    their image lists; with `shared`, repeated strings and the parts replicas repeat (each part of the spec,
    labels, annotations, owner references) are one object (see Shared)."""
    if isinstance(item, dict):
        kind = item.get("kind")
        status = item.get("status")
        if kind == "Pod" and isinstance(status, dict):
            kept = {k: status[k] for k in LEAN_STATUS["Pod"] if k in status}
            if isinstance(kept.get("containerStatuses"), list):
                kept["containerStatuses"] = [
                    {k: c[k] for k in LEAN_CONTAINER_STATUS if k in c} if isinstance(c, dict) else c
                    for c in kept["containerStatuses"]
                ]
            item = {**item, "status": kept}
        elif kind == "Node" and isinstance(status, dict) and any(k in status for k in DROPPED_NODE_STATUS):
            item = {**item, "status": {k: v for k, v in status.items() if k not in DROPPED_NODE_STATUS}}
    if shared is None or not isinstance(item, dict):
        return item if shared is None else shared.copy(item)
    out = {}
    for key, value in item.items():
        if key == "spec" and isinstance(value, dict):
            value = {shared.string(k): shared.one(v) for k, v in value.items()}
        elif key == "metadata" and isinstance(value, dict):
            value = {shared.string(k): shared.one(v) if k in SHARED_METADATA_PARTS else shared.copy(v)
                     for k, v in value.items()}
        else:
            value = shared.copy(value)
        out[shared.string(key)] = value
    return out


def _json_list_items(text: str, shared: Shared | None) -> list[Any] | None:
    """The lean items of a JSON List document, decoded one item at a time; None when the document is not an
    object or its `items` is not a list. Raises json.JSONDecodeError for text that is not JSON."""
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
            items, at = _json_array(text, at, shared)
        else:
            value, at = _JSON_DECODER.raw_decode(text, at)
            if key == "items":
                if not isinstance(value, list):
                    return None
                items = [lean(v, shared) for v in value]
        at = _JSON_WS.match(text, at).end()
    if _JSON_WS.match(text, at + 1).end() != len(text):
        raise json.JSONDecodeError("Extra data", text, at + 1)
    return items


def _json_array(text: str, at: int, shared: Shared | None) -> tuple[list[Any], int]:
    """The lean elements of the JSON array starting at `at` ('['), and the index after its ']'."""
    out: list[Any] = []
    at = _JSON_WS.match(text, at + 1).end()
    while not text.startswith("]", at):
        if out:
            if not text.startswith(",", at):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = _JSON_WS.match(text, at + 1).end()
        value, at = _JSON_DECODER.raw_decode(text, at)
        out.append(lean(value, shared))
        at = _JSON_WS.match(text, at).end()
    return out, at + 1


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
