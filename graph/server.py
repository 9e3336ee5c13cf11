"""The plan graph as LangGraph Server serves it (`langgraph.json` -> `make_graph`): the six-stage graph itself.

LangGraph Server (`langgraph dev`, LangGraph Platform) can only hand a graph JSON, never our `RunContext`
with its opened fleet. So a client sends `PlanInput` (the request in words and/or flags plus a fleet
reference) and the graph's first node, `read_request`, opens the fleet into a run context of that run's
own. Every stage and agent task is a node
of the served graph, so `stream_mode="updates"` shows each as it finishes, and Studio draws them. Bad input
(an unknown tool, a missing fleet file) comes back as the `error` output, not as a failed run.

One run plans one request; a fleet of many clusters fans out as one run per cluster (`clusters: [name]`),
which the server schedules across its workers (see README, "LangGraph Server").
"""

from __future__ import annotations

from typing import Any

from upgradectl.graph.build import build_graph


def make_graph(config: dict[str, Any] | None = None):
    """Compile the served graph (no clients are created until a run opens the fleet it names)."""
    return build_graph(served=True)
