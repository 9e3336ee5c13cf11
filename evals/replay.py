"""Recorded model turns per scenario (`llm_replay.jsonl`), so LLM-mode evals run offline and repeatably.

Recording (`upgradectl eval --llm live --record`) wraps the session's Anthropic client and keeps
every successful Messages API exchange. Replay serves those responses from a small Messages API on
127.0.0.1 to the real `anthropic` SDK, so the same code path runs as with a live key (the design of
tests/scripted_anthropic.py, which tests use as the "live" API when they record).

A turn is found by its conversation (a hash of the first user message: the task prompt, which names
the task) and its index (how many assistant messages the request carries), so agent tasks running
in parallel each get their own turns whatever the arrival order. Paths of the fleet directory are
replaced by `<fleet>` before hashing (overlay fleets live in temporary directories). A request with
no recorded turn is answered with an error and reported as a replay miss; a turn whose full request
changed since recording is still served and counted as drift.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upgradectl.evals.messages_api import Answer, LoopbackMessagesAPI, api_error, first_user_text, turn_index

REPLAY_FILE = "llm_replay.jsonl"
FLEET_PLACEHOLDER = "<fleet>"


class ReplayError(ValueError):
    """A replay file that is missing or unreadable; the message says how to record one."""


def normalize(text: str, roots: list[str]) -> str:
    """The text with machine-specific fleet paths replaced by a placeholder (longest first)."""
    for root in sorted((r for r in roots if r), key=len, reverse=True):
        text = text.replace(root, FLEET_PLACEHOLDER)
    return text


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def conversation_key(body: dict[str, Any], roots: list[str]) -> str:
    return _sha(normalize(first_user_text(body), roots))


def request_digest(body: dict[str, Any], roots: list[str]) -> str:
    """Hash of everything the model was asked (system, tools, messages, output format), paths normalized."""
    asked = {k: body.get(k) for k in ("system", "tools", "messages", "output_config")}
    return _sha(normalize(json.dumps(asked, sort_keys=True), roots))


@dataclass(frozen=True)
class RecordedTurn:
    conversation: str
    turn: int
    request_sha256: str
    opening: str  # the first 120 characters of the conversation's first message, for readers of the file
    response: dict[str, Any]


@dataclass
class ReplayLog:
    """The contents of one llm_replay.jsonl: who recorded it and every turn."""

    model: str
    turns: dict[tuple[str, int], RecordedTurn] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> ReplayLog:
        if not path.is_file():
            raise ReplayError(
                f"no recorded model turns at {path}: record them with `upgradectl eval --llm live --record "
                f"--scenario {path.parent.name}` (needs ANTHROPIC_API_KEY)"
            )
        log = cls(model="")
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if entry.get("kind") == "header":
                    log.header, log.model = entry, str(entry.get("model", ""))
                    continue
                turn = RecordedTurn(
                    entry["conversation"],
                    int(entry["turn"]),
                    entry["request_sha256"],
                    entry.get("opening", ""),
                    entry["response"],
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ReplayError(f"{path}:{number}: not a replay entry ({exc}); re-record the scenario") from None
            log.turns[(turn.conversation, turn.turn)] = turn
        if not log.model:
            raise ReplayError(f"{path}: no header line with the recorded model; re-record the scenario")
        return log

    def write(self, path: Path) -> None:
        lines = [json.dumps(self.header, sort_keys=True)]
        for key in sorted(self.turns):
            t = self.turns[key]
            lines.append(
                json.dumps(
                    {
                        "kind": "turn",
                        "conversation": t.conversation,
                        "turn": t.turn,
                        "request_sha256": t.request_sha256,
                        "opening": t.opening,
                        "response": t.response,
                    },
                    sort_keys=True,
                )
            )
        path.write_text("\n".join(lines) + "\n")


def new_log(model: str, **stamp: str) -> ReplayLog:
    header = {"kind": "header", "model": model, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"), **stamp}
    return ReplayLog(model=model, header=header)


class _Messages:
    def __init__(self, recorder: RecordingClient):
        self._recorder = recorder

    def create(self, **params: Any) -> Any:
        message = self._recorder.client.messages.create(**params)
        self._recorder.keep(params, message.to_dict(mode="json"))
        return message


class RecordingClient:
    """An Anthropic client that keeps every successful Messages API exchange (thread-safe)."""

    def __init__(self, client: Any, log: ReplayLog, roots: list[str]):
        self.client = client
        self.log = log
        self.roots = roots
        self.messages = _Messages(self)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # api_key, base_url, close(): the real client's
        return getattr(self.client, name)

    def keep(self, body: dict[str, Any], response: dict[str, Any]) -> None:
        opening = normalize(first_user_text(body), self.roots)
        turn = RecordedTurn(
            conversation=_sha(opening),
            turn=turn_index(body),
            request_sha256=request_digest(body, self.roots),
            opening=opening[:120],
            response=response,
        )
        with self._lock:
            self.log.turns[(turn.conversation, turn.turn)] = turn


class ReplayServer(LoopbackMessagesAPI):
    """Serve a ReplayLog as a Messages API on 127.0.0.1 (a random port); count misses and drift."""

    request_id_prefix = "req_replay"

    def __init__(self, log: ReplayLog, roots: list[str]):
        self.log = log
        self.roots = roots
        self.misses: list[str] = []
        self.drift = 0
        self.served = 0
        self._lock = threading.Lock()
        super().__init__()

    def answer(self, body: dict[str, Any]) -> RecordedTurn | None:
        key = (conversation_key(body, self.roots), turn_index(body))
        recorded = self.log.turns.get(key)
        with self._lock:
            if recorded is None:
                opening = normalize(first_user_text(body), self.roots)[:80].replace("\n", " ")
                self.misses.append(f"turn {key[1]} of the conversation opening {opening!r}")
                return None
            self.served += 1
            if recorded.request_sha256 != request_digest(body, self.roots):
                self.drift += 1
        return recorded

    def respond(self, body: dict[str, Any], raw: str) -> Answer:
        recorded = self.answer(body)
        if recorded is None:
            message = "no recorded turn for this request (replay file stale): re-record with --record"
            return 400, api_error("invalid_request_error", message), {}
        return 200, recorded.response, {}
