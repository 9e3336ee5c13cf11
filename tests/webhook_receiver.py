"""A Slack-compatible incoming webhook on loopback for tests: it accepts `POST` with a JSON body carrying `text`
(Slack's documented incoming-webhook payload) and answers `200 ok`, as Slack does; `fail_with` makes it answer
an error status instead. Every accepted message is kept in order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    url: str
    messages: list[str] = field(default_factory=list)
    fail_with: int = 0


@contextmanager
def webhook_receiver(path: str = "/services/T000/B000/XXXX") -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = 200, b"ok"
            if receiver.fail_with:
                status, answer = receiver.fail_with, b"server_error"
            elif self.path != path:
                status, answer = 404, b"no_service"
            else:
                try:
                    text = json.loads(body)["text"]
                except (ValueError, KeyError, TypeError):
                    status, answer = 400, b"invalid_payload"
                else:
                    receiver.messages.append(text)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
