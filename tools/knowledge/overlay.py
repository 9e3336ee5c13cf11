"""The user's knowledge overlay: newer releases `upgradectl knowledge refresh` read from upstream.

The overlay lives in `<state-dir>/knowledge/overlay.yaml` and only ever adds what a release list can
prove: newer patch levels of known lines (with dates), new lines (marked `notes_reviewed: false`:
nobody has read their upgrade notes, so their breaking changes and Kubernetes range stay unknown),
LTS patches and chart versions. It never carries breaking changes, detectors, path rules or rollback
limits, so it cannot rewrite them: the schema below has no place for them.

The loader merges it into each tool's bundled YAML before validation (`merge`), unless
UPGRADECTL_OFFLINE=1. An overlay that cannot be read or does not match the schema is ignored with a
warning that says how to fix it; it never stops a plan.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from upgradectl.state_dir import default_state_dir
from upgradectl.tools import yamlio
from upgradectl.tools.versions import Version, VersionError

OFFLINE_ENV = "UPGRADECTL_OFFLINE"
OVERLAY_FILE = Path("knowledge") / "overlay.yaml"
SCHEMA_VERSION = 1


class OverlayError(ValueError):
    """An overlay that cannot be used; the message names the file and the fix."""


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _version(value: str) -> str:
    try:
        Version.parse(value)
    except VersionError as exc:
        raise ValueError(str(exc)) from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OverlayRelease(_Strict):
    """What the release list says about one minor line."""

    line: str
    latest_patch: str
    latest_patch_date: str = ""
    released: str = Field(default="", description="x.y.0 date, for a line the bundled knowledge does not have")
    chart_version: str = Field(default="", description="Chart version shipping latest_patch (table mappings)")
    lts_patch: str = ""
    lts_patch_date: str = ""
    new_line: bool = Field(default=False, description="A line the bundled knowledge does not have")

    _v = field_validator("latest_patch")(_version)
    _d = field_validator("latest_patch_date", "released", "lts_patch_date", mode="before")(_iso)

    @model_validator(mode="after")
    def _in_line(self) -> OverlayRelease:
        line = Version.parse(self.line).line
        for patch in filter(None, (self.latest_patch, self.lts_patch)):
            if Version.parse(patch).line != line:
                raise ValueError(f"{patch} is not in line {self.line}")
        return self


class OverlayTool(_Strict):
    """One tool's additions and where they came from."""

    refreshed_at: str
    sources: list[str] = Field(default_factory=list)
    releases: list[OverlayRelease] = Field(default_factory=list)
    chart_to_app: dict[str, str] = Field(default_factory=dict, description="Chart versions found in the Helm index")

    _d = field_validator("refreshed_at", mode="before")(_iso)

    @field_validator("chart_to_app", mode="before")
    @classmethod
    def _text_keys(cls, value: object) -> object:
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value


class Overlay(_Strict):
    """The whole overlay file."""

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    tools: dict[str, OverlayTool] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schema {value} is not {SCHEMA_VERSION}; run `upgradectl knowledge refresh` again")
        return value


def overlay_path(state_dir: Path | None = None) -> Path:
    """Where the overlay lives for this state directory (default: the one every command shares)."""
    return (state_dir or default_state_dir()) / OVERLAY_FILE


