"""`upgradectl knowledge refresh`: read each tool's releases from upstream into the user's overlay.

Sources: the project's GitHub releases (`GET {api}/repos/{owner}/{repo}/releases`, drafts and
pre-releases skipped, only tags matching the tool's `upstream.tag_pattern`) and, for charts served
from a Helm repository, the repository's `index.yaml` (chart version -> appVersion). From them the
refresh takes newer patch levels of known lines (with dates), lines newer than any bundled one
(marked `notes_reviewed: false`), LTS patches and the chart versions that ship the new patches.
Nothing else: breaking changes, detectors, path rules and rollback limits are never touched.

Where patches of older LTS lines are restricted builds (VictoriaMetrics Enterprise), a new patch of
such a line becomes the line's lts_patch, never its latest_patch: it is not a target.
Every request has a timeout and bounded retries (tenacity); a tool whose upstream cannot be read
keeps its previous overlay entry and is reported as failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from upgradectl.tools import yamlio
from upgradectl.tools.deadline import DeadlineExceeded, call_with_deadline
from upgradectl.tools.knowledge.loader import ToolKnowledge, bundled_data, load_bundled_tool
from upgradectl.tools.knowledge.overlay import (
    Overlay,
    OverlayError,
    OverlayRelease,
    OverlayTool,
    merge,
    overlay_path,
    read_overlay,
    write_overlay,
)
from upgradectl.tools.versions import Version, VersionError

GITHUB_API = "https://api.github.com"
MAX_PAGES = 3  # 300 releases: every supported line's newest patches, even for projects that patch many lines
RETRIED_STATUS = {429, 500, 502, 503, 504}
MAX_INDEX_BYTES = 64_000_000


class RefreshError(RuntimeError):
    """An upstream that could not be read; the message names the URL, what went wrong and what to do.
    `unreachable`: no answer at all (network, DNS, timeout), so other tools on that host will fail too."""

    def __init__(self, message: str, unreachable: bool = False, url: str = ""):
        super().__init__(message)
        self.unreachable, self.url = unreachable, url


class _Retryable(Exception):
    def __init__(self, error: RefreshError):
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class UpstreamRelease:
    version: str
    published: str  # YYYY-MM-DD ('' when unknown)


@dataclass
class ToolRefresh:
    """What one tool's refresh found: the overlay entry it wrote, the changes over the bundled knowledge,
    what is new since the previous refresh, and notes (or the error when it failed)."""

    tool: str
    entry: OverlayTool | None = None
    changes: list[str] = field(default_factory=list)
    new_since_last: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class RefreshReport:
    path: Path
    refreshed_at: str
    tools: list[ToolRefresh]

    @property
    def failed(self) -> list[ToolRefresh]:
        return [t for t in self.tools if t.error]


class Upstream:
    """HTTP access to GitHub's API and Helm repositories: one client, timeouts, bounded retries."""

    def __init__(
        self,
        api_url: str = GITHUB_API,
        helm_repo_url: str | None = None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ):
        for name, url in (("--api-url", api_url), ("--helm-repo-url", helm_repo_url or "https://x")):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} {url!r} must start with http:// or https://")
        self.api_url = api_url.rstrip("/")
        self.helm_repo_url = helm_repo_url.rstrip("/") if helm_repo_url else None
        self.attempts, self.backoff = max(1, attempts), backoff
        self.timeout = timeout
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
            headers={"User-Agent": "upgradectl-knowledge-refresh", "Accept": "application/vnd.github+json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:  # a whole-request deadline (tools/deadline.py): per-read timeouts never stop a trickling server
                response = call_with_deadline(lambda: self._http.get(url, params=params), self.timeout)
            except DeadlineExceeded:
                raise _Retryable(
                    RefreshError(f"{url} did not answer in full within {self.timeout:g}s", True, url)
                ) from None
            except httpx.TimeoutException as exc:
                raise _Retryable(
                    RefreshError(f"{url} did not answer in time ({exc.__class__.__name__})", True, url)
                ) from exc
            except httpx.TransportError as exc:
                raise _Retryable(RefreshError(f"cannot reach {url} ({exc})", True, url)) from exc
            if response.status_code in RETRIED_STATUS:
                raise _Retryable(RefreshError(f"{url} answered HTTP {response.status_code}"))
            if response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0":
                raise RefreshError(
                    f"{url}: the GitHub API rate limit is used up (60 requests an hour without a token); "
                    "try again after the reset time"
                )
            if response.status_code != 200:
                raise RefreshError(f"{url} answered HTTP {response.status_code}: {response.text[:200]!r}")
            return response

        try:
            for attempt_state in Retrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=self.backoff, max=5),
                retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
                reraise=False,
            ):
                with attempt_state:
                    return attempt()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            error = last.error if isinstance(last, _Retryable) else RefreshError(str(last))
            raise RefreshError(f"{error} (after {self.attempts} attempts)", error.unreachable, error.url) from exc
        raise AssertionError("unreachable")

    def releases(self, repo: str, tag_pattern: str) -> list[UpstreamRelease]:
        """The repo's published releases whose tag is the tool's own, newest first as GitHub lists them."""
        pattern = re.compile(tag_pattern)
        found: list[UpstreamRelease] = []
        for page in range(1, MAX_PAGES + 1):
            url = f"{self.api_url}/repos/{repo}/releases"
            response = self._get(url, {"per_page": 100, "page": page})
            try:
                items = response.json()
            except ValueError as exc:
                raise RefreshError(f"{url} did not answer JSON: {response.text[:120]!r}") from exc
            if not isinstance(items, list):
                raise RefreshError(f"{url} did not answer a list of releases: {str(items)[:120]!r}")
            for item in items:
                if not isinstance(item, dict) or item.get("draft") or item.get("prerelease"):
                    continue
                match = pattern.match(str(item.get("tag_name", "")))
                if match:
                    found.append(UpstreamRelease(match.group(1), str(item.get("published_at") or "")[:10]))
            if len(items) < 100:
                break
        return found

    def chart_versions(self, repository: str, chart: str) -> list[tuple[str, str, str]]:
        """(chart version, app version, created date) of `chart` in a Helm repository's index.yaml."""
        base = (self.helm_repo_url or repository).rstrip("/")
        url = f"{base}/index.yaml"
        response = self._get(url)
        if len(response.content) > MAX_INDEX_BYTES:
            raise RefreshError(f"{url} is larger than {MAX_INDEX_BYTES // 1_000_000} MB; not read")
        try:
            index = yamlio.load(response.text)
        except yaml.YAMLError as exc:
            raise RefreshError(f"{url} is not a Helm repository index (YAML error: {exc})") from exc
        entries = (index or {}).get("entries") if isinstance(index, dict) else None
        if not isinstance(entries, dict):
            raise RefreshError(f"{url} is not a Helm repository index (no 'entries')")
        versions = []
        for entry in entries.get(chart) or []:
            if isinstance(entry, dict) and entry.get("version") and entry.get("appVersion"):
                versions.append(
                    (str(entry["version"]), str(entry["appVersion"]), str(entry.get("created") or "")[:10])
                )
        return versions


