"""The run log: one JSON object per line for every model call, retry, tool call and evidence decision.

It is the audit trail of an LLM-mode run (what was asked, what it cost, what was dropped and why), kept
beside the plan (`--run-log FILE`, or `run-log.jsonl` in `--out`). Parallel agent tasks write to it
from several threads, so appends are serialised. Every field is redacted (tools/redact.py) before
it is written. Without a file it records nothing.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upgradectl.tools.redact import redact


class RunLog:
    """Append-only JSON-lines event log; `RunLog(None)` is a no-op log."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def write(self, event: str, **fields: Any) -> None:
        """Record one event: {"ts": ..., "event": ..., **fields}."""
        if self.path is None:
            return
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **redact(fields)}
        line = json.dumps(record, default=str, ensure_ascii=False)
        with self._lock, self.path.open("a") as handle:
            handle.write(line + "\n")


def read_run_log(path: Path) -> list[dict[str, Any]]:
    """Every event of a run log, in order (for tests, evals and post-mortems)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
