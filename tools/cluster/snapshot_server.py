"""Serve a snapshot as a read-only Kubernetes API over HTTP on loopback (stdlib ThreadingHTTPServer).

kubectl and the official Python client talk to it as to a cluster: discovery, list and get, for core
and custom resources, cluster-scoped and namespaced. Any other verb gets 405 with a Status body. JSON
only: clients asking for a Table (kubectl) or protobuf get plain JSON lists, which they accept. The
`Date` header is the snapshot's recorded_at: a served snapshot is a cluster frozen at that moment.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from upgradectl.tools.cluster.snapshot_api import APIError, ServedType, SnapshotAPI, to_json

log = logging.getLogger("upgradectl.serve_snapshot")

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    """A metav1.Status, the body the API server sends with every error."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class SnapshotRequestHandler(BaseHTTPRequestHandler):
    """Routes GETs to the SnapshotAPI; refuses everything that would change something."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for delayed ACKs
    server_version = "upgradectl-serve-snapshot"
    api: SnapshotAPI  # set on the subclass made by make_server
    on_request: Callable[[str, str, int], None] | None = None

    # --------------------------------------------------------------- plumbing

    def date_time_string(self, timestamp: float | None = None) -> str:
        return format_datetime(self.api.recorded_at(), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's signature)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        if self.on_request:
            self.on_request(self.command, self.path, code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, code: int, reason: str, message: str) -> None:
        self._send(code, to_json(status_body(code, reason, message)))

    def _refuse(self) -> None:
        """405 for anything that would write: the snapshot is read-only, and so is upgradectl."""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._error(
            405,
            "MethodNotAllowed",
            f"{self.command} is not allowed: this is a read-only snapshot served by upgradectl (only GET works)",
        )

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse  # noqa: N815 (http.server's names)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        try:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._send(200, *self._route([unquote(p) for p in url.path.split("/") if p], query))
        except APIError as exc:
            self._error(exc.code, exc.reason, exc.message)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a bug must answer 500, not kill the connection silently
            log.exception("internal error answering %s", self.path)
            self._error(500, "InternalError", f"internal error: {type(exc).__name__}: {exc}")

    # --------------------------------------------------------------- routes

    def _route(self, parts: list[str], query: dict[str, str]) -> tuple[bytes] | tuple[bytes, str]:
        api = self.api
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return (b"ok", "text/plain")
        if parts == ["version"]:
            return (to_json(api.version()),)
        if parts == ["api"]:
            return (to_json(api.api_versions()),)
        if parts == ["apis"]:
            return (to_json(api.api_group_list()),)
        if len(parts) == 2 and parts[0] == "apis":
            return (to_json(api.api_group(parts[1])),)
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return (to_json(api.resource_list(group, version)),)
        if query.get("watch") in ("true", "1"):
            raise APIError(405, "MethodNotAllowed", "watch is not supported: a snapshot never changes")
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        served = api.served_type(group, version, rest[0])
        if namespace and not served.namespaced:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        if len(rest) == 1:
            return (to_json(self._list(served, namespace, query)),)
        if len(rest) == 2 or (len(rest) == 3 and rest[2] == "status"):
            if served.namespaced != bool(namespace):
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            return (to_json(api.get(served, namespace, rest[1])),)
        raise APIError(404, "NotFound", f"subresource {'/'.join(rest[2:])} is not served by a snapshot")

    def _list(self, served: ServedType, namespace: str | None, query: dict[str, str]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise APIError(400, "BadRequest", f"limit must be a number: {query.get('limit')!r}") from None
        return self.api.list(
            served,
            namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=limit,
            continue_token=query.get("continue", ""),
        )


def make_server(
    api: SnapshotAPI,
    port: int = 0,
    host: str = "127.0.0.1",
    on_request: Callable[[str, str, int], None] | None = None,
) -> ThreadingHTTPServer:
    """Bind a server for this snapshot (port 0: any free port); call serve_forever() to answer."""
    bound = {"api": api, "on_request": staticmethod(on_request) if on_request else None}
    handler = type("BoundSnapshotHandler", (SnapshotRequestHandler,), bound)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def kubeconfig_for(url: str, name: str) -> dict[str, Any]:
    """A kubeconfig with one context, named after the snapshot's cluster, pointing at the server."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"snapshot-{name}", "cluster": {"server": url}}],
        "users": [{"name": "snapshot-reader", "user": {"token": "read-only-snapshot"}}],
        "contexts": [{"name": name, "context": {"cluster": f"snapshot-{name}", "user": "snapshot-reader"}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    """Write a kubeconfig atomically (readers never see half a file), readable only by its owner."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(yaml.safe_dump(config, sort_keys=False))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
