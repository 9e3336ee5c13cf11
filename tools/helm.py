"""Helm release secrets: decode what the cluster stores, and encode it (for recorders and fixtures).

Helm 3 keeps each release revision in a Secret of type `helm.sh/release.v1` whose `data.release`
is base64 (the Kubernetes API's encoding) of Helm's own base64 of gzip of the release JSON.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

HELM_SECRET_TYPE = "helm.sh/release.v1"


class HelmDecodeError(ValueError):
    """A release secret whose payload is not base64+gzip+JSON."""


@dataclass(frozen=True)
class HelmRelease:
    """One deployed Helm release, as decoded from its newest release secret."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    values: dict[str, Any] = field(default_factory=dict)
    manifest: str = ""
    secret_name: str = ""

    @property
    def ref(self) -> str:
        """Evidence reference: namespace/secret."""
        return f"{self.namespace}/{self.secret_name}"


def encode_release(release: dict[str, Any]) -> str:
    """Return the value of a release secret's `data.release` for a release JSON object."""
    raw = json.dumps(release, separators=(",", ":")).encode()
    helm_b64 = base64.b64encode(gzip.compress(raw, mtime=0))
    return base64.b64encode(helm_b64).decode()


def decode_release_payload(data_release: str) -> dict[str, Any]:
    """Decode a release secret's `data.release` into the release JSON object."""
    try:
        helm_b64 = base64.b64decode(data_release, validate=False)
        packed = base64.b64decode(helm_b64)
        raw = gzip.decompress(packed) if packed[:2] == b"\x1f\x8b" else packed
        return json.loads(raw)
    except (ValueError, OSError, EOFError, zlib.error, RecursionError) as exc:  # binascii, gzip, JSON errors
        raise HelmDecodeError(
            f"not a Helm release payload (base64, then gzip, then JSON): {type(exc).__name__}"
        ) from None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def release_from_secret(secret: dict[str, Any]) -> HelmRelease:
    """Decode one Helm release Secret object (as the API returns it); HelmDecodeError when its payload is
    not a release (bad base64 or gzip, JSON of another shape, no data)."""
    meta = _mapping(secret.get("metadata"))
    labels = _mapping(meta.get("labels"))
    data = secret.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("release"), str) or not data["release"]:
        raise HelmDecodeError("the secret has no data.release")
    payload = decode_release_payload(data["release"])
    if not isinstance(payload, dict):
        raise HelmDecodeError("the release payload is not a JSON object")
    chart = _mapping(payload.get("chart"))
    chart_meta = _mapping(chart.get("metadata"))
    values, manifest = payload.get("config") or {}, payload.get("manifest") or ""
    if not isinstance(values, dict) or not isinstance(manifest, str):
        raise HelmDecodeError("the release's config is not a mapping or its manifest is not text")
    try:
        revision = int(payload.get("version", labels.get("version", 0)))
    except (TypeError, ValueError):
        raise HelmDecodeError("the release's version is not a number") from None
    return HelmRelease(
        name=str(payload.get("name", labels.get("name", ""))),
        namespace=str(payload.get("namespace", meta.get("namespace", ""))),
        revision=revision,
        status=str(_mapping(payload.get("info")).get("status", labels.get("status", ""))),
        chart=str(chart_meta.get("name", "")),
        chart_version=str(chart_meta.get("version", "")),
        app_version=str(chart_meta.get("appVersion", "")),
        values=values,
        manifest=manifest,
        secret_name=str(meta.get("name", "")),
    )


@dataclass(frozen=True)
class UnreadableRelease:
    """A Helm release secret that could not be decoded: what it says it is, and why it could not be read."""

    namespace: str
    secret_name: str
    release: str  # from the secret's `name` label ('' when it has none)
    reason: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.secret_name}"


def read_releases(secrets: list[dict[str, Any]]) -> tuple[list[HelmRelease], list[UnreadableRelease]]:
    """The newest deployed revision of every release among these secrets (others are history), and the
    release secrets that could not be decoded (each one is something a plan could not check)."""
    newest: dict[tuple[str, str], HelmRelease] = {}
    unreadable: list[UnreadableRelease] = []
    for secret in secrets:
        if secret.get("type") != HELM_SECRET_TYPE:
            continue
        try:
            release = release_from_secret(secret)
        except HelmDecodeError as exc:
            meta = _mapping(secret.get("metadata"))
            name = str(_mapping(meta.get("labels")).get("name", ""))
            unreadable.append(UnreadableRelease(str(meta.get("namespace", "")), str(meta.get("name", "")), name,
                                                str(exc)))  # fmt: skip
            continue
        if release.status not in ("deployed", "failed", "pending-upgrade", "pending-install"):
            continue
        key = (release.namespace, release.name)
        if key not in newest or release.revision > newest[key].revision:
            newest[key] = release
    return sorted(newest.values(), key=lambda r: (r.namespace, r.name)), unreadable


def current_releases(secrets: list[dict[str, Any]]) -> list[HelmRelease]:
    """The newest deployed revision of every decodable release among these secrets."""
    return read_releases(secrets)[0]


def release_secret(release: dict[str, Any]) -> dict[str, Any]:
    """Build the Secret object Helm would store for a release JSON (used by recorders and fixtures)."""
    name = release["name"]
    revision = int(release["version"])
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": HELM_SECRET_TYPE,
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{revision}",
            "namespace": release["namespace"],
            "labels": {
                "name": name,
                "owner": "helm",
                "status": release.get("info", {}).get("status", "deployed"),
                "version": str(revision),
            },
        },
        "data": {"release": encode_release(release)},
    }


def get_value(values: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    """Look up a dotted Helm value path; return (present, value)."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node
