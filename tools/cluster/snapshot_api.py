"""A recorded snapshot as the Kubernetes API presents it: discovery documents, lists and objects.

No HTTP here (tools/cluster/snapshot_server.py serves it). What is served:

- every recorded resource list (`resources/<group>/<version>/<plural>`), and every served version of
  every recorded CRD: a custom resource recorded at one version is served at the CRD's other served
  versions with only `apiVersion` changed, as the API server does for `conversion: None`;
- discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`) with name, singularName,
  namespaced, kind, shortNames, categories and verbs [get, list] (nothing can be changed);
- lists in recorded order (a recording of a live cluster is in the API server's order, by namespace and
  name), filtered by namespace and label/field selectors, paged with `limit`/`continue`; the snapshot
  never changes, so continue tokens never expire.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from upgradectl.tools.cluster.kubemeta import parse_field_selector, parse_label_selector, version_priority
from upgradectl.tools.cluster.sources import SourceError
from upgradectl.tools.textfiles import parse_json, parse_yaml, read_text

VERBS = ["get", "list"]

# plural -> (kind, namespaced, shortNames, categories) for built-in resources (used when a recorded
# list is empty, and for kubectl's short names and `kubectl get all`).
BUILTINS: dict[tuple[str, str], tuple[str, bool, tuple[str, ...], tuple[str, ...]]] = {
    ("", "pods"): ("Pod", True, ("po",), ("all",)),
    ("", "nodes"): ("Node", False, ("no",), ()),
    ("", "namespaces"): ("Namespace", False, ("ns",), ()),
    ("", "services"): ("Service", True, ("svc",), ("all",)),
    ("", "configmaps"): ("ConfigMap", True, ("cm",), ()),
    ("", "secrets"): ("Secret", True, (), ()),
    ("", "serviceaccounts"): ("ServiceAccount", True, ("sa",), ()),
    ("", "endpoints"): ("Endpoints", True, ("ep",), ()),
    ("", "events"): ("Event", True, ("ev",), ()),
    ("", "persistentvolumes"): ("PersistentVolume", False, ("pv",), ()),
    ("", "persistentvolumeclaims"): ("PersistentVolumeClaim", True, ("pvc",), ()),
    ("", "replicationcontrollers"): ("ReplicationController", True, ("rc",), ("all",)),
    ("", "resourcequotas"): ("ResourceQuota", True, ("quota",), ()),
    ("", "limitranges"): ("LimitRange", True, ("limits",), ()),
    ("apps", "deployments"): ("Deployment", True, ("deploy",), ("all",)),
    ("apps", "daemonsets"): ("DaemonSet", True, ("ds",), ("all",)),
    ("apps", "statefulsets"): ("StatefulSet", True, ("sts",), ("all",)),
    ("apps", "replicasets"): ("ReplicaSet", True, ("rs",), ("all",)),
    ("apps", "controllerrevisions"): ("ControllerRevision", True, (), ()),
    ("batch", "jobs"): ("Job", True, (), ("all",)),
    ("batch", "cronjobs"): ("CronJob", True, ("cj",), ("all",)),
    ("policy", "poddisruptionbudgets"): ("PodDisruptionBudget", True, ("pdb",), ()),
    ("autoscaling", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True, ("hpa",), ("all",)),
    ("apiextensions.k8s.io", "customresourcedefinitions"): ("CustomResourceDefinition", False, ("crd", "crds"), ()),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): ("MutatingWebhookConfiguration", False, (), ()),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
        "ValidatingWebhookConfiguration", False, (), ()
    ),
    ("rbac.authorization.k8s.io", "clusterroles"): ("ClusterRole", False, (), ()),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): ("ClusterRoleBinding", False, (), ()),
    ("rbac.authorization.k8s.io", "roles"): ("Role", True, (), ()),
    ("rbac.authorization.k8s.io", "rolebindings"): ("RoleBinding", True, (), ()),
    ("storage.k8s.io", "storageclasses"): ("StorageClass", False, ("sc",), ()),
    ("networking.k8s.io", "ingresses"): ("Ingress", True, ("ing",), ()),
    ("networking.k8s.io", "networkpolicies"): ("NetworkPolicy", True, ("netpol",), ()),
    ("scheduling.k8s.io", "priorityclasses"): ("PriorityClass", False, ("pc",), ()),
    ("coordination.k8s.io", "leases"): ("Lease", True, (), ()),
    ("discovery.k8s.io", "endpointslices"): ("EndpointSlice", True, (), ()),
}


class APIError(Exception):
    """An API error to answer with a Kubernetes Status: HTTP code, reason and message."""

    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


@dataclass
class ServedType:
    """One resource at one group/version, and where its objects come from."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(VERBS),
        }
        if self.short_names:
            doc["shortNames"] = list(self.short_names)
        if self.categories:
            doc["categories"] = list(self.categories)
        return doc


