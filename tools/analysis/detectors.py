"""Run knowledge-base detectors against clusters, Helm releases and the GitOps repo.

A detector (tools/knowledge/loader.py) says what a breaking change looks like; this module looks for it
and returns one `Hit` per affected thing, each with the exact evidence seen. It never decides
severity or wording: the agents turn hits into findings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from upgradectl.models import Evidence, Subject
from upgradectl.tools import yamlio
from upgradectl.tools.cluster.sources import ClusterSource, split_api_version
from upgradectl.tools.gitops.charts import chart_apps, null_overrides
from upgradectl.tools.gitops.manifests import Manifest, MetricUse
from upgradectl.tools.gitops.values import ComposedValues
from upgradectl.tools.helm import HelmRelease, get_value
from upgradectl.tools.knowledge.loader import Detector
from upgradectl.tools.textfiles import find_line, line_text
from upgradectl.tools.versions import Version, VersionError

WORKLOAD_KINDS = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
)


@dataclass(frozen=True)
class Hit:
    """One place where a detector matched."""

    subject: Subject
    evidence: Evidence
    old: str = ""  # for renames: the old key/metric/annotation seen
    new: str = ""  # and what replaces it ('' when removed)
    value: str = ""  # helm_value: the value seen, when the change is about values rather than the key


@dataclass
class ScanInput:
    """Everything detectors may look at, already narrowed to the clusters in scope."""

    clusters: dict[str, ClusterSource]
    releases: dict[str, HelmRelease]  # cluster -> the tool's Helm release there
    manifests: list[Manifest] = field(default_factory=list)
    manifest_clusters: dict[str, set[str]] = field(default_factory=dict)  # file -> clusters applying it
    gitops_root: Path | None = None
    metric_uses: list[MetricUse] = field(default_factory=list)
    desired_values: dict[str, list[ComposedValues]] = field(default_factory=dict)  # cluster -> values Git declares


def run_detector(detector: Detector, scan: ScanInput) -> list[Hit]:
    """Every hit of one detector across the scan input."""
    runner = {
        "api_in_use": _api_in_use,
        "stored_version": _stored_version,
        "helm_value": _helm_value,
        "object_present": _object_present,
        "annotation_in_use": _annotation_in_use,
        "label_selector_in_use": _label_selector_in_use,
        "metric_used": _metric_used,
        "config_key": _config_key,
        "field_value": _field_value,
        "node_kernel_below": _node_kernel_below,
        "not_helm_owned": _not_helm_owned,
        "chart_values_null": _chart_values_null,
    }[detector.kind]
    return runner(detector, scan)


def object_ref(cluster: str, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")
    return f"{cluster}: {obj.get('apiVersion', '')} {obj.get('kind', '')} {where}"


def object_subject(cluster: str, obj: dict[str, Any], **extra: Any) -> Subject:
    meta = obj.get("metadata", {})
    return Subject(
        cluster=cluster,
        api_version=obj.get("apiVersion", ""),
        kind=obj.get("kind", ""),
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        **extra,
    )


def _manifest_hit(m: Manifest, scan: ScanInput, excerpt: str = "") -> Hit:
    text = excerpt or (line_text(scan.gitops_root / m.file, m.line) if scan.gitops_root else "")
    clusters = sorted(scan.manifest_clusters.get(m.file, set()))
    return Hit(
        Subject(
            cluster=",".join(clusters),
            api_version=m.api_version,
            kind=m.kind,
            namespace=m.namespace,
            name=m.name,
            file=m.file,
            line=m.line,
        ),
        Evidence(source="gitops", ref=f"{m.file}:{m.line}", excerpt=text or f"apiVersion: {m.api_version}"),
    )


def _same_kind_replacement(d: Detector) -> bool:
    """True when the replacement is the same kind in the same group at another version: the API server
    converts stored objects, so objects read from a cluster are not at risk (stored versions are)."""
    replacement = d.replacement.strip()
    return bool(replacement) and " " not in replacement and replacement.split("/")[0] == d.api_version.split("/")[0]


def _api_in_use(d: Detector, scan: ScanInput) -> list[Hit]:
    hits = []
    live_objects_at_risk = not _same_kind_replacement(d)
    for cluster, source in scan.clusters.items() if live_objects_at_risk else ():
        for obj in source.objects(d.api_version, d.resource_kind):
            hits.append(
                Hit(
                    object_subject(cluster, obj),
                    Evidence(
                        source="cluster",
                        ref=object_ref(cluster, obj),
                        excerpt=f"apiVersion: {obj.get('apiVersion')}, kind: {obj.get('kind')}, "
                        f"name: {obj.get('metadata', {}).get('name', '')}",
                    ),
                )
            )
    for cluster, release in scan.releases.items():
        for doc in _manifest_docs(release.manifest):
            if doc.get("apiVersion") == d.api_version and doc.get("kind") == d.resource_kind:
                name = doc.get("metadata", {}).get("name", "")
                hits.append(
                    Hit(
                        Subject(
                            cluster=cluster,
                            api_version=d.api_version,
                            kind=d.resource_kind,
                            name=name,
                            helm_release=release.name,
                        ),
                        Evidence(
                            source="helm",
                            ref=f"{cluster}: release {release.ref} manifest",
                            excerpt=f"apiVersion: {d.api_version}, kind: {d.resource_kind}, name: {name}",
                        ),
                    )
                )
    for m in scan.manifests:
        if m.api_version == d.api_version and m.kind == d.resource_kind:
            hits.append(_manifest_hit(m, scan))
    return hits


def _manifest_docs(manifest: str) -> Iterable[dict[str, Any]]:
    try:
        return [d for d in yamlio.load_all(manifest) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


def _crds(source: ClusterSource) -> list[dict[str, Any]]:
    return source.objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def _stored_version(d: Detector, scan: ScanInput) -> list[Hit]:
    hits = []
    for cluster, source in scan.clusters.items():
        for crd in _crds(source):
            if crd.get("metadata", {}).get("name") != d.crd:
                continue
            stored = crd.get("status", {}).get("storedVersions", []) or []
            if d.stored_version in stored:
                hits.append(
                    Hit(
                        Subject(
                            cluster=cluster,
                            api_version="apiextensions.k8s.io/v1",
                            kind="CustomResourceDefinition",
                            name=d.crd,
                        ),
                        Evidence(
                            source="cluster",
                            ref=f"{cluster}: crd {d.crd} .status.storedVersions",
                            excerpt=f"storedVersions: {stored}",
                        ),
                    )
                )
    return hits


def _value_matches(d: Detector, values: dict[str, Any], value: Any) -> bool:
    """The value conditions of a helm_value detector: listed values, invalid format, companions, unset keys."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if d.values and text.lower() not in {v.lower() for v in d.values}:
        return False
    if d.invalid_unless and re.fullmatch(d.invalid_unless, text):
        return False
    for key, wanted in d.requires.items():
        present, other = get_value(values, key)
        if not present or str(other).lower() != wanted.lower():
            return False
    return not any(get_value(values, key)[0] for key in d.unset)


