#!/usr/bin/env python3
"""Refresh a tool's chart -> app version table (`chart.chart_to_app` in tools/knowledge/data/<tool>.yaml) from its
chart repository's index.yaml: every released chart version whose appVersion falls in the tool's known release
lines. Usage:

    .venv/bin/python scripts/chart_versions.py --tool argocd --index index.yaml \
        --source "argoproj/argo-helm gh-pages index.yaml @ c77d0b17 (2026-07-02)"

--index is a file or an http(s) URL (the repository's index.yaml). The table is rewritten in place (the rest of the
file is left byte for byte); knowledge then maps chart versions to app versions and back, and says "unknown" for
anything not in it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import httpx
import yaml

from upgradectl.tools.knowledge.loader import load_tool
from upgradectl.tools.versions import Version, VersionError

DATA = Path(__file__).resolve().parent.parent / "tools" / "knowledge" / "data"


def read_index(where: str) -> dict:
    if where.startswith(("http://", "https://")):
        response = httpx.get(where, timeout=60, follow_redirects=True)
        response.raise_for_status()
        text = response.text
    else:
        text = Path(where).read_text()
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def table(index: dict, chart: str, first_line: str) -> dict[str, str]:
    """chart version -> app version (bare), released versions only, app versions from `first_line` on."""
    floor = Version.parse(first_line)
    found: dict[Version, tuple[str, str]] = {}
    for entry in (index.get("entries") or {}).get(chart) or []:
        chart_version, app = str(entry.get("version", "")), str(entry.get("appVersion", "")).lstrip("v")
        if "-" in chart_version or "-" in app:
            continue  # pre-releases
        try:
            parsed, app_version = Version.parse(chart_version), Version.parse(app)
        except VersionError:
            continue
        if app_version >= floor:
            found[parsed] = (chart_version, app)
    return {chart_version: app for _, (chart_version, app) in sorted(found.items(), reverse=True)}


def rewrite(text: str, mapping: dict[str, str], source: str) -> str:
    """The knowledge file with its chart_to_app block (and the note naming its source) replaced."""
    block = re.search(r"^  chart_to_app:\n(?:    .*\n)*", text, re.M)
    lines = "".join(f"    {chart}: {app}\n" for chart, app in mapping.items())
    new = f"  chart_to_app:\n{lines}"
    if block is None:
        anchor = re.search(r"^  app_version_mapping: table\n", text, re.M)
        if anchor is None:
            raise SystemExit("the tool's chart section has no `app_version_mapping: table`")
        text = text[: anchor.end()] + new + text[anchor.end():]
    else:
        text = text[: block.start()] + new + text[block.end():]
    note = f"  - 'chart_to_app: every released chart version and its appVersion from {source}.'\n"
    text = re.sub(r"^  - 'chart_to_app: every released chart version.*\n", "", text, flags=re.M)
    notes = re.search(r"^  notes:\n", text[text.index("\nchart:"):], re.M)
    if notes is not None:
        at = text.index("\nchart:") + notes.end()
        text = text[:at] + note + text[at:]
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", required=True)
    parser.add_argument("--index", required=True, help="index.yaml file or URL")
    parser.add_argument("--source", required=True, help="where the index came from (repository, commit, date)")
    args = parser.parse_args()
    knowledge = load_tool(args.tool)
    mapping = table(read_index(args.index), knowledge.chart.name, knowledge.releases[0].line)
    if not mapping:
        print(f"{args.index}: no released {knowledge.chart.name} versions", file=sys.stderr)
        return 1
    path = DATA / f"{args.tool}.yaml"
    path.write_text(rewrite(path.read_text(), mapping, args.source))
    load_tool.cache_clear()
    load_tool(args.tool)  # the rewritten file must still load
    print(f"{path}: {len(mapping)} chart versions ({next(iter(mapping))} newest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
