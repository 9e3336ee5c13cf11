"""A Helm chart repository on loopback for the tests: chart archives packaged from tests/data/charts (the real
charts' Chart.yaml, values.yaml and values.schema.json) and an index.yaml listing them, served by http.server."""

from __future__ import annotations

import io
import tarfile
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import yaml
from loopback_http import LoopbackServer

CHARTS = Path(__file__).resolve().parent / "data" / "charts"


def package(chart_dir: Path, version: str | None = None) -> tuple[str, str, str, bytes]:
    """(name, version, appVersion, .tgz bytes) the way `helm package` lays a chart out (<name>/<file>).
    `version` overrides Chart.yaml's (a release pipeline sets it at publish time; a git tag may lag)."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    if version:
        meta["version"] = version
    name = meta["name"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        files = {"Chart.yaml": yaml.safe_dump(meta).encode()}
        files.update({p.name: p.read_bytes() for p in chart_dir.iterdir() if p.name != "Chart.yaml"})
        for file, data in sorted(files.items()):
            info = tarfile.TarInfo(f"{name}/{file}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return name, str(meta["version"]), str(meta.get("appVersion", "")), buffer.getvalue()


def write_repository(root: Path, charts: dict[str, str | None]) -> Path:
    """Package tests/data/charts/<folder> (version override or None) into root with an index.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    entries: dict[str, list[dict]] = {}
    for folder, version in charts.items():
        name, chart_version, app, data = package(CHARTS / folder, version)
        archive = f"{name}-{chart_version}.tgz"
        (root / archive).write_bytes(data)
        entries.setdefault(name, []).append({"name": name, "version": chart_version, "appVersion": app,
                                             "urls": [archive]})  # fmt: skip
    (root / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": entries}))
    return root


class HelmRepository(LoopbackServer):
    """Serves a directory on 127.0.0.1 (any free port); records the paths requested."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        repository = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                repository.requests.append(self.path)

        super().__init__(partial(Handler, directory=str(root)))
        self.url += "/"