def _helm_value(d: Detector, scan: ScanInput) -> list[Hit]:
    """Watched keys in the values a cluster's Helm release was installed with, and in the values Git declares
    (merged as the controller merges them), the latter cited where each key is defined."""
    hits = []
    for cluster, release in scan.releases.items():
        for key in d.watched_keys():
            present, value = get_value(release.values, key)
            if not present or not _value_matches(d, release.values, value):
                continue
            shown = value if not isinstance(value, (dict, list)) else "{...}"
            about_key = key in d.renames  # a renamed or removed key; else the change is about some values
            hits.append(
                Hit(
                    Subject(cluster=cluster, helm_release=release.name, helm_value_path=key),
                    Evidence(source="helm", ref=f"{cluster}: release {release.ref} values", excerpt=f"{key}: {shown}"),
                    old=key if about_key else "",
                    new=d.renames.get(key, "") if about_key else "",
                    value="" if isinstance(value, (dict, list)) else str(shown).lower() if isinstance(value, bool)
                    else str(shown),
                )
            )
    found: dict[tuple, tuple[Hit, list[str]]] = {}  # one hit per place a value is defined, for every cluster
    for cluster, composed in sorted(scan.desired_values.items()):
        for values in composed:
            for key in d.watched_keys():
                present, value = get_value(values.values, key)
                origin = values.origin(key)
                if not present or origin is None or not _value_matches(d, values.values, value):
                    continue
                place = (origin.ref, key, values.release)
                if place in found:
                    found[place][1].append(cluster)
                    continue
                shown = "<redacted>" if origin.secret else _yaml_scalar(value)
                subject = Subject(
                    helm_release=values.release.split(" ", 1)[-1],
                    helm_value_path=key,
                    file=origin.site.file,
                    line=origin.line,
                    kind=origin.site.selector.get("kind", ""),
                    name=origin.site.selector.get("name", ""),
                    namespace=origin.site.selector.get("namespace", ""),
                )
                evidence = Evidence(source="gitops", ref=origin.ref, excerpt=f"{key}: {shown} ({values.release})")
                found[place] = (Hit(subject, evidence, old=key, new=d.renames.get(key, "")), [cluster])
    for hit, clusters in found.values():
        hits.append(Hit(hit.subject.model_copy(update={"cluster": ",".join(clusters)}), hit.evidence, hit.old, hit.new))
    return hits


