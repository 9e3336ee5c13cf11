"""Durable execution runs: the LangGraph checkpointer and the run registry, in SQLite or Postgres.

SQLite (the default) is one file, `<state-dir>/runs.sqlite`, holding both the checkpoints and the
`upgradectl_runs` table; Postgres (`--checkpoint postgres://...`) holds the same two for a team. The
registry keeps what `upgradectl runs` lists and what `resume` needs to continue: the plan itself, the
run's options, its branch and worktree, its status and current step, and the process running it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upgradectl.state_dir import default_state_dir

DEFAULT_STATE_DIR = default_state_dir()
COLUMNS = ("run_id", "created_at", "updated_at", "status", "current_step", "tool", "summary", "fleet", "branch",
           "worktree", "pid", "host", "plan_json", "options_json")  # fmt: skip
FINAL = ("succeeded", "rolled-back", "rejected", "failed", "blocked")


class RunStoreError(RuntimeError):
    """The run store cannot be opened or has no such run; the message says what to do."""


@dataclass
class RunRecord:
    run_id: str
    created_at: str
    updated_at: str
    status: str  # running | paused | succeeded | rolled-back | rejected | failed
    current_step: str
    tool: str
    summary: str
    fleet: str
    branch: str
    worktree: str
    pid: int
    host: str
    plan_json: str
    options: dict[str, Any] = field(default_factory=dict)

    def shown_status(self) -> str:
        """`running` runs whose process is gone (killed, machine restarted) show as interrupted."""
        if self.status != "running" or self.host != socket.gethostname():
            return self.status
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "interrupted"
        except PermissionError:
            pass
        return self.status


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunStore:
    """The run registry over a DB-API connection (sqlite3 or psycopg)."""

    def __init__(self, conn: Any, placeholder: str):
        self.conn, self.ph = conn, placeholder
        columns = ", ".join(f"{c} TEXT" if c != "pid" else "pid INTEGER" for c in COLUMNS[1:])
        self._execute(f"CREATE TABLE IF NOT EXISTS upgradectl_runs (run_id TEXT PRIMARY KEY, {columns})")

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.ph), params)
        rows = cur.fetchall() if cur.description else []
        self.conn.commit()
        return rows

    def create(self, record: RunRecord) -> None:
        values = (record.run_id, record.created_at, record.updated_at, record.status, record.current_step,
                  record.tool, record.summary, record.fleet, record.branch, record.worktree, record.pid, record.host,
                  record.plan_json, json.dumps(record.options))  # fmt: skip
        marks = ", ".join("?" for _ in COLUMNS)
        self._execute(f"INSERT INTO upgradectl_runs ({', '.join(COLUMNS)}) VALUES ({marks})", values)

    def update(self, run_id: str, **fields: Any) -> None:
        fields["updated_at"] = _now()
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self._execute(f"UPDATE upgradectl_runs SET {assignments} WHERE run_id = ?", (*fields.values(), run_id))

    def get(self, run_id: str) -> RunRecord:
        rows = self._execute(f"SELECT {', '.join(COLUMNS)} FROM upgradectl_runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise RunStoreError(f"no run {run_id!r} in this run store; list them with `upgradectl runs`")
        return _record(rows[0])

    def all(self) -> list[RunRecord]:
        rows = self._execute(f"SELECT {', '.join(COLUMNS)} FROM upgradectl_runs ORDER BY created_at, run_id")
        return [_record(r) for r in rows]


def _record(row: tuple) -> RunRecord:
    data = dict(zip(COLUMNS, row, strict=True))
    options = json.loads(data.pop("options_json") or "{}")
    data["pid"] = int(data["pid"] or 0)
    return RunRecord(**data, options=options)


@dataclass
class Backend:
    """An open checkpointer and run store (close both with `opened`)."""

    checkpointer: Any
    store: RunStore
    where: str


@contextmanager
def opened(state_dir: Path | None, checkpoint: str | None):
    """Open the checkpointer and the run registry: Postgres when `checkpoint` is a postgres:// URL,
    else SQLite in `<state_dir>/runs.sqlite`."""
    if checkpoint and checkpoint.startswith(("postgres://", "postgresql://")):
        try:  # psycopg and the Postgres checkpointer: loaded only for a team's Postgres store
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import tuple_row
        except ImportError as exc:  # pragma: no cover - both ship as dependencies
            raise RunStoreError(f"Postgres checkpoints need langgraph-checkpoint-postgres and psycopg: {exc}") from exc
        try:
            conn = psycopg.connect(checkpoint, autocommit=True, prepare_threshold=0, connect_timeout=10)
            registry = psycopg.connect(checkpoint, row_factory=tuple_row, connect_timeout=10)
        except psycopg.Error as exc:
            raise RunStoreError(f"cannot connect to the checkpoint database: {str(exc).strip()}") from None
        try:
            from psycopg.rows import dict_row  # (psycopg: see above)

            conn.row_factory = dict_row
            saver = PostgresSaver(conn)
            saver.setup()
            yield Backend(saver, RunStore(registry, "%s"), _safe_url(checkpoint))
        finally:
            registry.close()
            conn.close()
        return
    if checkpoint:
        raise RunStoreError(f"--checkpoint {checkpoint!r}: give a postgres://user@host/db URL (SQLite is the default)")
    from langgraph.checkpoint.sqlite import SqliteSaver  # langgraph's checkpointer: loaded only when runs are opened

    directory = state_dir or DEFAULT_STATE_DIR
    try:
        directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(directory / "runs.sqlite"), check_same_thread=False, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise RunStoreError(f"cannot open the run store in {directory}: {exc}") from None
    registry = sqlite3.connect(str(directory / "runs.sqlite"), timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(conn)
        saver.setup()
        yield Backend(saver, RunStore(registry, "?"), str(directory / "runs.sqlite"))
    finally:
        registry.close()
        conn.close()


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"


def new_record(run_id: str, tool: str, summary: str, fleet: str, branch: str, worktree: str, plan_json: str,
               options: dict[str, Any]) -> RunRecord:  # fmt: skip
    now = _now()
    return RunRecord(run_id, now, now, "running", "", tool, summary, fleet, branch, worktree, os.getpid(),
                     socket.gethostname(), plan_json, options)  # fmt: skip
