"""A Slack-compatible incoming webhook on loopback for tests: it accepts `POST` with a JSON body carrying `text`
(Slack's documented incoming-webhook payload) and answers `200 ok`, as Slack does; `fail_with` makes it answer
an error status instead. Every accepted message is kept in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from loopback_http import LoopbackServer, QuietHandler


@dataclass
class Receiver:
    url: str
    messages: list[str] = field(default_factory=list)
    fail_with: int = 0


@contextmanager
def webhook_receiver(path: str = "/services/T000/B000/XXXX") -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.read_body()
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
            self.send_body(status, answer, "text/plain")

    with LoopbackServer(Handler) as served:
        receiver.url = served.url + path
        yield receiver