def _yaml_scalar(value: Any) -> str:
    """A value as YAML writes it (true, null), a map or list as {...}."""
    if isinstance(value, (dict, list)):
        return "{...}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def _object_present(d: Detector, scan: ScanInput) -> list[Hit]:
    hits = []
    group = split_api_version(d.api_version)[0] if d.api_version else None
    for cluster, source in scan.clusters.items():
        objects = source.objects_of_kind(d.resource_kind, group)
        for obj in objects:
            meta = obj.get("metadata", {})
            if d.name and meta.get("name") != d.name:
                continue
            if d.namespace and meta.get("namespace") != d.namespace:
                continue
            hits.append(
                Hit(
                    object_subject(cluster, obj),
                    Evidence(
                        source="cluster",
                        ref=object_ref(cluster, obj),
                        excerpt=f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')} "
                        f"exists; keys: {', '.join(sorted((obj.get('data') or {}).keys()))[:200]}",
                    ),
                )
            )
    return hits


def _matching_lines(d: Detector, value: Any) -> list[str]:
    """The parts of a value a detector matches: the whole value for `values`, each line where `pattern` is
    found (a multi-line ConfigMap entry such as policy.csv is judged line by line); [] when nothing matches.
    A map or list is judged as compact JSON, cut to 160 characters."""
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        text = text if len(text) <= 160 else text[:157] + "..."
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    if d.values and text.lower() not in {v.lower() for v in d.values}:
        return []
    if not d.pattern:
        return [text]
    return [line.strip() for line in text.splitlines() if re.search(d.pattern, line)]


def _exempt(d: Detector, source: ClusterSource, namespace: str) -> bool:
    """True when one of the detector's `unless` conditions holds in this namespace."""
    for where, regex in d.unless.items():
        name, _, key = where.partition("/")
        for cm in source.objects_of_kind("ConfigMap"):
            meta = cm.get("metadata", {})
            if meta.get("name") != name or meta.get("namespace") != namespace:
                continue
            value = (cm.get("data") or {}).get(key)
            if value is not None and re.fullmatch(regex, str(value).strip()):
                return True
    return False


def _config_key(d: Detector, scan: ScanInput) -> list[Hit]:
    hits = []
    for cluster, source in scan.clusters.items():
        for obj in source.objects_of_kind(d.resource_kind):
            meta = obj.get("metadata", {})
            if meta.get("name") != d.name or (d.namespace and meta.get("namespace") != d.namespace):
                continue
            if d.unless and _exempt(d, source, meta.get("namespace", "")):
                continue
            data = obj.get("data") or {}
            for key in d.watched_keys():
                if key not in data:
                    continue
                for shown in _matching_lines(d, data[key])[:5]:
                    hits.append(
                        Hit(
                            object_subject(cluster, obj, helm_value_path=key),
                            Evidence(source="cluster", ref=object_ref(cluster, obj), excerpt=f"{key}: {shown}"),
                            old=key,
                            new=d.renames.get(key, ""),
                        )
                    )
            for key in d.absent:
                if key not in data:
                    hits.append(
                        Hit(
                            object_subject(cluster, obj, helm_value_path=key),
                            Evidence(
                                source="cluster",
                                ref=object_ref(cluster, obj),
                                excerpt=f"{key} is not set (keys present: {', '.join(sorted(data))[:200] or 'none'})",
                            ),
                        )
                    )
    hits.extend(_config_key_in_git(d, scan))
    return hits


