"""Exit codes: the one table every command, the MCP server and the eval runner use.

  0  done, nothing at or above --fail-on
  1  findings at or above --fail-on (blockers); a gate failed (validate, execute)
  2  usage error: bad flags, unknown tool or version, unreadable fleet
  3  incomplete: something could not be checked (an unreachable cluster, a failed task, an inconclusive gate)
  4  internal error: a bug in upgradectl (set UPGRADECTL_DEBUG=1 for the traceback)
  5  LLM degraded (`plan --llm on|auto`): the model failed mid-run; the plan was still written with every
     playbook finding and says why in plan.llm.error
  6  paused for approval (execute, approve, resume)
  7  rejected (reject)
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
EXIT_INTERNAL = 4
EXIT_LLM_DEGRADED = 5
EXIT_PAUSED = 6
EXIT_REJECTED = 7
EXIT_SCAN_USAGE = 1  # `scan` follows Pluto, whose usage error is 1 (its 2-4 say what was found)

MEANING = {
    EXIT_OK: "ok",
    EXIT_BLOCKERS: "findings at or above --fail-on (or a gate failed)",
    EXIT_USAGE: "usage error",
    EXIT_INCOMPLETE: "incomplete: something could not be checked",
    EXIT_INTERNAL: "internal error (a bug in upgradectl)",
    EXIT_LLM_DEGRADED: "the model failed; the plan holds the playbook findings",
    EXIT_PAUSED: "paused for approval",
    EXIT_REJECTED: "rejected",
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