def _stable(version: str) -> Version | None:
    try:
        parsed = Version.parse(version)
    except VersionError:
        return None
    return parsed if parsed.parts == 3 and not re.search(r"[-+]", version.lstrip("v")) else None


def refresh_tool(knowledge: ToolKnowledge, upstream: Upstream, refreshed_at: str) -> tuple[OverlayTool, list[str]]:
    """Read one tool's upstream and build its overlay entry (plus notes on what was left out and why)."""
    assert knowledge.upstream is not None
    notes: list[str] = []
    sources = [f"{upstream.api_url}/repos/{knowledge.upstream.github}/releases"]
    published: dict[Version, UpstreamRelease] = {}
    for release in upstream.releases(knowledge.upstream.github, knowledge.upstream.tag_pattern):
        version = _stable(release.version)
        if version is not None:
            published.setdefault(version, release)
    charts: dict[Version, tuple[str, str]] = {}  # app version -> (newest chart version, created)
    if knowledge.chart.repository.startswith("oci://") and not upstream.helm_repo_url:
        notes.append(
            f"chart {knowledge.chart.name} is in an OCI registry ({knowledge.chart.repository}): no index to read"
        )
    else:
        repository = upstream.helm_repo_url or knowledge.chart.repository
        sources.append(f"{repository.rstrip('/')}/index.yaml ({knowledge.chart.name})")
        for chart_version, app_version, created in upstream.chart_versions(
            knowledge.chart.repository, knowledge.chart.name
        ):
            app, chart = _stable(app_version), _stable(chart_version)
            if app is None or chart is None:
                continue
            if app not in charts or chart > Version.parse(charts[app][0]):
                charts[app] = (str(chart), created)
            if knowledge.chart.app_version_mapping == "same":
                published.setdefault(app, UpstreamRelease(str(app), created))
    by_line: dict[Version, list[Version]] = {}
    for version in published:
        by_line.setdefault(Version.parse(version.line), []).append(version)
    known = {Version.parse(r.line): r for r in knowledge.releases}
    newest_known = max(known) if known else None
    newest_line = max([*by_line, *known]) if by_line or known else None
    releases = []
    for line, versions in sorted(by_line.items()):
        newest = max(versions)
        first = min(versions)
        release = known.get(line)
        chart = charts.get(newest, ("", ""))[0] if knowledge.chart.app_version_mapping == "table" else ""
        if release is None:
            if newest_known is not None and line < newest_known:
                continue
            releases.append(
                OverlayRelease(
                    line=line.line,
                    latest_patch=str(newest),
                    latest_patch_date=published[newest].published,
                    released=published[first].published if first.patch == 0 else "",
                    chart_version=chart,
                    new_line=True,
                )
            )
            continue
        if newest <= Version.parse(release.newest_patch):
            continue
        if knowledge.upstream.restricted_lts_patches and line != newest_line:
            if release.lts:
                releases.append(
                    OverlayRelease(
                        line=release.line,
                        latest_patch=release.latest_patch,
                        lts_patch=str(newest),
                        lts_patch_date=published[newest].published,
                    )
                )
            continue
        if (
            knowledge.chart.app_version_mapping == "table"
            and not chart
            and knowledge.chart_version_for(release.latest_patch)
        ):
            notes.append(
                f"{newest}: no {knowledge.chart.name} chart ships it yet (chart installs need a charted patch)"
            )
        releases.append(
            OverlayRelease(
                line=release.line,
                latest_patch=str(newest),
                latest_patch_date=published[newest].published,
                chart_version=chart,
            )
        )
    chart_to_app = {r.chart_version: r.latest_patch for r in releases if r.chart_version}
    entry = OverlayTool(refreshed_at=refreshed_at, sources=sources, releases=releases, chart_to_app=chart_to_app)
    return entry, notes