def _config_key_in_git(d: Detector, scan: ScanInput) -> list[Hit]:
    """The same ConfigMap keys in the ConfigMap manifests Git applies (what the clusters will hold), each
    cited at the key's line; a manifest without a namespace takes the one kustomize or Flux gives it."""
    hits = []
    for m in scan.manifests:
        if m.kind != d.resource_kind or m.name != d.name or (d.namespace and m.namespace not in ("", d.namespace)):
            continue
        if d.unless and _exempt_in_git(d, scan.manifests, m):
            continue
        data = m.doc.get("data") if isinstance(m.doc.get("data"), dict) else {}
        found = [(key, f"{key}: {shown}") for key in d.watched_keys() if key in data
                 for shown in _matching_lines(d, data[key])[:5]]  # fmt: skip
        found += [(key, f"{key} is not set (keys present: {', '.join(sorted(data))[:200] or 'none'})")
                  for key in d.absent if key not in data]  # fmt: skip
        for key, excerpt in found:
            hit = _manifest_hit(m, scan, excerpt=excerpt)
            line = (find_line(scan.gitops_root / m.file, f"{key}:", m.line) if scan.gitops_root and key in data else 0)
            line = line or m.line
            hits.append(Hit(hit.subject.model_copy(update={"helm_value_path": key, "line": line}),
                            hit.evidence.model_copy(update={"ref": f"{m.file}:{line}"}), old=key,
                            new=d.renames.get(key, "")))  # fmt: skip
    return hits


def _exempt_in_git(d: Detector, manifests: list[Manifest], near: Manifest) -> bool:
    """True when an `unless` ConfigMap in Git (same namespace, or none given) holds the exempting value."""
    for where, regex in d.unless.items():
        name, _, key = where.partition("/")
        for m in manifests:
            if m.kind != "ConfigMap" or m.name != name or m.namespace not in ("", near.namespace):
                continue
            value = (m.doc.get("data") or {}).get(key) if isinstance(m.doc.get("data"), dict) else None
            if value is not None and re.fullmatch(regex, str(value).strip()):
                return True
    return False


def field_values(obj: Any, path: str) -> list[Any]:
    """Every value at a dotted path. A segment ending in [] walks each item of a list, one ending in {} each
    value of a map: spec.roles[].name, spec.subnetSelectorTerms[].tags{}."""
    found = [obj]
    for part in path.split("."):
        each = part[-2:] if part[-2:] in ("[]", "{}") else ""
        key = part[: -len(each)] if each else part
        step = []
        for node in found:
            value = node.get(key) if isinstance(node, dict) else None
            if value is None:
                continue
            if each == "[]":
                step.extend(value if isinstance(value, list) else [])
            elif each == "{}":
                step.extend(value.values() if isinstance(value, dict) else [])
            else:
                step.append(value)
        found = step
    return found


