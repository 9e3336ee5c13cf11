"""Read-only access to a Kubernetes API server: the one way upgradectl talks to a live cluster.

Built on the official `kubernetes` client: kubeconfig loading and authentication (tokens, client
certificates, exec plugins such as `aws eks get-token`), TLS and proxies come from it, and API
discovery uses its dynamic client. Every HTTP request goes through `_GetOnlyApiClient.call_api`, which

- refuses any method but GET before anything is sent: no code path can change a cluster;
- sets a timeout on every call (connect and read);
- retries 429, 5xx and connection errors a bounded number of times with backoff (honouring
  Retry-After), then gives up with a `SourceError` that names the cluster, what failed and the fix.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import list_kube_config_contexts, load_kube_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import LazyDiscoverer
from kubernetes.dynamic.resource import Resource, ResourceList
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from upgradectl.tools.cluster.sources import ResourceType, SourceError
from upgradectl.tools.deadline import DeadlineExceeded, call_with_deadline
from upgradectl.tools.textfiles import load_yaml_file, type_name

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0  # seconds per request; UPGRADECTL_KUBE_TIMEOUT overrides
ATTEMPTS = 4  # tries per request; UPGRADECTL_KUBE_ATTEMPTS overrides
PAGE_SIZE = 500
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _env_number(name: str, default: float) -> float:
    """A positive number from the environment, or the default when unset; a clear error when it is not one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise SourceError(f"{name}={raw!r} is not a positive number: set it to one (default {default:g}) or unset it")
    return value


class ReadOnlyViolation(RuntimeError):
    """Something asked the read-only client to send a request that is not a GET."""


class KubeRequestError(SourceError):
    """A request that failed for good; `status` is the HTTP status (None when the server was unreachable)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServedResource(ResourceType):
    """A resource the API server lists in discovery, at one group/version."""

    verbs: tuple[str, ...] = ()
    preferred: bool = False  # this group/version is the group's preferred version

    @property
    def listable(self) -> bool:
        return "list" in self.verbs

    def path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


class _Retryable(Exception):
    """A response worth retrying (429/5xx); carries it so the last one can be reported."""

    def __init__(self, response: Any):
        super().__init__(f"HTTP {response.status}")
        self.response = response


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, _Retryable):
        return True
    if isinstance(exc, urllib3.exceptions.SSLError):
        return False
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


def _wait(state: RetryCallState) -> float:
    """Exponential backoff (0.5s, 1s, 2s...) capped at 8s; a server's Retry-After wins, up to 10s."""
    backoff = min(0.5 * 2 ** (state.attempt_number - 1), 8.0)
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, _Retryable):
        try:
            return min(max(float(exc.response.headers.get("Retry-After", "")), backoff), 10.0)
        except ValueError:
            pass
    return backoff


class _GetOnlyApiClient(ApiClient):
    """An ApiClient that can only GET, always with a timeout, with bounded retries."""

    def __init__(self, configuration: Configuration, read_timeout: float, attempts: int):
        super().__init__(configuration)
        self.read_timeout = read_timeout
        self.attempts = max(1, attempts)
        self.server_date: datetime | None = None

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        if str(method).upper() != "GET" or body is not None or post_params:
            raise ReadOnlyViolation(f"upgradectl is read-only: refused {method} {url}")
        timeout = _request_timeout or (CONNECT_TIMEOUT, self.read_timeout)
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.read_timeout * 2),
            wait=_wait,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        tries = 0
        try:
            for attempt in retrying:
                with attempt:
                    tries += 1
                    response = self._within_deadline(url, header_params, timeout)
                    if response.status in RETRY_STATUSES:
                        response.read()
                        raise _Retryable(response)
        except _Retryable as exc:
            error = ApiException(http_resp=exc.response)
            error.attempts = tries  # type: ignore[attr-defined]
            raise error from None
        except Exception as exc:
            exc.attempts = tries  # type: ignore[attr-defined]  # for the error message
            raise
        if self.server_date is None:
            self.server_date = _parse_date(response.headers.get("Date"))
        return response


    def _within_deadline(self, url: str, header_params: Any, timeout: Any) -> Any:
        """One GET, body included, within connect + read timeout in total (urllib3 times each read, so a server
        trickling bytes would otherwise hold the call for as long as it likes)."""
        seconds = CONNECT_TIMEOUT + self.read_timeout

        def get_and_read() -> Any:
            response = ApiClient.call_api(self, "GET", url, header_params, None, None, timeout)
            response.read()  # the body, inside the deadline (RESTResponse keeps it for the caller)
            return response

        try:
            return call_with_deadline(get_and_read, seconds, on_expiry=self.rest_client.pool_manager.clear)
        except DeadlineExceeded:
            raise urllib3.exceptions.ReadTimeoutError(None, url, f"no complete answer within {seconds:g}s") from None


