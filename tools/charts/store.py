"""Get a chart (values.yaml, values.schema.json, templates) by repository, name and version.

Where from, in order: a local directory (`--charts-dir`: chart archives `*.tgz`, unpacked charts with a
Chart.yaml, or a Helm repository layout with index.yaml), the cache under the state directory
(`<state-dir>/charts/<name>-<version>.tgz`), then the chart's repository: a Helm HTTP repository (index.yaml,
then the archive it lists) or an OCI registry (the Helm chart layer of the manifest, anonymous token when the
registry asks for one). Every request has a timeout and bounded retries; a chart that cannot be had raises
ChartUnavailable with the reason, and a check that needs it is inconclusive, never passed.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from upgradectl.state_dir import default_state_dir
from upgradectl.tools import yamlio

ARCHIVE_LIMIT = 20 * 1024 * 1024  # a chart archive larger than this is not a chart we read
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


class ChartUnavailable(RuntimeError):
    """The chart could not be found or fetched; the message says where it looked and why."""


@dataclass(frozen=True)
class Chart:
    """What a chart says about its values."""

    name: str
    version: str
    app_version: str
    values: dict[str, Any]
    values_text: str
    schema: dict[str, Any] | None = None
    templates: dict[str, str] = field(default_factory=dict)
    origin: str = ""


def _bare(version: str) -> str:
    return version.strip().lstrip("v")


def chart_from_files(files: dict[str, bytes], origin: str) -> Chart:
    """A chart from its files (paths relative to the chart directory: Chart.yaml, values.yaml, templates/...)."""
    if "Chart.yaml" not in files:
        raise ChartUnavailable(f"{origin}: no Chart.yaml")
    meta = yamlio.load(files["Chart.yaml"].decode()) or {}
    text = files.get("values.yaml", b"").decode()
    try:
        values = yamlio.load(text) or {}
        schema = json.loads(files["values.schema.json"]) if "values.schema.json" in files else None
    except (yamlio.YAMLError, ValueError) as exc:
        raise ChartUnavailable(f"{origin}: unreadable values.yaml or values.schema.json: {exc}") from exc
    templates = {p: b.decode(errors="replace") for p, b in files.items() if p.startswith("templates/")}
    return Chart(str(meta.get("name", "")), str(meta.get("version", "")), str(meta.get("appVersion", "")),
                 values if isinstance(values, dict) else {}, text, schema, templates, origin)  # fmt: skip


def chart_from_archive(data: bytes, origin: str) -> Chart:
    """A chart from a .tgz as `helm package` writes it (one top-level directory named after the chart)."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                parts = member.name.split("/")
                if not member.isfile() or len(parts) < 2 or parts[1] == "charts":
                    continue  # subcharts under charts/ are their own charts
                inner = "/".join(parts[1:])
                if inner in ("Chart.yaml", "values.yaml", "values.schema.json") or inner.startswith("templates/"):
                    extracted = archive.extractfile(member)
                    files[inner] = extracted.read() if extracted else b""
    except (tarfile.TarError, OSError) as exc:
        raise ChartUnavailable(f"{origin}: not a chart archive: {exc}") from exc
    return chart_from_files(files, origin)


def chart_from_directory(path: Path) -> Chart:
    files = {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*")
             if p.is_file() and (p.name in ("Chart.yaml", "values.yaml", "values.schema.json")
                                 and p.parent == path or p.relative_to(path).parts[0] == "templates")}  # fmt: skip
    return chart_from_files(files, str(path))


