"""A Messages API on 127.0.0.1 for the real `anthropic` SDK to talk to, with no network and no key.

The HTTP plumbing shared by the eval replay server (evals/replay.py) and the scripted model the tests
use (tests/scripted_anthropic.py): a threaded server on a random loopback port that accepts only
`POST /v1/messages` with a JSON body and answers whatever `respond` returns. Subclasses decide what
to answer; nothing here knows about scripts or recordings.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON payload, extra headers


def api_error(kind: str, message: str) -> dict[str, Any]:
    """The Messages API's error body."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def first_user_text(body: dict[str, Any]) -> str:
    """The first user message's text (a string, or its text blocks joined): a conversation's identity."""
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content or [] if b.get("type") == "text")
    return ""


def turn_index(body: dict[str, Any]) -> int:
    """How many assistant turns the request carries: the turn the model is asked for."""
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


class LoopbackMessagesAPI:
    """Serve `respond(body, raw)` as POST /v1/messages on 127.0.0.1 (random port); use as a context manager."""

    request_id_prefix = "req_loopback"

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, body: dict[str, Any], raw: str) -> Answer:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test and eval output quiet
                return

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                if not self.path.rstrip("/").endswith("/v1/messages"):
                    self._send(404, api_error("not_found_error", f"only /v1/messages is served, not {self.path}"), {})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, api_error("invalid_request_error", "request body is not JSON"), {})
                    return
                self._send(*api.respond(body, raw))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"{api.request_id_prefix}_{status}")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
