"""LiveCluster: a cluster read through its API server (a kube context), answering exactly what
SnapshotCluster answers, so agents cannot tell a live cluster from its recording.

- One version per kind: a custom resource at its CRD's storage version, a built-in kind at its group's
  preferred version; the same version `upgradectl snapshot` records. Asking for another served version
  returns nothing, as a snapshot does: the API server would convert every object to any served version,
  which says nothing about the version objects are stored at (`status.storedVersions` does).
- Secrets: only Helm release records are ever requested (`fieldSelector=type=helm.sh/release.v1`);
  no other Secret is read, so none can leak.
- Everything returned passes through `redact` first (inside Helm releases too: decoded, redacted,
  re-encoded), so plans and recordings made from a live cluster never carry a credential.
- Each list is read once per run (paged with limit/continue) and cached: a plan sees one consistent
  read, and agents running in parallel share it.
- Reads go through `KubeReader`, which can only GET, with timeouts and bounded retries.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from upgradectl.tools.cluster.kubeapi import KubeReader, ServedResource, current_context
from upgradectl.tools.cluster.kubemeta import cluster_name_for_context, version_priority
from upgradectl.tools.cluster.sources import ResourceType, SourceError, lean, split_api_version
from upgradectl.tools.helm import (
    HELM_SECRET_TYPE,
    HelmDecodeError,
    HelmRelease,
    UnreadableRelease,
    current_releases,
    decode_release_payload,
    encode_release,
)
from upgradectl.tools.redact import redact

HELM_SECRETS_ONLY = f"type={HELM_SECRET_TYPE}"
WARNING_EVENTS_ONLY = "type=Warning"  # the health check reads recent Warning events; Normal ones are noise
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet")

T = TypeVar("T")


def redacted_release_secret(secret: dict[str, Any]) -> dict[str, Any] | None:
    """A Helm release Secret with credentials redacted inside the release (values, manifest, notes);
    None when its payload cannot be decoded (then nobody can vouch it is clean, so it is not kept)."""
    try:
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        payload = decode_release_payload(str(data.get("release", "")))
    except HelmDecodeError:
        return None
    clean = redact({k: v for k, v in secret.items() if k not in ("data", "stringData")})
    clean["data"] = {"release": encode_release(redact(payload))}
    return clean


class LiveCluster:
    """A cluster read live through one kube context (read-only, redacted, cached per run)."""

    def __init__(self, reader: KubeReader, name: str, context: str):
        self.reader = reader
        self.name = name
        self.context = context
        self.warnings: list[str] = []  # things skipped on purpose (e.g. an undecodable Helm record)
        self._unreadable: list[UnreadableRelease] = []  # Helm release secrets that could not be decoded
        self._cache: dict[tuple, Any] = {}
        self._locks: dict[tuple, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"LiveCluster({self.name!r}, context={self.context!r}, server={self.reader.server!r})"

    @classmethod
    def open(
        cls, context: str | None, kubeconfig: str | None = None, name: str | None = None, **reader_options: Any
    ) -> LiveCluster:
        """Connect through a kube context and read what every plan starts with (see `preflight`)."""
        context = context or current_context(kubeconfig)
        reader = KubeReader.from_kubeconfig(context, kubeconfig, **reader_options)
        cluster = cls(reader, name or cluster_name_for_context(context), context)
        cluster.preflight()
        return cluster

    def preflight(self) -> None:
        """Read the server version, discovery, CRDs, Helm releases and workloads now, so a cluster that is
        unreachable or forbidden fails here (the fleet then marks it unreachable) and not mid-plan."""
        self.server_version()
        self.served_resources()
        self.helm_releases()
        for kind in WORKLOADS:
            self.objects_of_kind(kind, "apps")

    def _once(self, key: tuple, load: Callable[[], T]) -> T:
        """Compute a value once per run, even when parallel agents ask at the same time. A read that
        failed fails the same way for every later caller instead of being retried (and timed out) again."""
        with self._guard:
            lock = self._locks[key]
        with lock:
            if key not in self._cache:
                try:
                    self._cache[key] = load()
                except SourceError as exc:
                    self._cache[key] = _Failed(exc)
            value = self._cache[key]
        if isinstance(value, _Failed):
            raise value.error
        return value

    # ---------------------------------------------------------------- ClusterSource

    def server_version(self) -> dict[str, Any]:
        return dict(self._once(("version",), lambda: self.reader.get("/version", what="reading the server version")))

    def resource_types(self) -> list[ResourceType]:
        return list(self._canonical().values())

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of this kind if `api_version` is the version it is read at (see the module docstring)."""
        group, version = split_api_version(api_version)
        resource = self._by_kind().get((group, kind))
        if resource is None or resource.version != version:
            return []
        items = self._list(resource)
        if namespace is None:
            return list(items)
        return [i for i in items if (i.get("metadata") or {}).get("namespace") == namespace]

    def objects_of_kind(self, kind: str, group: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for (res_group, res_kind), resource in self._by_kind().items():
            if res_kind == kind and (group is None or res_group == group):
                found.extend(self._list(resource))
        return found

    def helm_releases(self) -> list[HelmRelease]:
        return current_releases(self.objects("v1", "Secret"))

    def unreadable_helm_releases(self) -> list[UnreadableRelease]:
        """Release secrets that could not be decoded (left out of the objects read; see warnings)."""
        self.objects("v1", "Secret")
        return list(self._unreadable)

    def observed_at(self) -> datetime:
        """The API server's clock at the first read (its Date header): pod and job ages use the clock that
        wrote their timestamps, whatever the local clock says."""
        return self.reader.server_date or self._once(("now",), lambda: datetime.now(UTC))

    # ---------------------------------------------------------------- what is served, at which version

    def served_resources(self) -> list[ServedResource]:
        """Every resource in discovery (all versions), as the dynamic client discovered it."""
        return self._once(("discovery",), self.reader.discover)

    def crds(self) -> list[dict[str, Any]]:
        """Every CustomResourceDefinition (read at apiextensions' preferred version)."""
        resource = self._preferred().get(CRDS)
        return self._list(resource) if resource else []

    def storage_versions(self) -> dict[tuple[str, str], str]:
        """(group, plural) -> the version each CRD stores its objects at."""
        versions = {}
        for crd in self.crds():
            spec = crd.get("spec") or {}
            stored = next((v.get("name") for v in spec.get("versions") or [] if v.get("storage")), None)
            if stored:
                versions[(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))] = stored
        return versions

    def _preferred(self) -> dict[tuple[str, str], ServedResource]:
        """(group, plural) -> the listable resource at its group's preferred version."""

        def pick() -> dict[tuple[str, str], ServedResource]:
            options: dict[tuple[str, str], list[ServedResource]] = defaultdict(list)
            for resource in self.served_resources():
                if resource.listable:
                    options[(resource.group, resource.plural)].append(resource)
            return {key: _preferred(found) for key, found in options.items()}

        return self._once(("preferred",), pick)

    def _canonical(self) -> dict[tuple[str, str], ServedResource]:
        """(group, plural) -> the one version read: the CRD's storage version, else the preferred one."""

        def pick() -> dict[tuple[str, str], ServedResource]:
            chosen = dict(self._preferred())
            storage = self.storage_versions()
            for resource in self.served_resources():
                key = (resource.group, resource.plural)
                if resource.listable and storage.get(key) == resource.version:
                    chosen[key] = resource
            return chosen

        return self._once(("canonical",), pick)

    def _by_kind(self) -> dict[tuple[str, str], ServedResource]:
        """(group, kind) -> the resource read for that kind."""
        return self._once(
            ("by_kind",), lambda: {(r.group, r.kind): r for r in sorted(self._canonical().values(), key=_order)}
        )

    # ---------------------------------------------------------------- reading lists

    def _list(self, resource: ServedResource) -> list[dict[str, Any]]:
        key = ("list", resource.group, resource.version, resource.plural)  # kept lean, as a snapshot is read
        return self._once(key, lambda: [lean(o) for o in self.iter_objects(resource)])

    def iter_objects(
        self, resource: ServedResource, on_page: Callable[[int, int | None], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream every object of a resource, page by page, ready to keep: apiVersion and kind set,
        managedFields dropped (as `kubectl get -o yaml` shows objects), credentials redacted.
        Secrets are requested with the Helm-release field selector and filtered again here."""
        secrets = resource.group == "" and resource.plural == "secrets"
        events = resource.group == "" and resource.plural == "events"
        selector = HELM_SECRETS_ONLY if secrets else WARNING_EVENTS_ONLY if events else ""
        pages = self.reader.list_pages(resource, field_selector=selector)
        for items, remaining in pages:
            if on_page:
                on_page(len(items), remaining)
            for item in items:
                obj = {"apiVersion": resource.api_version, "kind": resource.kind}
                obj.update((k, v) for k, v in item.items() if k not in ("apiVersion", "kind"))
                meta = obj.get("metadata")
                if isinstance(meta, dict) and "managedFields" in meta:
                    obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
                if secrets:
                    if obj.get("type") != HELM_SECRET_TYPE:
                        continue
                    kept = redacted_release_secret(obj)
                    if kept is None:
                        self._unreadable.append(
                            UnreadableRelease(
                                str((meta or {}).get("namespace", "")), str((meta or {}).get("name", "")),
                                str(((meta or {}).get("labels") or {}).get("name", "")),
                                "not a Helm release payload (base64, then gzip, then JSON)",
                            )
                        )
                        self.warnings.append(
                            f"{self.name}: Helm release secret {(meta or {}).get('namespace')}/"
                            f"{(meta or {}).get('name')} could not be decoded; left out"
                        )
                        continue
                    yield kept
                elif events and obj.get("type") != "Warning":
                    continue
                else:
                    yield redact(obj)


class _Failed:
    """A cached failure (see LiveCluster._once)."""

    def __init__(self, error: SourceError):
        self.error = error


def _preferred(options: list[ServedResource]) -> ServedResource:
    """The group's preferred version if it serves this resource, else the highest-priority version."""
    return next((r for r in options if r.preferred), None) or min(options, key=lambda r: version_priority(r.version))


def _order(resource: ServedResource) -> tuple:
    return (resource.group, resource.plural)