def _field_matches(d: Detector, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, matched text) for each alternative path of the detector (`a.b|c.d`) in one object."""
    return [
        (path, shown)
        for path in d.field.split("|")
        for value in field_values(obj, path.strip())
        for shown in _matching_lines(d, value)[:5]
    ]


def _field_value(d: Detector, scan: ScanInput) -> list[Hit]:
    """Objects whose field matches, from the clusters and from the GitOps files (with the matching line).
    With an api_version, any version of its group matches: objects are read at whatever version they use."""
    hits = []
    group = split_api_version(d.api_version)[0] if d.api_version else None
    for cluster, source in scan.clusters.items():
        for obj in source.objects_of_kind(d.resource_kind, group):
            for path, shown in _field_matches(d, obj):
                hits.append(
                    Hit(
                        object_subject(cluster, obj),
                        Evidence(source="cluster", ref=object_ref(cluster, obj), excerpt=f"{path}: {shown}"),
                    )
                )
    for m in scan.manifests:
        if m.kind != d.resource_kind or (group is not None and split_api_version(m.api_version)[0] != group):
            continue
        for path, shown in _field_matches(d, m.doc):
            hit = _manifest_hit(m, scan, excerpt=f"{path}: {shown}")
            last_key = path.strip().rsplit(".", 1)[-1].rstrip("[]{}") + ":"
            needle = shown if "\n" not in shown and not shown.startswith(("{", "[")) else last_key
            line = find_line(scan.gitops_root / m.file, needle, m.line) if scan.gitops_root and needle else 0
            if line:
                hit = Hit(hit.subject.model_copy(update={"line": line}),
                          hit.evidence.model_copy(update={"ref": f"{m.file}:{line}"}))
            hits.append(hit)
    return hits


def _node_kernel_below(d: Detector, scan: ScanInput) -> list[Hit]:
    """One hit per cluster with nodes on a kernel older than min_version, naming how many and which."""
    minimum = Version.parse(d.min_version)
    hits = []
    for cluster, source in scan.clusters.items():
        old: list[tuple[str, str, str]] = []
        for node in source.objects_of_kind("Node"):
            info = node.get("status", {}).get("nodeInfo") or {}
            kernel, image = str(info.get("kernelVersion", "")), str(info.get("osImage", ""))
            if d.exempt_os_image and re.search(d.exempt_os_image, image):
                continue
            try:
                if Version.parse(kernel) < minimum:
                    old.append((node.get("metadata", {}).get("name", ""), kernel, image))
            except VersionError:
                continue  # no kernel reported: nothing to judge
        if old:
            listed = "; ".join(f"{name}: {kernel} ({image})" for name, kernel, image in old[:5])
            more = f" and {len(old) - 5} more" if len(old) > 5 else ""
            hits.append(
                Hit(
                    Subject(cluster=cluster, kind="Node", name=old[0][0]),
                    Evidence(
                        source="cluster",
                        ref=f"{cluster}: v1 Node status.nodeInfo.kernelVersion",
                        excerpt=f"{len(old)} node(s) below kernel {d.min_version}: {listed}{more}",
                    ),
                )
            )
    return hits


HELM_MANAGED_BY = ("app.kubernetes.io/managed-by", "Helm")
HELM_RELEASE_NAME = "meta.helm.sh/release-name"


def _not_helm_owned(d: Detector, scan: ScanInput) -> list[Hit]:
    """One hit per cluster listing the objects (kind resource_kind, name matching `pattern`) that Helm would refuse
    to adopt into release `helm_release`: Helm checks the managed-by label and the release-name annotation before
    taking over an object that exists ('invalid ownership metadata')."""
    hits = []
    for cluster, source in scan.clusters.items():
        foreign = []
        for obj in source.objects_of_kind(d.resource_kind):
            meta = obj.get("metadata", {})
            if not re.search(d.pattern, str(meta.get("name", ""))):
                continue
            label = (meta.get("labels") or {}).get(HELM_MANAGED_BY[0], "")
            owner = (meta.get("annotations") or {}).get(HELM_RELEASE_NAME, "")
            if label != HELM_MANAGED_BY[1] or owner != d.helm_release:
                foreign.append((obj, label, owner))
        if not foreign:
            continue
        first = foreign[0][0]
        listed = "; ".join(
            f"{o['metadata']['name']}: {HELM_MANAGED_BY[0]}={label or '<none>'}, "
            f"{HELM_RELEASE_NAME}={owner or '<none>'}"
            for o, label, owner in foreign[:6]
        )
        hits.append(
            Hit(
                object_subject(cluster, first),
                Evidence(
                    source="cluster",
                    ref=f"{cluster}: {first.get('apiVersion', '')} {d.resource_kind} metadata",
                    excerpt=f"{len(foreign)} not owned by Helm release {d.helm_release}: {listed}",
                ),
            )
        )
    return hits


def _pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod metadata/spec pairs inside a pod or a workload object."""
    kind = obj.get("kind")
    if kind == "Pod":
        return [obj]
    if kind == "CronJob":
        return [obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {})]
    return [obj.get("spec", {}).get("template", {})]