def overlay_disabled() -> bool:
    """UPGRADECTL_OFFLINE=1 (or true/yes): use the bundled knowledge only."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


@contextmanager
def bundled_knowledge_only() -> Iterator[None]:
    """Within this block every load ignores the overlay (evals score against the bundled knowledge)."""
    before = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before


def read_overlay(path: Path) -> Overlay | None:
    """The overlay at `path`, None when there is none; OverlayError when it cannot be used."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OverlayError(f"cannot read the knowledge overlay {path}: {exc.strerror}") from exc
    try:
        data = yamlio.load(text)
    except yaml.YAMLError as exc:
        raise OverlayError(
            f"the knowledge overlay {path} is not valid YAML ({str(exc).splitlines()[0]}); delete it or run "
            "`upgradectl knowledge refresh` to write it again"
        ) from exc
    try:
        return Overlay.model_validate(data if data is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise OverlayError(
            f"the knowledge overlay {path} does not match its schema ({where}: {first['msg']}); delete it or run "
            "`upgradectl knowledge refresh` to write it again"
        ) from exc


def write_overlay(path: Path, overlay: Overlay) -> None:
    """Write atomically (a crash leaves the old overlay, never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = overlay.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    text = (
        "# Written by `upgradectl knowledge refresh`: newer releases read from upstream, merged over the bundled\n"
        "# knowledge (tools/knowledge/data). Delete this file to use the bundled knowledge only.\n"
        + yaml.safe_dump(body, sort_keys=False, width=120)
    )
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".overlay-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def merge(data: dict[str, Any], tool: OverlayTool) -> tuple[dict[str, Any], list[str]]:
    """The tool's bundled YAML (as loaded) with the overlay's additions, and one line per change applied.

    Only newer facts are taken: a patch older than the bundled one, or a line older than the newest
    bundled line that the bundled file does not list, is ignored."""
    merged = dict(data)
    releases = [dict(r) for r in data.get("releases", [])]
    changes: list[str] = []
    by_line = {_line_key(str(r["line"])): r for r in releases}
    newest_line = max(by_line) if by_line else None
    for update in sorted(tool.releases, key=lambda r: Version.parse(r.line)):
        line = _line_key(update.line)
        known = by_line.get(line)
        if known is None:
            if newest_line is not None and line < newest_line:
                continue
            releases.append(_new_line(update, tool.refreshed_at))
            changes.append(f"new line {update.line}: {update.latest_patch} (notes not reviewed)")
            continue
        if Version.parse(update.latest_patch) > Version.parse(str(known["latest_patch"])):
            changes.append(f"{update.line}: {known['latest_patch']} -> {update.latest_patch}")
            known.update(
                latest_patch=update.latest_patch,
                latest_patch_date=update.latest_patch_date,
                chart_version=update.chart_version,
                source=f"{known.get('source', '')}; {update.latest_patch} from the upstream release list "
                f"(knowledge refresh {tool.refreshed_at[:10]})",
            )
        lts_before = str(known.get("lts_patch") or known["latest_patch"])
        if update.lts_patch and Version.parse(update.lts_patch) > Version.parse(lts_before):
            changes.append(f"{update.line} LTS: {lts_before} -> {update.lts_patch}")
            known.update(lts_patch=update.lts_patch, lts_patch_date=update.lts_patch_date)
    merged["releases"] = releases
    chart = dict(data.get("chart", {}))
    if tool.chart_to_app and chart.get("app_version_mapping") == "table":
        table = {str(k): str(v) for k, v in (chart.get("chart_to_app") or {}).items()}
        added = {c: a for c, a in tool.chart_to_app.items() if c not in table}
        if added:
            chart["chart_to_app"] = {**table, **added}
            merged["chart"] = chart
            changes.append(f"chart versions: {', '.join(f'{c} -> {a}' for c, a in added.items())}")
    return merged, changes


def _line_key(version: str) -> Version:
    """The minor line as a comparable Version ('1.9' < '1.17')."""
    return Version.parse(Version.parse(version).line)


def _new_line(update: OverlayRelease, refreshed_at: str) -> dict[str, Any]:
    return {
        "line": update.line,
        "latest_patch": update.latest_patch,
        "latest_patch_date": update.latest_patch_date,
        "released": update.released,
        "chart_version": update.chart_version,
        "kubernetes": None,
        "notes_reviewed": False,
        "notes": [
            "Added by `upgradectl knowledge refresh` from the upstream release list: its upgrade notes were not "
            "reviewed, so its breaking changes, path rules and Kubernetes range are not in the knowledge base."
        ],
        "source": f"upstream release list (knowledge refresh {refreshed_at[:10]})",
        "uncertain": True,
    }