def _parse_date(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


class _InMemoryDiscoverer(LazyDiscoverer):
    """The dynamic client's discovery, kept in memory: no shared cache file in /tmp that can go stale."""

    def _write_cache(self) -> None:
        pass


def kubeconfig_path(kubeconfig: str | None) -> str:
    """The kubeconfig file(s) to read: --kubeconfig, else $KUBECONFIG, else ~/.kube/config."""
    return os.path.expanduser(kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config")


def check_kubeconfig(path: str) -> None:
    """Refuse a kubeconfig that is not a YAML mapping before the client reads it (its parser errors quote
    the file, and a YAML error escaped it as a crash); each file of a KUBECONFIG list is checked."""
    for part in [p for p in path.split(os.pathsep) if p]:
        file = Path(part)
        if not file.is_file():
            continue  # a missing file is the client's to report (kubectl skips missing KUBECONFIG entries)
        config = load_yaml_file(file, "kubeconfig", SourceError)
        if not isinstance(config, dict):
            raise SourceError(
                f"kubeconfig {file} is not a kubeconfig (expected a mapping with clusters, contexts and users, "
                f"found {type_name(config)}); pass --kubeconfig FILE or set KUBECONFIG"
            )


def current_context(kubeconfig: str | None) -> str:
    """The kubeconfig's current-context (what kubectl uses without --context)."""
    path = kubeconfig_path(kubeconfig)
    check_kubeconfig(path)
    try:
        _, current = list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError) as exc:
        raise SourceError(f"cannot read kubeconfig {path}: {exc}; pass --kubeconfig FILE or set KUBECONFIG") from exc
    if not current:
        raise SourceError(f"kubeconfig {path} has no current-context; pass --context NAME")
    return str(current["name"])


class KubeReader:
    """GET-only view of one API server, reached through one kube context."""

    def __init__(self, api: _GetOnlyApiClient, label: str):
        self._api = api
        self.label = label  # "context ravan" (used in every error message)
        self.server = api.configuration.host

    @classmethod
    def from_kubeconfig(
        cls,
        context: str | None,
        kubeconfig: str | None = None,
        *,
        read_timeout: float | None = None,
        attempts: int | None = None,
    ) -> KubeReader:
        """Load a context from a kubeconfig (never writing back refreshed credentials). The timeout and the
        attempts default to the environment's settings, read now (not at import) so a long-lived process sees them."""
        read_timeout = _env_number("UPGRADECTL_KUBE_TIMEOUT", READ_TIMEOUT) if read_timeout is None else read_timeout
        attempts = int(_env_number("UPGRADECTL_KUBE_ATTEMPTS", ATTEMPTS)) if attempts is None else attempts
        path = kubeconfig_path(kubeconfig)
        check_kubeconfig(path)
        config = Configuration()
        try:
            load_kube_config(config_file=path, context=context, client_configuration=config, persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            known = ""
            try:
                contexts, _ = list_kube_config_contexts(config_file=path)
                known = f" (contexts there: {', '.join(c['name'] for c in contexts) or 'none'})"
            except (ConfigException, OSError, ValueError, TypeError, KeyError):
                pass
            raise SourceError(
                f"kube context {context or '(current)'} cannot be loaded from {path}{known}: {exc}; "
                "check the name with `kubectl config get-contexts` or pass --kubeconfig FILE"
            ) from exc
        config.retries = False  # tenacity retries, bounded, in one place
        return cls(_GetOnlyApiClient(config, read_timeout, attempts), f"context {context or '(current)'}")

    @property
    def server_date(self) -> datetime | None:
        """The API server's clock (Date header of its first response): what its timestamps were written with."""
        return self._api.server_date

    def get(self, path: str, query: dict[str, Any] | None = None, *, what: str = "") -> dict[str, Any]:
        """GET one JSON document."""
        url = self.server + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "User-Agent": "upgradectl (read-only)"}
        try:
            response = self._api.call_api("GET", url, header_params=headers)
            data = response.read()
            if not 200 <= response.status <= 299:
                raise ApiException(http_resp=response)
            return json.loads(data)
        except ApiException as exc:
            raise self._error(what or f"GET {path}", exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error(what or f"GET {path}", exc) from None
        except ConfigException as exc:  # an exec credential plugin failed while refreshing a token
            raise self._credentials_error(what or f"GET {path}", exc) from None
        except json.JSONDecodeError as exc:
            raise KubeRequestError(f"{self.label}: {what or 'GET ' + path} did not return JSON: {exc}") from None

    def list_pages(
        self,
        resource: ServedResource,
        *,
        field_selector: str = "",
        label_selector: str = "",
        page_size: int = PAGE_SIZE,
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """List a resource in all namespaces, one page (`limit`/`continue`) at a time.

        Yields (items, remaining) where remaining is the server's remainingItemCount, if it sent one.
        An expired continue token (410 Gone) restarts the list once, as kubectl does.
        """
        what = f"listing {resource.plural}" + (f".{resource.group}" if resource.group else "")
        restarted = False
        token = ""
        while True:
            query: dict[str, Any] = {"limit": page_size}
            if token:
                query["continue"] = token
            if field_selector:
                query["fieldSelector"] = field_selector
            if label_selector:
                query["labelSelector"] = label_selector
            try:
                page = self.get(resource.path(), query, what=f"{what} (GET {resource.path()})")
            except KubeRequestError as exc:
                if token and not restarted and exc.status == 410:
                    restarted, token = True, ""
                    continue
                raise
            meta = page.get("metadata") or {}
            remaining = meta.get("remainingItemCount")
            yield page.get("items") or [], int(remaining) if isinstance(remaining, int) else None
            token = meta.get("continue") or ""
            if not token:
                return

    def discover(self) -> list[ServedResource]:
        """Every resource the server serves (no subresources), via the official dynamic client's discovery."""
        cache = os.path.join(tempfile.gettempdir(), f"upgradectl-discovery-{uuid.uuid4().hex}.json")  # never written
        try:
            dynamic = DynamicClient(self._api, cache_file=cache, discoverer=_InMemoryDiscoverer)
            found: list[ServedResource] = []
            for entry in dynamic.resources:
                for resource in entry if isinstance(entry, list) else [entry]:
                    if not isinstance(resource, Resource) or isinstance(resource, ResourceList):
                        continue
                    if not resource.name or "/" in resource.name:
                        continue
                    found.append(
                        ServedResource(
                            group=resource.group or "",
                            version=resource.api_version,
                            plural=resource.name,
                            kind=resource.kind,
                            namespaced=bool(resource.namespaced),
                            verbs=tuple(resource.verbs or ()),
                            preferred=bool(resource.preferred),
                        )
                    )
            return found
        except ApiException as exc:
            raise self._error("discovering the served API resources (GET /api, /apis)", exc) from None
        except ConfigException as exc:
            raise self._credentials_error("discovering the served API resources", exc) from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise self._error("discovering the served API resources (GET /api, /apis)", exc) from None

    def _credentials_error(self, what: str, exc: ConfigException) -> KubeRequestError:
        return KubeRequestError(
            f"{self.label} ({self.server}): {what} failed: the credentials could not be refreshed ({exc}); "
            "check the kubeconfig's auth plugin (e.g. `aws sts get-caller-identity`, `gcloud auth login`)"
        )

    def _error(self, what: str, exc: BaseException) -> KubeRequestError:
        """A SourceError that says which cluster, what failed, why, and how to fix it."""
        where = f"{self.label} ({self.server})"
        status = getattr(exc, "status", None)
        tries = getattr(exc, "attempts", 1)
        if isinstance(exc, ApiException) and status:
            message = _status_message(exc)
            fixes = {
                401: "the credentials were rejected; refresh them (e.g. `aws eks update-kubeconfig`, "
                "`gcloud container clusters get-credentials`) and retry",
                403: "this identity may not read it; grant get/list on it (a read-only ClusterRole such as "
                "`view`, plus list on Secrets for Helm release records) or use a context that can",
                404: "the server does not serve it; check the context points at the intended cluster",
            }
            fix = fixes.get(status) or (
                f"the API server kept failing ({tries} attempts); retry later or check its health"
                if status in RETRY_STATUSES
                else "check the API server and retry"
            )
            return KubeRequestError(f"{where}: {what} failed: HTTP {status} {exc.reason or ''}{message}; {fix}", status)
        if isinstance(exc, ApiException):  # status 0: TLS trouble reported by the client
            return KubeRequestError(
                f"{where}: {what} failed: {exc.reason}; check the CA and server name in the kubeconfig"
            )
        reason = getattr(exc, "reason", None) or exc
        if any(_timed_out(e) for e in (exc, reason)):
            return KubeRequestError(
                f"{where}: {what} timed out (connect {CONNECT_TIMEOUT:g}s, read {self._api.read_timeout:g}s; "
                f"{tries} attempts); check the network path to the API server, or raise "
                "UPGRADECTL_KUBE_TIMEOUT for a slow one"
            )
        return KubeRequestError(
            f"{where}: {what} failed after {tries} attempts: cannot reach the API server ({reason}); "
            "check the endpoint, VPN/network access and that the cluster is running"
        )


def _timed_out(exc: object) -> bool:
    """A timeout, not a refused connection (urllib3's NewConnectionError subclasses its timeout error)."""
    timeouts = (urllib3.exceptions.TimeoutError, TimeoutError)
    return isinstance(exc, timeouts) and not isinstance(exc, urllib3.exceptions.NewConnectionError)


def _status_message(exc: ApiException) -> str:
    """The `message` of a Kubernetes Status body, if the error carried one."""
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else ""
    return f" ({message})" if message else ""