def _owned(obj: dict[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("ownerReferences"))


def _workloads(source: ClusterSource, tool_release: HelmRelease | None = None) -> list[dict[str, Any]]:
    """Top-level workloads: controllers plus pods that no controller owns (their owners speak for the rest).
    The tool's own workloads are left out: its chart rewrites them on every hop, nobody edits them."""
    found = [o for api, kind in WORKLOAD_KINDS for o in source.objects(api, kind) if not _owned(o)]
    found.extend(p for p in source.objects("v1", "Pod") if not _owned(p))
    return [o for o in found if not _installed_by(o, tool_release)]


def _installed_by(obj: dict[str, Any], release: HelmRelease | None) -> bool:
    """True for objects Helm installed as part of this release."""
    if release is None:
        return False
    meta = obj.get("metadata", {})
    annotations = meta.get("annotations") or {}
    return (
        annotations.get("meta.helm.sh/release-name") == release.name
        and annotations.get("meta.helm.sh/release-namespace", meta.get("namespace")) == release.namespace
    ) or (
        (meta.get("labels") or {}).get("app.kubernetes.io/instance") == release.name
        and meta.get("namespace") == release.namespace
    )


def _annotation_in_use(d: Detector, scan: ScanInput) -> list[Hit]:
    hits = []
    for cluster, source in scan.clusters.items():
        for obj in _workloads(source, scan.releases.get(cluster)):
            for template in _pod_templates(obj):
                annotations = (template.get("metadata") or {}).get("annotations") or {}
                if d.annotation in annotations:
                    hits.append(
                        Hit(
                            object_subject(cluster, obj),
                            Evidence(
                                source="cluster",
                                ref=object_ref(cluster, obj),
                                excerpt=f'{d.annotation}: "{annotations[d.annotation]}"',
                            ),
                            old=d.annotation,
                            new=d.renames.get(d.annotation, ""),
                        )
                    )
                    break
    for m in scan.manifests:
        for template in _pod_templates(m.doc):
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            if d.annotation in annotations:
                hits.append(_manifest_hit(m, scan, excerpt=f'{d.annotation}: "{annotations[d.annotation]}"'))
    return _dedupe(hits)


def _selected_label_keys(template: dict[str, Any]) -> dict[str, str]:
    """label key -> how it is used, from nodeSelector and required node affinity."""
    spec = template.get("spec") or {}
    keys = {k: f"nodeSelector {k}: {v}" for k, v in (spec.get("nodeSelector") or {}).items()}
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = (affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in required:
        for expr in term.get("matchExpressions") or []:
            keys.setdefault(
                expr.get("key", ""), f"nodeAffinity {expr.get('key')} {expr.get('operator')} {expr.get('values', [])}"
            )
    return keys


def _label_selector_in_use(d: Detector, scan: ScanInput) -> list[Hit]:
    hits = []
    for cluster, source in scan.clusters.items():
        for obj in _workloads(source, scan.releases.get(cluster)):
            for template in _pod_templates(obj):
                used = _selected_label_keys(template)
                if d.label in used:
                    hits.append(
                        Hit(
                            object_subject(cluster, obj),
                            Evidence(source="cluster", ref=object_ref(cluster, obj), excerpt=used[d.label]),
                            old=d.label,
                            new=d.renames.get(d.label, ""),
                        )
                    )
    for m in scan.manifests:
        for template in _pod_templates(m.doc):
            used = _selected_label_keys(template)
            if d.label in used:
                hits.append(_manifest_hit(m, scan, excerpt=used[d.label]))
    return _dedupe(hits)


def _chart_values_null(d: Detector, scan: ScanInput) -> list[Hit]:
    """Value files of GitOps-repo charts (deployed by the Applications in scan.manifests) that set a subchart
    table to null."""
    if scan.gitops_root is None:
        return []
    hits = []
    for app in chart_apps(scan.gitops_root, scan.manifests, set()):
        for null in null_overrides(app):
            rel = str(null.file.relative_to(scan.gitops_root)) if null.file.is_relative_to(scan.gitops_root) else \
                str(null.file)
            hits.append(Hit(
                Subject(cluster=app.cluster, kind="Application", namespace=app.namespace, name=app.name, file=rel,
                        line=null.line, helm_value_path=null.path),
                Evidence(source="gitops", ref=f"{rel}:{null.line}",
                         excerpt=f"{null.path}: null (the subchart's default is a table: {null.default})"),
            ))  # fmt: skip
    return _dedupe(hits)


def _metric_used(d: Detector, scan: ScanInput) -> list[Hit]:
    watched = set(d.watched_metrics())
    hits = []
    for use in scan.metric_uses:
        if use.metric in watched:
            hits.append(
                Hit(
                    Subject(
                        file=use.file,
                        line=use.line,
                        metric=use.metric,
                        cluster=",".join(sorted(scan.manifest_clusters.get(use.file, set()))),
                    ),
                    Evidence(source="gitops", ref=f"{use.file}:{use.line} {use.where}", excerpt=use.expr[:300]),
                    old=use.metric,
                    new=d.renames.get(use.metric, ""),
                )
            )
    return _dedupe(hits)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    seen, unique = set(), []
    for hit in hits:
        key = (hit.subject.key(), hit.old)
        if key not in seen:
            seen.add(key)
            unique.append(hit)
    return unique
