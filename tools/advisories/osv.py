"""The OSV API (https://google.github.io/osv.dev/api/): `POST /v1/query` for one package version's advisories
(whole records, paged by `next_page_token`) and `POST /v1/querybatch` for many versions at once (ids only).

Every request has a whole-request deadline (tools/deadline.py) and bounded retries on 429/5xx and connection
errors. Every answer is kept in a cache file (`<state-dir>/osv/cache.json`, with the time it was fetched): when
OSV cannot be reached, or with UPGRADECTL_OFFLINE=1, the cached answer stands in and the plan says from when.
A question with neither a live nor a cached answer raises OsvError: the caller reports "not checked", never
"no vulnerabilities".
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from upgradectl.state_dir import default_state_dir
from upgradectl.tools.deadline import DeadlineExceeded, call_with_deadline
from upgradectl.tools.knowledge.overlay import overlay_disabled

OSV_API = "https://api.osv.dev"
CACHE_FILE = Path("osv") / "cache.json"
RETRIED_STATUS = {429, 500, 502, 503, 504}
MAX_PAGES = 20
BATCH_LIMIT = 1000  # OSV's documented maximum of queries per querybatch


class OsvError(RuntimeError):
    """OSV could not answer and no cached answer exists; the message says what failed and what to do."""


class _Retryable(Exception):
    pass


@dataclass(frozen=True)
class PackageQuery:
    """One question to OSV: a package (ecosystem + name) at one version."""

    ecosystem: str
    name: str
    version: str

    def body(self, page_token: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"package": {"name": self.name, "ecosystem": self.ecosystem}, "version": self.version}
        if page_token:
            body["page_token"] = page_token
        return body

    def describe(self) -> str:
        return f"{self.ecosystem} {self.name}@{self.version}"


@dataclass
class OsvCache:
    """Answers by question, each with the time it was fetched; one JSON file, written atomically."""

    path: Path
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path) -> OsvCache:
        """The cache at `path`; an unreadable or malformed file counts as empty (it is rewritten on the next
        answer)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            answers = data.get("answers", {}) if isinstance(data, dict) else {}
            answers = {k: v for k, v in answers.items() if isinstance(v, dict) and "response" in v}
        except (OSError, ValueError, UnicodeDecodeError):
            answers = {}
        return cls(path, answers)

    def get(self, key: str) -> tuple[Any, str] | None:
        entry = self.answers.get(key)
        return (entry["response"], str(entry.get("fetched_at", ""))) if entry else None

    def put(self, key: str, response: Any, fetched_at: str) -> None:
        with self.lock:
            self.answers[key] = {"fetched_at": fetched_at, "response": response}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                partial = self.path.with_suffix(".tmp")
                partial.write_text(json.dumps({"answers": self.answers}, sort_keys=True), encoding="utf-8")
                partial.replace(self.path)
            except OSError:
                pass  # a cache that cannot be written costs only the offline fallback


def default_cache_path(state_dir: Path | None = None) -> Path:
    return (state_dir or default_state_dir()) / CACHE_FILE


def default_client(url: str | None = None) -> OsvClient:
    """The client a plan asks: `url`, else $UPGRADECTL_OSV_URL, else the public API; the shared cache. ValueError
    when the URL is not http(s)."""
    return OsvClient(url or os.environ.get("UPGRADECTL_OSV_URL") or OSV_API, cache=OsvCache.load(default_cache_path()))


