"""Fake HTTP servers on loopback for tests: `LoopbackServer` serves a request handler class on 127.0.0.1 (a free
port) from a daemon thread and always stops and closes it; `QuietHandler` is a handler base that logs nothing and
answers with one call (`send_json`, `send_body`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler
from typing import Self


class LoopbackServer:
    """Serves `handler` until `close()` or the end of a `with` block; `url` is http://127.0.0.1:<port>."""

    def __init__(self, handler: Callable[..., BaseRequestHandler], poll_interval: float = 0.5):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True)
        serve.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log each request to stderr, with helpers to read a body and answer."""

    def log_message(self, *args: object) -> None:
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_body(self, status: int, data: bytes, content_type: str | None = "application/json") -> None:
        """Answer `status` with `data` and its Content-Length (and Content-Type unless None)."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, body: object) -> None:
        self.send_body(status, json.dumps(body).encode())