class ChartStore:
    """Charts by (repository, name, version): local directory, then cache, then the network (when allowed)."""

    def __init__(self, cache_dir: Path | None = None, charts_dir: Path | None = None, fetch: bool = True,
                 timeout: float = 20.0, attempts: int = 3, client: httpx.Client | None = None):  # fmt: skip
        self.cache_dir = cache_dir
        self.charts_dir = charts_dir
        self.fetch = fetch
        self.timeout = timeout
        self.attempts = attempts
        self._client = client
        self._memory: dict[tuple[str, str], Chart] = {}
        self._failures: dict[tuple[str, str, str], str] = {}
        self._local: dict[tuple[str, str], Path] | None = None
        self._indexes: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------ public

    def get(self, repository: str, name: str, version: str) -> Chart:
        """The chart, or ChartUnavailable naming every place looked at."""
        key = (name, _bare(version))
        if key in self._memory:
            return self._memory[key]
        failure = self._failures.get((repository, *key))
        if failure:
            raise ChartUnavailable(failure)
        tried: list[str] = []
        try:
            chart = self._find(repository, name, key[1], tried)
        except ChartUnavailable as exc:
            self._failures[(repository, *key)] = str(exc)
            raise
        self._memory[key] = chart
        return chart

    # ------------------------------------------------------------ sources

    def _find(self, repository: str, name: str, version: str, tried: list[str]) -> Chart:
        if self.charts_dir is not None:
            local = self._local_charts().get((name, version))
            if local is not None:
                return chart_from_archive(local.read_bytes(), str(local)) if local.suffix == ".tgz" else \
                    chart_from_directory(local)
            tried.append(f"{self.charts_dir}: no {name} {version}")
        cached = self.cache_dir / f"{name}-{version}.tgz" if self.cache_dir else None
        if cached is not None and cached.is_file():
            return chart_from_archive(cached.read_bytes(), str(cached))
        if not self.fetch:
            tried.append("fetching charts is off")
            raise ChartUnavailable(f"chart {name} {version} unavailable ({'; '.join(tried)})")
        try:
            data, origin = (self._oci(repository, name, version) if repository.startswith("oci://")
                            else self._http(repository, name, version))  # fmt: skip
        except (httpx.HTTPError, ChartUnavailable, ValueError, KeyError) as exc:
            tried.append(f"{repository}: {exc}")
            raise ChartUnavailable(f"chart {name} {version} unavailable ({'; '.join(tried)})") from exc
        chart = chart_from_archive(data, origin)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(data)
        return chart

    def _local_charts(self) -> dict[tuple[str, str], Path]:
        """(name, version) -> archive or directory under --charts-dir (read once)."""
        if self._local is None:
            found: dict[tuple[str, str], Path] = {}
            root = self.charts_dir
            assert root is not None
            for archive in sorted(root.rglob("*.tgz")):
                try:
                    chart = chart_from_archive(archive.read_bytes(), str(archive))
                except (ChartUnavailable, OSError):
                    continue
                found.setdefault((chart.name, _bare(chart.version)), archive)
            for meta in sorted(root.rglob("Chart.yaml")):
                try:
                    data = yamlio.load(meta.read_text()) or {}
                except (OSError, yamlio.YAMLError):
                    continue
                found.setdefault((str(data.get("name", "")), _bare(str(data.get("version", "")))), meta.parent)
            self._local = found
        return self._local

    def _request(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET with a timeout and bounded retries on connection errors, 429 and 5xx."""
        client = self._client or httpx.Client(timeout=self.timeout, follow_redirects=True)
        try:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.get(url, headers=headers or {})
                except (httpx.TimeoutException, httpx.RemoteProtocolError):  # worth another try; DNS failures not
                    if attempt == self.attempts:
                        raise
                    time.sleep(0.2 * 2**attempt)
                    continue
                if response.status_code in (429, 500, 502, 503, 504) and attempt < self.attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                return response
            raise httpx.TransportError(f"{url}: no answer after {self.attempts} attempts")
        finally:
            if self._client is None:
                client.close()

    def _http(self, repository: str, name: str, version: str) -> tuple[bytes, str]:
        base = repository if repository.endswith("/") else repository + "/"
        index = self._indexes.get(base)
        if index is None:
            response = self._request(urljoin(base, "index.yaml"))
            response.raise_for_status()
            index = yamlio.load(response.text) or {}
            self._indexes[base] = index
        entries = (index.get("entries") or {}).get(name) or []
        entry = next((e for e in entries if _bare(str(e.get("version", ""))) == version), None)
        if entry is None:
            raise ChartUnavailable(f"{base}index.yaml lists no {name} {version}")
        url = urljoin(base, str((entry.get("urls") or [""])[0]))
        response = self._request(url)
        response.raise_for_status()
        if len(response.content) > ARCHIVE_LIMIT:
            raise ChartUnavailable(f"{url}: archive larger than {ARCHIVE_LIMIT} bytes")
        return response.content, url

    def _oci(self, repository: str, name: str, version: str) -> tuple[bytes, str]:
        """Pull the chart layer from an OCI registry (anonymous pull, the Docker token flow when asked)."""
        ref = repository.removeprefix("oci://").rstrip("/")
        if not ref.endswith("/" + name):
            ref = f"{ref}/{name}"
        registry, _, path = ref.partition("/")
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        for tag in (version, f"v{version}"):
            url = f"https://{registry}/v2/{path}/manifests/{tag}"
            response = self._request(url, accept)
            token = self._token(response) if response.status_code == 401 else ""
            auth = {"Authorization": f"Bearer {token}"} if token else {}
            if token:
                response = self._request(url, {**accept, **auth})
            if response.status_code == 404:
                continue
            response.raise_for_status()
            layers = [lay for lay in response.json().get("layers", []) if lay.get("mediaType") == HELM_LAYER]
            if not layers:
                raise ChartUnavailable(f"{url}: no Helm chart layer")
            blob = self._request(f"https://{registry}/v2/{path}/blobs/{layers[0]['digest']}", auth)
            blob.raise_for_status()
            return blob.content, f"oci://{ref}:{tag}"
        raise ChartUnavailable(f"oci://{ref}: no tag {version}")

    def _token(self, challenge: httpx.Response) -> str:
        header = challenge.headers.get("www-authenticate", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
        if not header.lower().startswith("bearer") or "realm" not in fields:
            return ""
        params = {k: v for k, v in fields.items() if k in ("service", "scope")}
        query = "&".join(f"{k}={v}" for k, v in params.items())
        response = self._request(f"{fields['realm']}?{query}" if query else fields["realm"])
        response.raise_for_status()
        body = response.json()
        return str(body.get("token") or body.get("access_token") or "")


def default_chart_store(charts_dir: Path | None = None, fetch: bool = True) -> ChartStore:
    """Target charts for the values checks: a local directory first, then the cache under the state directory
    (`<state-dir>/charts`), then the chart's repository (when `fetch`)."""
    return ChartStore(cache_dir=default_state_dir() / "charts", charts_dir=charts_dir, fetch=fetch)
