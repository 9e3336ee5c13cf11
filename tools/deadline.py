"""A whole-request deadline for outside calls (metrics, Kubernetes API, model, Helm repositories).

HTTP clients time each read, not the request: a server that trickles one byte every few seconds never
trips a 10 s read timeout and keeps a command waiting for minutes. `call_with_deadline` runs the call in
a daemon thread and stops waiting when the deadline passes; `on_expiry` (closing the client's connections)
then makes the abandoned call fail fast instead of reading on. The caller raises its own timeout error.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The call did not finish within its deadline."""


def call_with_deadline(call: Callable[[], T], seconds: float, on_expiry: Callable[[], None] | None = None) -> T:
    """call() if it finishes within `seconds` (its result or its exception), else DeadlineExceeded."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="upgradectl-deadline", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        if on_expiry is not None:
            with contextlib.suppress(Exception):  # best effort: the caller reports the deadline either way
                on_expiry()
        raise DeadlineExceeded(f"no complete answer within {seconds:g}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