class OsvClient:
    """Ask OSV, remember the answers, fall back to them when OSV cannot be reached.

    `offline`: never ask, answer from the cache only (default: UPGRADECTL_OFFLINE=1). `served_from` collects, per
    answer given, whether it was live or cached and when it was fetched, so a report can date its snapshot.
    """

    def __init__(
        self,
        url: str = OSV_API,
        *,
        cache: OsvCache | None = None,
        offline: bool | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--osv-url {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.cache = cache
        self.offline = overlay_disabled() if offline is None else offline
        self.timeout, self.attempts, self.backoff = timeout, max(1, attempts), backoff
        self.live: list[str] = []  # fetched_at of every live answer
        self.cached: list[str] = []  # fetched_at of every cached answer used
        self.unreachable = ""  # why OSV could not be reached, once it could not (later questions go to the cache)
        self._transport = transport
        self._http = self._new_client()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, transport=self._transport, follow_redirects=True,
                            headers={"User-Agent": "upgradectl-advisories"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OsvClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -------------------------------------------------------------- transport

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        url = f"{self.url}{path}"

        def attempt() -> Any:
            try:
                response = call_with_deadline(lambda: self._http.post(url, json=body), self.timeout,
                                              on_expiry=self._http.close)
            except DeadlineExceeded:
                raise _Retryable(f"{url} did not answer in full within {self.timeout:g}s") from None
            except httpx.ConnectError as exc:  # refused or no such host: nothing listens, or no network (offline)
                raise _Unreachable(f"{url}: {type(exc).__name__}: {exc}") from None
            except httpx.HTTPError as exc:  # timeouts, dropped connections: worth another try
                raise _Retryable(f"{url}: {type(exc).__name__}: {exc}") from None
            if response.status_code in RETRIED_STATUS:
                raise _Retryable(f"{url} answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise OsvError(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
            try:
                return response.json()
            except ValueError:
                raise OsvError(f"{url} answered with something that is not JSON") from None

        try:
            for tried in Retrying(stop=stop_after_attempt(self.attempts),
                                  wait=wait_exponential(multiplier=self.backoff, max=4),
                                  retry=retry_if_exception(lambda e: isinstance(e, _Retryable)), reraise=False):
                with tried:
                    if self._http.is_closed:  # a deadline closed it: a fresh client for the next try
                        self._http = self._new_client()
                    return attempt()
        except RetryError as exc:
            raise _Unreachable(str(exc.last_attempt.exception())) from None
        raise AssertionError("unreachable")

    def _ask(self, path: str, body: dict[str, Any]) -> Any:
        """A live answer (cached as it arrives), else the cached one; OsvError when there is neither."""
        key = path + " " + json.dumps(body, sort_keys=True)
        if not self.offline and not self.unreachable:
            try:
                answer = self._post(path, body)
            except _Unreachable as exc:
                self.unreachable = str(exc)
            else:
                now = datetime.now(UTC).isoformat(timespec="seconds")
                self.live.append(now)
                if self.cache is not None:
                    self.cache.put(key, answer, now)
                return answer
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is None:
            why = "offline (UPGRADECTL_OFFLINE=1)" if self.offline else f"OSV unreachable: {self.unreachable}"
            raise OsvError(f"{why}, and no cached answer for {_question(path, body)}")
        self.cached.append(hit[1])
        return hit[0]

    # -------------------------------------------------------------- API

    def query(self, question: PackageQuery) -> list[dict[str, Any]]:
        """Every advisory record affecting the package at that version (`/v1/query`, all pages)."""
        records: list[dict[str, Any]] = []
        token = ""
        for _ in range(MAX_PAGES):
            answer = self._ask("/v1/query", question.body(token))
            if not isinstance(answer, dict):
                raise OsvError(f"/v1/query for {question.describe()}: expected a JSON object")
            records.extend(v for v in answer.get("vulns") or [] if isinstance(v, dict) and v.get("id"))
            token = str(answer.get("next_page_token") or "")
            if not token:
                return records
        raise OsvError(f"/v1/query for {question.describe()}: more than {MAX_PAGES} pages")

    def query_ids(self, questions: list[PackageQuery]) -> list[set[str]]:
        """The advisory ids affecting each package version (`/v1/querybatch`, in the order asked, all pages)."""
        results: list[set[str]] = [set() for _ in questions]
        pending = [(i, q, "") for i, q in enumerate(questions)]
        for _ in range(MAX_PAGES):
            if not pending:
                return results
            chunk, pending = pending[:BATCH_LIMIT], pending[BATCH_LIMIT:]
            answer = self._ask("/v1/querybatch", {"queries": [q.body(token) for _, q, token in chunk]})
            rows = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(rows, list) or len(rows) != len(chunk):
                raise OsvError(f"/v1/querybatch: expected {len(chunk)} results in the order asked")
            for (index, question, _), row in zip(chunk, rows, strict=True):
                row = row if isinstance(row, dict) else {}
                vulns = row.get("vulns") or []
                results[index].update(str(v["id"]) for v in vulns if isinstance(v, dict) and v.get("id"))
                if row.get("next_page_token"):
                    pending.append((index, question, str(row["next_page_token"])))
        raise OsvError(f"/v1/querybatch: more than {MAX_PAGES} pages")

    def snapshot_date(self) -> tuple[str, str]:
        """('checked' | 'cached', when): live when every answer was live, else the oldest cached answer's date."""
        if self.cached:
            return "cached", min(self.cached)
        return "checked", max(self.live, default="")


def _question(path: str, body: dict[str, Any]) -> str:
    """'/v1/query Go github.com/fluxcd/flux2/v2@2.2.3' or '/v1/querybatch (3 versions)': for messages."""
    package = body.get("package") or {}
    if package:
        return f"{path} {package.get('ecosystem')} {package.get('name')}@{body.get('version')}"
    return f"{path} ({len(body.get('queries') or [])} versions)"


class _Unreachable(Exception):
    """Every attempt failed to get an answer (network, timeout, 429/5xx)."""