def refresh(
    tools: list[str],
    upstream: Upstream,
    state_dir: Path | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RefreshReport:
    """Refresh every tool that names its upstream and write the overlay; failed tools keep their old entry."""
    path = overlay_path(state_dir)
    try:
        previous = read_overlay(path) or Overlay()
    except OverlayError:
        previous = Overlay()  # a broken overlay is replaced by this refresh
    refreshed_at = now().isoformat(timespec="seconds").replace("+00:00", "Z")
    entries = dict(previous.tools)
    results = []
    offline = ""
    for tool in tools:
        k = load_bundled_tool(tool)
        result = ToolRefresh(tool)
        results.append(result)
        if offline:
            result.error = f"not tried: {offline}"
            continue
        if k.upstream is None:
            result.notes.append("no upstream in its knowledge file: skipped")
            continue
        try:
            entry, result.notes = refresh_tool(k, upstream, refreshed_at)
        except RefreshError as exc:
            result.error = str(exc)
            if exc.unreachable and exc.url.startswith(upstream.api_url):  # every tool's releases live there
                offline = str(exc)
            continue
        data = bundled_data(tool)
        _, result.changes = merge(data, entry)
        before = set(merge(data, previous.tools[tool])[1]) if tool in previous.tools else set()
        result.new_since_last = [c for c in result.changes if c not in before]
        result.entry = entry
        entries[tool] = entry
    if any(r.entry for r in results):
        write_overlay(path, Overlay(tools=entries))
    return RefreshReport(path, refreshed_at, results)
