"""Deprecated and removed API scanner over GitOps manifests, cluster objects (with CRD stored
versions) and Helm release manifests, against per-component target versions.

Rules come from three places, in one shape (`ApiRule`, Pluto's fields): Kubernetes removals
(tools/knowledge/data/kubernetes.yaml), each tool's API removals (api_in_use and stored_version
detectors in tools/knowledge/data/<tool>.yaml), and optional extra files in Pluto's versions.yaml format.
Statuses follow Pluto: deprecated (target >= deprecated-in), removed (target >= removed-in),
replacement not available (the replacement API is not served yet at the target).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from upgradectl.exit_codes import SCAN_BAD_INPUT, SCAN_DEPRECATED, SCAN_REMOVED, SCAN_REPLACEMENT_UNAVAILABLE
from upgradectl.tools import yamlio
from upgradectl.tools.cluster.sources import ClusterSource, split_api_version
from upgradectl.tools.gitops.manifests import load_manifest_heads
from upgradectl.tools.knowledge.loader import available_tools, load_kubernetes, load_tool, products
from upgradectl.tools.textfiles import load_yaml_file
from upgradectl.tools.versions import Version, VersionError

Status = Literal["deprecated", "removed", "replacement-unavailable", "stored"]
# Pluto's exit codes (upgradectl/exit_codes.py), worst wins
EXIT_FOR_STATUS: dict[str, int] = {
    "deprecated": SCAN_DEPRECATED,
    "removed": SCAN_REMOVED,
    "stored": SCAN_REMOVED,
    "replacement-unavailable": SCAN_REPLACEMENT_UNAVAILABLE,
}


class ScanError(ValueError):
    """Bad scanner input (targets, rule files); the message says how to fix it."""


@dataclass(frozen=True)
class ApiRule:
    api_version: str
    kind: str
    component: str  # k8s, karpenter, flux, argocd, cilium, victoriametrics, or any extra component
    removed_in: str
    deprecated_in: str = ""
    replacement: str = ""
    replacement_available_in: str = ""
    source: str = ""
    code: str = ""
    crd: str = ""  # for stored-version rules: the CRD name

    def status_at(self, target: str) -> Status | None:
        """Pluto's verdict for this API at a target version of its component (None: fine)."""
        t = Version.parse(target)
        removed = bool(self.removed_in) and t >= Version.parse(self.removed_in)
        deprecated = bool(self.deprecated_in) and t >= Version.parse(self.deprecated_in)
        if not (removed or deprecated):
            return None
        if self.replacement_available_in and t < Version.parse(self.replacement_available_in):
            return "replacement-unavailable"
        return "removed" if removed else "deprecated"


@dataclass(frozen=True)
class ApiUsage:
    """One object found at a rule's API version, with where it was seen and the verdict."""

    status: Status
    rule: ApiRule
    source: Literal["manifest", "cluster", "helm", "crd-stored-version"]
    location: str  # file:line, or cluster/namespace/name, or cluster release
    name: str
    namespace: str = ""
    file: str = ""
    line: int = 0
    cluster: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "api_version": self.rule.api_version,
            "kind": self.rule.kind,
            "component": self.rule.component,
            "deprecated_in": self.rule.deprecated_in,
            "removed_in": self.rule.removed_in,
            "replacement": self.rule.replacement,
            "replacement_available_in": self.rule.replacement_available_in,
            "source": self.source,
            "location": self.location,
            "name": self.name,
            "namespace": self.namespace,
            "file": self.file,
            "line": self.line,
            "cluster": self.cluster,
            "code": self.rule.code,
            "rule_source": self.rule.source,
        }


@dataclass
class ScanReport:
    targets: dict[str, str]
    usages: list[ApiUsage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)  # files, clusters and releases that could not be read

    @property
    def exit_code(self) -> int:
        """The worst usage's code; 1 (bad input) at least when something could not be read, so a broken
        file is never a clean scan."""
        worst = max((EXIT_FOR_STATUS[u.status] for u in self.usages), default=0)
        return max(worst, SCAN_BAD_INPUT) if self.unread else worst


