"""Validate a manifest against the Kubernetes version it will run on: built-in kinds with kubernetes-validate's
bundled (offline) OpenAPI schemas, custom resources with the openAPIV3Schema their CRD serves at that version
(read from the cluster), anything else reported as not checkable - never as valid."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

import kubernetes_validate
from jsonschema import Draft7Validator, Draft202012Validator
from kubernetes_validate.utils import SchemaNotFoundError, VersionNotSupportedError, all_versions, schema_contents
from referencing import Registry, Resource

from upgradectl.tools.versions import kube_minor

# (cluster, apiVersion, kind) -> the openAPIV3Schema the cluster's CRD serves for it, or None
CrdSchemas = Callable[[str, str, str], dict[str, Any] | None]


def crd_schema(crds: list[dict[str, Any]], api_version: str, kind: str) -> dict[str, Any] | None:
    """The schema a list of CRD objects serves for apiVersion/kind (None when none serves it)."""
    group, _, version = api_version.rpartition("/")
    for crd in crds:
        spec = crd.get("spec") or {}
        if spec.get("group") != group or (spec.get("names") or {}).get("kind") != kind:
            continue
        for served in spec.get("versions") or []:
            if served.get("name") == version and served.get("served", True):
                return (served.get("schema") or {}).get("openAPIV3Schema")
    return None


class ManifestValidator:
    """One validator per run; `crd_schemas` looks custom resources up (optional)."""

    def __init__(self, crd_schemas: CrdSchemas | None = None):
        self.crd_schemas = crd_schemas

    def validate(self, doc: dict[str, Any], kubernetes_version: str, cluster: str = "") -> tuple[str, str]:
        """(error, note): error when the manifest is invalid; note when it could not be checked (and why)."""
        api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        if kubernetes_version:
            major, minor = kube_minor(kubernetes_version)
            version = f"{major}.{minor}.0"
        else:
            version = kubernetes_validate.latest_version()
        bundled = all_versions()
        if kube_minor(version) < kube_minor(bundled[0]) or kube_minor(version) > kube_minor(bundled[-1]):
            return "", (f"{kind} {api_version}: kubernetes-validate bundles schemas for Kubernetes {bundled[0]} to "
                        f"{bundled[-1]}, not {kubernetes_version}: not validated")
        try:
            error = next(iter(_kind_validator(version, kind, api_version).iter_errors(doc)), None)
            if error is None:
                return "", ""
            return f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}", ""
        except VersionNotSupportedError:
            return "", f"{kind} {api_version}: kubernetes-validate has no schemas for Kubernetes {kubernetes_version}"
        except SchemaNotFoundError:
            served = _builtin_versions(kind, version)
            if served:  # a built-in kind at an apiVersion this Kubernetes no longer (or not yet) serves
                return (f"{kind} {api_version} is not served by Kubernetes {kubernetes_version} (it serves "
                        f"{', '.join(served)})"), ""
        schema = self.crd_schemas(cluster, api_version, kind) if self.crd_schemas else None
        if schema is None:
            return "", (f"{kind} {api_version} on {cluster or 'the cluster'}: no schema (not a built-in kind, and no "
                        "CRD there serves this version yet): not validated")
        errors = sorted(Draft7Validator(schema).iter_errors(_without_meta(doc)), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            return f"{'.'.join(str(p) for p in first.absolute_path) or '(top)'}: {first.message}", ""
        return "", ""


@lru_cache(maxsize=16)
def _definitions(schema_dir: str, version: str) -> Resource:
    """One bundled version's shared definitions (large: read once per run, not once per manifest)."""
    return Resource.from_contents(schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version))


@lru_cache(maxsize=2048)
def _kind_validator(version: str, kind: str, api_version: str) -> Draft202012Validator:
    """kubernetes_validate.validate(strict=True)'s validator for one kind at one bundled version ('1.31.0'), built
    from the same bundled files with the same layout, once: the library re-reads its definitions on every call."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"v{version}-local-strict"
    try:
        schema = schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        raise SchemaNotFoundError(kind=kind, version=version, api_version=api_version) from None
    registry = _definitions(schema_dir, version) @ (Resource.from_contents(schema) @ Registry())
    return Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=512)
def builtin_kind(kind: str) -> bool:
    """Whether any Kubernetes version kubernetes-validate bundles has a built-in schema for `kind`."""
    return any(_builtin_versions(kind, version) for version in sorted(set(all_versions())))


def _builtin_versions(kind: str, version: str) -> list[str]:
    """apiVersions (as group-version file suffixes) at which a Kubernetes version serves a built-in kind."""
    major, minor = kube_minor(version)
    schemas = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    folder = schemas.joinpath(f"v{major}.{minor}.0-local-strict")
    prefix = kind.lower() + "-"
    try:
        names = [p.name for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".json")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n[len(prefix):-5].replace("-", "/", 1) for n in names if n[len(prefix):].count("-") <= 1)


def _without_meta(doc: dict[str, Any]) -> dict[str, Any]:
    """CRD schemas describe spec/status; metadata is the API server's and apiVersion/kind are implied."""
    return {k: v for k, v in doc.items() if k not in ("metadata",)}
