"""A read-only client for any Prometheus-compatible HTTP API (VictoriaMetrics, Prometheus, Thanos...).

It speaks only the endpoints both VictoriaMetrics and Prometheus serve: `/api/v1/query`,
`/api/v1/query_range`, `/api/v1/series`, `/api/v1/label/<name>/values` and `/api/v1/status/tsdb`.
Every request has a whole-request deadline (`timeout`, connect to last byte: a server trickling bytes
cannot hold a command past it); connection errors, timeouts, 429 and 5xx are retried a bounded number of
times with exponential backoff (tenacity); a query the server rejects (400/422) is not retried. Once a
source has timed out or refused every attempt, later queries to it fail at once with the same error
(one unreachable source costs one query's attempts, not every gate's).
Errors are `PromQLError`s that carry the URL and the query and say what to fix. Results are bounded
(series, points, bytes) and say what was cut, so a careless query cannot flood a report or a prompt.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from upgradectl.tools.deadline import DeadlineExceeded, call_with_deadline

ErrorKind = Literal["unreachable", "rejected", "server", "bad_response", "too_large"]
RETRIED_STATUS = {429, 500, 502, 503, 504}


class PromQLError(RuntimeError):
    """A metrics query that failed; `kind` says whether the source, the query or the answer was wrong."""

    def __init__(self, kind: ErrorKind, url: str, query: str, reason: str, hint: str = ""):
        self.kind, self.url, self.query, self.reason, self.hint = kind, url, query, reason, hint
        text = f"{reason} (query {query!r} at {url})" if query else f"{reason} ({url})"
        super().__init__(f"{text}; {hint}" if hint else text)


class _Retryable(Exception):
    """Internal: a failure worth another attempt (carries the error to raise when attempts run out)."""

    def __init__(self, error: PromQLError):
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Series:
    """One series of a result: its labels and (timestamp seconds, value) points; NaN kept as float('nan')."""

    labels: dict[str, str]
    points: list[tuple[float, float]]

    def describe(self) -> str:
        """`{a="b", c="d"}` (or `{}` for an aggregate without labels)."""
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return "{" + inner + "}"


@dataclass(frozen=True)
class QueryResult:
    """A bounded query answer: `cut` tells how many series or points were dropped, and why."""

    query: str
    result_type: str
    series: list[Series]
    cut: str = ""

    @property
    def scalar(self) -> float | None:
        """The single value of a one-series instant result, else None."""
        if len(self.series) == 1 and self.series[0].points:
            return self.series[0].points[-1][1]
        return None


def to_unix(moment: datetime | float | None) -> float:
    """Seconds since the epoch for an aware datetime, a number, or now when None."""
    if moment is None:
        return datetime.now(UTC).timestamp()
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"time {moment.isoformat()} has no timezone; use UTC, e.g. 2026-11-20T09:00:00Z")
        return moment.timestamp()
    return float(moment)


def _value(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


class PromClient:
    """Queries one Prometheus-compatible endpoint; construct one per base URL and close it (or use `with`)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.2,
        max_series: int = 200,
        max_points: int = 2000,
        max_bytes: int = 8_000_000,
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"metrics URL {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_series, self.max_points, self.max_bytes = max_series, max_points, max_bytes
        self.timeout = timeout
        self._transport = transport
        self._down: PromQLError | None = None  # set when the source was unreachable after every attempt
        self._http = self._new_http()

    def _new_http(self) -> httpx.Client:
        loopback = httpx.URL(self.base_url).host in ("127.0.0.1", "localhost", "::1")
        return httpx.Client(
            timeout=self.timeout,
            transport=self._transport,
            headers={"Accept": "application/json"},
            trust_env=not loopback,  # HTTP(S)_PROXY from the environment, but never for a loopback server
        )

    def __enter__(self) -> PromClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ----------------------------------------------------------------------------------- API calls

    def query(self, promql: str, at: datetime | float | None = None) -> QueryResult:
        """Instant query evaluated at `at` (default now)."""
        data = self._get("/api/v1/query", {"query": promql, "time": f"{to_unix(at):.3f}"}, promql)
        return self._result(promql, data)

    def query_range(
        self, promql: str, start: datetime | float, end: datetime | float, step_seconds: float
    ) -> QueryResult:
        """Range query over [start, end] every `step_seconds`; `nocache=1` keeps VictoriaMetrics from
        aligning the window to the step (Prometheus ignores the parameter)."""
        params = {
            "query": promql,
            "start": f"{to_unix(start):.3f}",
            "end": f"{to_unix(end):.3f}",
            "step": f"{step_seconds:g}s",
            "nocache": "1",
        }
        return self._result(promql, self._get("/api/v1/query_range", params, promql))

    def series(
        self, match: str, start: datetime | float | None = None, end: datetime | float | None = None
    ) -> tuple[list[dict[str, str]], str]:
        """Label sets of the series a selector matches in [start, end]; the second item says what was cut."""
        params = {"match[]": match, **self._span(start, end)}
        data = self._get("/api/v1/series", params, match)
        if not isinstance(data, list):
            raise self._bad(match, "series answer is not a list")
        cut = ""
        if len(data) > self.max_series:
            cut = f"{len(data) - self.max_series} of {len(data)} series not shown; add label matchers to narrow"
        return [dict(s) for s in data[: self.max_series]], cut

    def label_values(
        self,
        label: str,
        match: str | None = None,
        start: datetime | float | None = None,
        end: datetime | float | None = None,
    ) -> list[str]:
        """Values of one label (`__name__` for metric names), optionally only on series `match` selects."""
        params = self._span(start, end)
        if match:
            params["match[]"] = match
        data = self._get(f"/api/v1/label/{label}/values", params, match or label)
        if not isinstance(data, list):
            raise self._bad(match or label, "label values answer is not a list")
        return sorted(str(v) for v in data)

    def tsdb_status(self, date: str = "") -> dict[str, Any]:
        """`/api/v1/status/tsdb`: VictoriaMetrics answers for one day (`date=YYYY-MM-DD`, totalSeries);
        Prometheus for its head block only (headStats.numSeries) and ignores `date`."""
        params = {"topN": "5"}
        if date:
            params["date"] = date
        data = self._get("/api/v1/status/tsdb", params, "")
        if not isinstance(data, dict):
            raise self._bad("", "tsdb status answer is not an object")
        return data

    def alerts(self) -> list[dict[str, Any]]:
        """`/api/v1/alerts`: every active (pending or firing) alert, as Prometheus, vmalert and VictoriaMetrics
        (with -vmalert.proxyURL) serve it: labels, annotations, state, activeAt, value."""
        data = self._get("/api/v1/alerts", {}, "")
        alerts = data.get("alerts") if isinstance(data, dict) else None
        if not isinstance(alerts, list):
            raise self._bad("", "alerts answer has no alerts list")
        return [a for a in alerts if isinstance(a, dict)][: self.max_series]

    # ------------------------------------------------------------------------------------ internals

    @staticmethod
    def _span(start: datetime | float | None, end: datetime | float | None) -> dict[str, str]:
        params = {}
        if start is not None:
            params["start"] = f"{to_unix(start):.3f}"
        if end is not None:
            params["end"] = f"{to_unix(end):.3f}"
        return params

    def _bad(self, query: str, reason: str) -> PromQLError:
        return PromQLError(
            "bad_response", self.base_url, query, reason, "is this URL a Prometheus-compatible API root?"
        )

    def _get(self, path: str, params: dict[str, str], query: str) -> Any:
        if self._down is not None:
            down = self._down
            raise PromQLError(down.kind, down.url, query, f"{down.reason} (an earlier query)", down.hint)
        try:
            return self._get_with_retries(path, params, query)
        except PromQLError as exc:
            if exc.kind == "unreachable":
                self._down = exc
            raise

    def _get_with_retries(self, path: str, params: dict[str, str], query: str) -> Any:
        url = self.base_url + path

        def within_deadline() -> Any:
            http = self._http
            try:
                return call_with_deadline(lambda: fetch(http), self.timeout, on_expiry=http.close)
            except DeadlineExceeded:
                self._http = self._new_http()  # the old one was closed to stop the abandoned read
                raise _Retryable(
                    PromQLError("unreachable", self.base_url, query,
                                f"no complete answer within {self.timeout:g}s (the whole request's deadline)",
                                "the server is slow or trickling its answer; raise --timeout or narrow the query")
                ) from None  # fmt: skip

        def fetch(http: httpx.Client) -> Any:
            try:
                with http.stream("GET", url, params=params) as response:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > self.max_bytes:
                            raise PromQLError(
                                "too_large", self.base_url, query,
                                f"answer larger than {self.max_bytes // 1_000_000} MB",
                                "aggregate (sum/max by a few labels) or add label matchers",
                            )  # fmt: skip
                    status = response.status_code
            except httpx.TimeoutException as exc:
                raise _Retryable(
                    PromQLError("unreachable", self.base_url, query, f"timed out ({type(exc).__name__})",
                                "the server is slow or down; raise --timeout or narrow the query")
                ) from exc  # fmt: skip
            except httpx.TransportError as exc:
                raise _Retryable(
                    PromQLError("unreachable", self.base_url, query, f"cannot connect: {exc}",
                                "check metrics_url in the fleet file (or --metrics-url) and that the server runs")
                ) from exc  # fmt: skip
            return self._decode(status, bytes(body), query)

        try:
            for attempt in Retrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=self.backoff, max=5),
                retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
                reraise=True,
            ):
                with attempt:
                    return within_deadline()
        except _Retryable as exc:
            raise exc.error from None
        except RetryError as exc:  # pragma: no cover - reraise=True makes this unreachable
            raise PromQLError("unreachable", self.base_url, query, str(exc)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _decode(self, status: int, body: bytes, query: str) -> Any:
        try:
            payload = json.loads(body) if body else {}
        except json.JSONDecodeError:
            payload = {}
        error = payload.get("error", "") if isinstance(payload, dict) else ""
        if status in RETRIED_STATUS:
            raise _Retryable(
                PromQLError("server", self.base_url, query, f"HTTP {status}: {error or body[:200]!r}",
                            "the server is overloaded or failing; retry later")
            )  # fmt: skip
        if status in (400, 422):
            raise PromQLError(
                "rejected", self.base_url, query, f"the server rejected the query: {error or status}",
                "fix the PromQL (metric and label names, brackets, function arguments)",
            )  # fmt: skip
        if status >= 300:
            raise PromQLError(
                "server", self.base_url, query, f"HTTP {status}: {error or body[:200]!r}",
                "check the URL path and any auth proxy in front of the server",
            )  # fmt: skip
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise self._bad(query, f"no success status in answer: {body[:200]!r}")
        return payload.get("data")

    def _result(self, promql: str, data: Any) -> QueryResult:
        if not isinstance(data, dict) or "resultType" not in data:
            raise self._bad(promql, "answer has no resultType")
        kind = data["resultType"]
        raw = data.get("result")
        series: list[Series] = []
        if kind in ("scalar", "string"):
            raw_list = [{"metric": {}, "value": raw}]
        elif isinstance(raw, list):
            raw_list = raw
        else:
            raise self._bad(promql, f"result of type {kind} is not a list")
        cuts = []
        if len(raw_list) > self.max_series:
            cuts.append(
                f"{len(raw_list) - self.max_series} of {len(raw_list)} series not shown; "
                "aggregate the query (sum/max by fewer labels) or add label matchers"
            )
            raw_list = raw_list[: self.max_series]
        trimmed = 0
        for item in raw_list:
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            if "value" in item and item["value"] is not None:
                points = [(float(item["value"][0]), _value(item["value"][1]))]
            else:
                points = [(float(t), _value(v)) for t, v in item.get("values") or []]
            if len(points) > self.max_points:
                trimmed += len(points) - self.max_points
                points = points[-self.max_points :]
            series.append(Series(labels, points))
        if trimmed:
            cuts.append(f"{trimmed} oldest points not shown (over {self.max_points} per series); use a larger step")
        return QueryResult(promql, kind, series, "; ".join(cuts))
