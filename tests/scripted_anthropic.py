"""A scripted Anthropic Messages API on 127.0.0.1: real HTTP, so the real SDK code path runs in tests.

Conversations are matched by a substring of the first user message (e.g. "Task id: breaking-changes"),
so parallel agent tasks each get their own script regardless of arrival order. A request's turn is
the number of assistant messages it carries; each turn is a list of replies served in order on
repeated requests (the last one repeats), which is how a 529 followed by a 200 is scripted. Every
request body is recorded (raw text and parsed JSON) and every usage reported is kept, so tests can
search what was sent and compare token accounting. Unscripted conversations get a harmless default:
`submit_findings` with no findings, or a minimal structured-output answer.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from upgradectl.evals import messages_api
from upgradectl.evals.messages_api import Answer, LoopbackMessagesAPI, first_user_text
from upgradectl.evals.messages_api import turn_index as assistant_turns

FAKE_KEY = "sk-ant-test-scripted-not-a-real-key"


@dataclass
class Reply:
    """One scripted HTTP response: a Message (status 200) or an API error."""

    content: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    stop_reason: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str = ""


def tool_use(name: str, arguments: dict[str, Any], id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": id, "name": name, "input": arguments}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def turn(*blocks: dict[str, Any], input_tokens: int = 1200, output_tokens: int = 80, cache_write: int = 0,
         cache_read: int = 0) -> Reply:
    """A 200 reply; stop_reason tool_use when it calls a tool."""
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
             "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read}
    return Reply(content=list(blocks), stop_reason=stop, usage=usage)


def submit(findings: list[dict[str, Any]], id: str, **usage: int) -> Reply:
    return turn(tool_use("submit_findings", {"findings": findings}, id), **usage)


def json_reply(value: dict[str, Any], **usage: int) -> Reply:
    """A structured-output answer: the JSON document as the text block."""
    return turn(text(json.dumps(value)), **usage)


def api_error(status: int, error_type: str, retry_after: str | None = "0") -> Reply:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Reply(status=status, error_type=error_type, headers=headers)


def overloaded(retry_after: str | None = "0") -> Reply:
    return api_error(529, "overloaded_error", retry_after)


@dataclass
class Conversation:
    """Turns for the conversation whose first user message contains `match`."""

    match: str
    turns: list[list[Reply]]


@dataclass
class Served:
    """What the server answered for one request."""

    conversation: str
    turn: int
    status: int
    usage: dict[str, int]


class ScriptedAnthropic(LoopbackMessagesAPI):
    """Serve a script on 127.0.0.1 (a random port); record every request."""

    request_id_prefix = "req_scripted"

    def __init__(self, conversations: list[Conversation] | None = None, default_error: Reply | None = None):
        self.conversations = conversations or []
        self.default_error = default_error  # when set, every unscripted request gets this (e.g. persistent 529)
        self.bodies: list[str] = []
        self.served: list[Served] = []
        self._attempts: dict[tuple[str, int], int] = defaultdict(int)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__()

    def env(self) -> dict[str, str]:
        """Environment that points the real SDK (in-process or a CLI subprocess) at this server."""
        return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": FAKE_KEY}

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(b) for b in self.bodies]

    def reported_usage(self) -> dict[str, int]:
        """Sum of the usage of every 200 response served."""
        total: dict[str, int] = defaultdict(int)
        with self._lock:
            for s in self.served:
                if s.status == 200:
                    for key, value in s.usage.items():
                        total[key] += value
        return dict(total)

    # -- serving ---------------------------------------------------------------------------------

    def _answer(self, body: dict[str, Any]) -> tuple[Reply, str, int]:
        opening = first_user_text(body)
        turn_index = assistant_turns(body)
        for conversation in self.conversations:
            if conversation.match in opening:
                if turn_index < len(conversation.turns):
                    replies = conversation.turns[turn_index]
                    key = (conversation.match, turn_index)
                    with self._lock:
                        attempt = self._attempts[key]
                        self._attempts[key] += 1
                    return replies[min(attempt, len(replies) - 1)], conversation.match, turn_index
                return _default_reply(body, next(self._ids)), conversation.match, turn_index
        if self.default_error is not None:
            return self.default_error, "", turn_index
        return _default_reply(body, next(self._ids)), "", turn_index

    def respond(self, body: dict[str, Any], raw: str) -> Answer:
        with self._lock:
            self.bodies.append(raw)
        reply, conversation, turn = self._answer(body)
        with self._lock:
            self.served.append(Served(conversation, turn, reply.status, dict(reply.usage)))
        if reply.status != 200:
            return reply.status, messages_api.api_error(reply.error_type, reply.error_type), reply.headers
        message = {
            "id": f"msg_scripted_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": reply.content,
            "stop_reason": reply.stop_reason or "end_turn",
            "stop_sequence": None,
            "usage": reply.usage or {"input_tokens": 100, "output_tokens": 10},
        }
        return 200, message, reply.headers


def _default_reply(body: dict[str, Any], n: int) -> Reply:
    """Submit nothing (agent loops), or a minimal valid structured answer (narrative, request reader)."""
    tools = {t.get("name") for t in body.get("tools", [])}
    if "submit_findings" in tools:
        return submit([], id=f"toolu_default_{n}", input_tokens=500, output_tokens=20)
    schema = (body.get("output_config") or {}).get("format", {}).get("schema", {})
    if "summary" in schema.get("properties", {}):
        return json_reply({"summary": "Scripted summary.", "stages": []}, input_tokens=300, output_tokens=30)
    if "tool" in schema.get("properties", {}):
        return json_reply({"tool": "none", "trigger": "unknown", "reason": "scripted default"})
    return turn(text("scripted default"))