@dataclass
class SnapshotAPI:
    """The API view of one snapshot directory (loaded once; read-only; safe to share across threads)."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    recorded: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    types: dict[tuple[str, str, str], ServedType] = field(default_factory=dict)
    _views: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path) -> SnapshotAPI:
        """Read a snapshot directory (docs/snapshot-format.md); SourceError when it is not one."""
        path = Path(path)
        meta_file = path / "cluster.yaml"
        if not meta_file.is_file():
            raise SourceError(
                f"{path} is not a snapshot: {meta_file} is missing "
                "(record one with `upgradectl snapshot --context C --out DIR`)"
            )
        api = cls(path=path, meta=_read(meta_file) or {})
        if not isinstance(api.meta.get("server_version"), dict):
            raise SourceError(f"{meta_file} has no server_version block")
        root = path / "resources"
        for file in sorted(root.glob("*/*/*")) if root.is_dir() else []:
            if file.suffix not in (".yaml", ".yml", ".json") or not file.is_file():
                continue
            group, version = file.parent.parent.name, file.parent.name
            doc = _read(file)
            if not isinstance(doc, dict) or not isinstance(doc.get("items") or [], list):
                raise SourceError(f"{file}: expected a List document with an items list")
            items = doc.get("items") or []
            api.recorded[("" if group == "core" else group, version, file.stem)] = items
        api._describe()
        return api

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.name)

    def _describe(self) -> None:
        """Work out every served group/version/plural: CRD versions first, then recorded lists."""
        crds = self.recorded.get(("apiextensions.k8s.io", "v1", "customresourcedefinitions"), [])
        for crd in crds:
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            for version in spec.get("versions") or []:
                if not version.get("served", True):
                    continue
                key = (spec.get("group", ""), version.get("name", ""), names.get("plural", ""))
                self.types[key] = ServedType(
                    *key,
                    kind=names.get("kind", ""),
                    namespaced=spec.get("scope") == "Namespaced",
                    singular=names.get("singular", ""),
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                )
        for key, items in self.recorded.items():
            if key in self.types:
                continue
            group, _, plural = key
            known = BUILTINS.get((group, plural))
            kind = items[0].get("kind") if items else ""
            kind = kind or (known[0] if known else _kind_from_plural(plural))
            namespaced = known[1] if known else bool(items and (items[0].get("metadata") or {}).get("namespace"))
            self.types[key] = ServedType(
                *key,
                kind=kind,
                namespaced=namespaced,
                short_names=known[2] if known else (),
                categories=known[3] if known else (),
            )

    # ---------------------------------------------------------------- discovery

    def version(self) -> dict[str, Any]:
        return dict(self.meta["server_version"])

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, best first ('' is the legacy core group)."""
        found: dict[str, set[str]] = {}
        for group, version, _ in self.types:
            found.setdefault(group, set()).add(version)
        return {g: sorted(vs, key=version_priority) for g, vs in sorted(found.items())}

    def api_versions(self) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": self.groups().get("", ["v1"]), "serverAddressByClientCIDRs": []}

    def api_group(self, group: str) -> dict[str, Any]:
        versions = self.groups().get(group)
        if not versions or not group:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = [self.api_group(g) for g in self.groups() if g]
        for g in groups:
            del g["kind"], g["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict[str, Any]:
        served = [t for (g, v, _), t in sorted(self.types.items()) if g == group and v == version]
        if not served:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": served[0].group_version,
            "resources": [t.discovery() for t in served],
        }

    # ---------------------------------------------------------------- objects

    def served_type(self, group: str, version: str, plural: str) -> ServedType:
        served = self.types.get((group, version, plural))
        if served is None:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        return served

    def _objects(self, served: ServedType) -> list[dict[str, Any]]:
        """Objects of a served type: as recorded, or recorded at another version with apiVersion changed."""
        key = (served.group, served.version, served.plural)
        if key in self.recorded:
            return self.recorded[key]
        with self._lock:
            if key not in self._views:
                converted = [
                    {**item, "apiVersion": served.group_version}
                    for (g, _, p), items in self.recorded.items()
                    if g == served.group and p == served.plural
                    for item in items
                ]
                self._views[key] = converted
            return self._views[key]

    def list(
        self,
        served: ServedType,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> dict[str, Any]:
        """One List response (a page of it when limit is set)."""
        items = self._objects(served)
        if namespace and served.namespaced:
            items = [i for i in items if (i.get("metadata") or {}).get("namespace") == namespace]
        try:
            if label_selector:
                matches = parse_label_selector(label_selector)
                items = [i for i in items if matches((i.get("metadata") or {}).get("labels") or {})]
            if field_selector:
                fits = parse_field_selector(field_selector)
                items = [i for i in items if fits(i)]
        except ValueError as exc:
            raise APIError(400, "BadRequest", str(exc)) from None
        start = _offset(continue_token, len(items)) if continue_token else 0
        end = start + limit if limit > 0 else len(items)
        meta: dict[str, Any] = {"resourceVersion": self.resource_version}
        if end < len(items):
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"start": end}).encode()).decode()
            meta["remainingItemCount"] = len(items) - end
        return {
            "apiVersion": served.group_version,
            "kind": f"{served.kind}List",
            "metadata": meta,
            "items": items[start:end],
        }

    def get(self, served: ServedType, namespace: str | None, name: str) -> dict[str, Any]:
        for item in self._objects(served):
            meta = item.get("metadata") or {}
            if meta.get("name") == name and (not served.namespaced or meta.get("namespace") == namespace):
                return item
        what = f"{served.plural}.{served.group}" if served.group else served.plural
        raise APIError(404, "NotFound", f'{what} "{name}" not found')

    @property
    def resource_version(self) -> str:
        """One resourceVersion for the whole snapshot: the highest any recorded object carries."""
        if "_rv" not in self.meta:
            versions = [
                int(rv)
                for items in self.recorded.values()
                for item in items
                if str(rv := (item.get("metadata") or {}).get("resourceVersion", "")).isdigit()
            ]
            self.meta["_rv"] = str(max(versions, default=1))
        return str(self.meta["_rv"])

    def recorded_at(self) -> datetime:
        raw = self.meta.get("recorded_at")
        try:
            value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            return datetime.now(UTC)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def object_count(self) -> int:
        return sum(len(items) for items in self.recorded.values())


def to_json(doc: Any) -> bytes:
    """JSON for the wire; YAML timestamps (datetime/date) become RFC 3339 strings."""
    return json.dumps(doc, default=_json_default, separators=(",", ":")).encode()


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _offset(token: str, total: int) -> int:
    try:
        start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
    except (ValueError, KeyError, TypeError):
        raise APIError(400, "BadRequest", f"continue key is not valid: {token[:40]}") from None
    if not 0 <= start <= total:
        raise APIError(400, "BadRequest", "continue key is out of range")
    return start


def _read(file: Path) -> Any:
    text = read_text(file, "snapshot list", SourceError)
    parse = parse_json if file.suffix == ".json" else parse_yaml
    return parse(text, file, "snapshot list", SourceError)


def _kind_from_plural(plural: str) -> str:
    stem = plural[:-3] + "y" if plural.endswith("ies") else plural[:-1] if plural.endswith("s") else plural
    return stem[:1].upper() + stem[1:]