def parse_targets(text: str) -> dict[str, str]:
    """'k8s=1.30,flux=2.7' -> {'k8s': '1.30', 'flux': '2.7'}."""
    targets: dict[str, str] = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        if "=" not in part:
            raise ScanError(f"target {part!r} is not component=version (e.g. k8s=1.30,flux=2.7)")
        component, version = (x.strip() for x in part.split("=", 1))
        component = {"kubernetes": "k8s", **product_aliases()}.get(component, component)
        try:
            Version.parse(version)
        except VersionError as exc:
            raise ScanError(f"target {component}={version}: {exc}") from exc
        targets[component] = version
    return targets


def product_aliases() -> dict[str, str]:
    """Another name of a product (its knowledge file's aliases: vm, argo-cd) -> the product."""
    return {alias: product.tool for product in products() for alias in product.aliases}


def knowledge_rules() -> list[ApiRule]:
    """Kubernetes removals plus every tool's removed APIs and stored-version hazards."""
    rules = [
        ApiRule(
            r.api_version,
            r.kind,
            "k8s",
            r.removed_in,
            r.deprecated_in,
            r.replacement,
            r.replacement_available_in,
            r.source,
        )
        for r in load_kubernetes().removals
    ]
    for tool in available_tools():
        k = load_tool(tool)
        for change in k.breaking_changes:
            d = change.detector
            if d and d.kind == "api_in_use":
                rules.append(
                    ApiRule(
                        d.api_version,
                        d.resource_kind,
                        tool,
                        change.version,
                        d.deprecated_in,
                        d.replacement,
                        "",
                        change.source,
                        change.id,
                    )
                )
            elif d and d.kind == "stored_version":
                group = d.crd.split(".", 1)[1] if "." in d.crd else ""
                rules.append(
                    ApiRule(
                        f"{group}/{d.stored_version}",
                        d.crd.split(".", 1)[0],
                        tool,
                        change.version,
                        "",
                        "",
                        "",
                        change.source,
                        change.id,
                        crd=d.crd,
                    )
                )
    return rules


def pluto_rules(path: Path) -> tuple[list[ApiRule], dict[str, str]]:
    """Rules and default targets from a file in Pluto's versions.yaml format
    (`deprecated-versions:` list, optional `target-versions:` map)."""
    doc = load_yaml_file(path, "--additional-versions file", ScanError)
    entries = doc.get("deprecated-versions") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ScanError(
            f"--additional-versions {path}: expected a 'deprecated-versions:' list as in Pluto's versions.yaml"
        )
    rules = []
    for i, e in enumerate(entries):
        try:
            rules.append(
                ApiRule(
                    api_version=str(e["version"]),
                    kind=str(e["kind"]),
                    component=str(e.get("component", "k8s")),
                    removed_in=str(e.get("removed-in", "")).lstrip("v"),
                    deprecated_in=str(e.get("deprecated-in", "")).lstrip("v"),
                    replacement=str(e.get("replacement-api", "") or ""),
                    replacement_available_in=str(e.get("replacement-available-in", "") or "").lstrip("v"),
                    source=f"{path.name} entry {i + 1}",
                )
            )
        except (KeyError, TypeError) as exc:
            raise ScanError(f"--additional-versions {path}: entry {i + 1} lacks {exc}") from exc
    targets = {str(k): str(v).lstrip("v") for k, v in (doc.get("target-versions") or {}).items()}
    return rules, targets


def default_targets(rules: Iterable[ApiRule]) -> dict[str, str]:
    """Without --target: every component at its newest known version (reports everything outdated)."""
    targets: dict[str, str] = {}
    for rule in rules:
        for v in (rule.removed_in, rule.deprecated_in):
            if v and (rule.component not in targets or Version.parse(v) > Version.parse(targets[rule.component])):
                targets[rule.component] = v
    return targets


