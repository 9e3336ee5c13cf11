"""Exit codes: the one table every command, the MCP server and the eval runner use.

  0  done, nothing at or above --fail-on
  1  findings at or above --fail-on (blockers); a gate failed (validate, execute)
  2  usage error: bad flags, unknown tool or version, unreadable fleet
  3  incomplete: something could not be checked (an unreachable cluster, a failed task, an inconclusive gate)
  5  LLM degraded (`plan --llm on|auto`): the model failed mid-run; the plan was still written with every
     playbook finding and says why in plan.llm.error
  6  paused for approval (execute, approve, resume)
  7  rejected (reject)
 70  internal error: a bug in upgradectl (sysexits' EX_SOFTWARE; set UPGRADECTL_DEBUG=1 for the traceback).
     No command uses 70 for a result, so CI can tell a crash from a finding.
`scan` keeps Pluto's codes for what it finds (0 none, 2 deprecated, 3 removed, 4 replacement unavailable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upgradectl.models import Plan

EXIT_OK = 0
EXIT_BLOCKERS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_LLM_DEGRADED = 5
EXIT_PAUSED = 6
EXIT_REJECTED = 7
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE

MEANING = {
    EXIT_OK: "ok",
    EXIT_BLOCKERS: "findings at or above --fail-on (or a gate failed)",
    EXIT_USAGE: "usage error",
    EXIT_INCOMPLETE: "incomplete: something could not be checked",
    EXIT_LLM_DEGRADED: "the model failed; the plan holds the playbook findings",
    EXIT_PAUSED: "paused for approval",
    EXIT_REJECTED: "rejected",
    EXIT_INTERNAL: "internal error (a bug in upgradectl)",
}

# `scan` keeps Pluto's codes (0 none, 2 deprecated, 3 removed, 4 replacement unavailable), worst wins;
# 70 (EXIT_INTERNAL) stays the internal error there too.
SCAN_CLEAN = 0
SCAN_BAD_INPUT = 1  # bad flags or rule files, and manifests or clusters that could not be read
SCAN_DEPRECATED = 2
SCAN_REMOVED = 3
SCAN_REPLACEMENT_UNAVAILABLE = 4
SCAN_MEANING = {
    SCAN_CLEAN: "no deprecated or removed APIs",
    SCAN_BAD_INPUT: "bad input: a flag, rule file, manifest or cluster could not be read",
    SCAN_DEPRECATED: "deprecated APIs found",
    SCAN_REMOVED: "removed APIs found (or objects still stored at a removed version)",
    SCAN_REPLACEMENT_UNAVAILABLE: "a replacement API is not available at the target yet",
    EXIT_INTERNAL: "internal error (a bug in upgradectl)",
}


def plan_exit_code(plan: Plan, fail_on: str) -> int:
    """1 when a finding at or above fail_on exists, else 3 when incomplete, else 5 when the model failed
    (LLM mode; the plan holds the playbook findings), else 0."""
    if plan.findings_at_or_above(fail_on):  # type: ignore[arg-type]
        return EXIT_BLOCKERS
    if plan.incomplete:
        return EXIT_INCOMPLETE
    if plan.llm.degraded:
        return EXIT_LLM_DEGRADED
    return EXIT_OK


def bug_summary(exc: BaseException) -> str:
    """Name a bug without its message: the exception type and the upgradectl line that raised it.

    Exception messages can quote what a reader was parsing (a YAML error shows the offending line, a decode
    error the bytes), and a bug report must never carry a file's content or a credential."""
    import traceback  # only when a bug is being reported

    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        parts = frame.filename.replace("\\", "/").split("/")
        if "upgradectl" in parts or any(p in parts for p in ("agents", "tools", "graph", "evals")):
            tail = parts[parts.index("upgradectl") + 1 :] if "upgradectl" in parts else parts[-2:]
            where = f" at {'/'.join(tail)}:{frame.lineno} ({frame.name})"
            break
    return f"{type(exc).__name__}{where}"