class Scanner:
    def __init__(
        self,
        targets: dict[str, str],
        extra_rules: list[ApiRule] | None = None,
        extra_targets: dict[str, str] | None = None,
    ):
        rules = knowledge_rules() + (extra_rules or [])
        # a later rule for the same (apiVersion, kind, component) overrides an earlier one (user files win)
        by_key = {(r.api_version, r.kind, r.component, r.crd): r for r in rules}
        self.rules = list(by_key.values())
        self.targets = (
            {**default_targets(self.rules), **(extra_targets or {}), **targets}
            if not targets
            else {**(extra_targets or {}), **targets}
        )
        unknown = set(self.targets) - {r.component for r in self.rules}
        if unknown:
            known = ", ".join(sorted({r.component for r in self.rules}))
            raise ScanError(f"no rules for component(s) {', '.join(sorted(unknown))}; known: {known}")
        self._index: dict[tuple[str, str], list[ApiRule]] = {}
        self._verdicts: dict[tuple[str, str], list[tuple[ApiRule, Status]]] = {}
        for r in self.rules:
            if not r.crd:
                self._index.setdefault((r.api_version, r.kind), []).append(r)

    def verdicts(self, api_version: str, kind: str) -> list[tuple[ApiRule, Status]]:
        """The rules an object of this apiVersion and kind breaks at the targets (worked out once per pair)."""
        found = self._verdicts.get((api_version, kind))
        if found is None:
            found = self._verdicts[(api_version, kind)] = []
            for rule in self._index.get((api_version, kind), []):
                target = self.targets.get(rule.component)
                status = rule.status_at(target) if target else None
                if status:
                    found.append((rule, status))
        return found

    def scan_manifests(self, root: Path, report: ScanReport, only: Path | None = None) -> None:
        """Manifests under root (or the one file `only` in it), read head only (apiVersion, kind, name); files
        that do not parse are notes and make the scan's exit code at least 1."""
        manifests, problems, templates = load_manifest_heads(root, only)
        report.scanned["manifests"] = report.scanned.get("manifests", 0) + len(manifests)
        if templates:
            report.notes.append(
                f"skipped {len(templates)} Helm chart template file(s) under {root}: templates are "
                "not manifests until rendered (scan the release with --fleet --helm instead)"
            )
        for problem in problems:
            report.unread.append(problem.file)
            report.notes.append(f"could not parse {problem.file}: {problem.error} (not scanned; fix it and scan again)")
        for m in manifests:
            for rule, status in self.verdicts(m.api_version, m.kind):
                report.usages.append(
                    ApiUsage(status, rule, "manifest", f"{m.file}:{m.line}", m.name, m.namespace, m.file, m.line)
                )

    def scan_cluster(self, cluster: str, source: ClusterSource, report: ScanReport, helm: bool) -> None:
        count = 0
        for (api_version, kind), _rules in self._index.items():
            if not self.verdicts(api_version, kind):
                continue
            for obj in source.objects(api_version, kind):
                count += 1
                meta = obj.get("metadata", {})
                for rule, status in self.verdicts(api_version, kind):
                    where = f"{cluster}/{meta.get('namespace', '')}/{meta.get('name', '')}".replace("//", "/")
                    report.usages.append(
                        ApiUsage(
                            status,
                            rule,
                            "cluster",
                            where,
                            meta.get("name", ""),
                            meta.get("namespace", ""),
                            cluster=cluster,
                        )
                    )
        crds = {c["metadata"]["name"]: c for c in source.objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")}
        for rule in self.rules:
            if not rule.crd or rule.crd not in crds or rule.component not in self.targets:
                continue
            if not rule.status_at(self.targets[rule.component]):
                continue
            stored = crds[rule.crd].get("status", {}).get("storedVersions", []) or []
            if split_api_version(rule.api_version)[1] in stored:
                report.usages.append(
                    ApiUsage(
                        "stored",
                        rule,
                        "crd-stored-version",
                        f"{cluster}: crd {rule.crd} storedVersions {stored}",
                        rule.crd,
                        cluster=cluster,
                    )
                )
        report.scanned[f"objects on {cluster}"] = count
        if helm:
            releases = source.helm_releases()
            report.scanned[f"helm releases on {cluster}"] = len(releases)
            for unreadable in source.unreadable_helm_releases():
                report.unread.append(f"{cluster}: {unreadable.ref}")
                report.notes.append(
                    f"{cluster}: Helm release secret {unreadable.ref} could not be decoded ({unreadable.reason}); "
                    "not scanned"
                )
            for release in releases:
                for doc in _docs(release.manifest):
                    for rule, status in self.verdicts(str(doc.get("apiVersion", "")), str(doc.get("kind", ""))):
                        name = doc.get("metadata", {}).get("name", "")
                        report.usages.append(
                            ApiUsage(
                                status,
                                rule,
                                "helm",
                                f"{cluster}: release {release.ref}",
                                name,
                                release.namespace,
                                cluster=cluster,
                            )
                        )


def _docs(manifest: str) -> list[dict[str, Any]]:
    try:
        return [d for d in yamlio.load_all(manifest) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []
