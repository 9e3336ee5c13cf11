"""The plan graph as LangGraph Server serves it (`langgraph.json` -> `make_graph`): the six-stage graph itself.

LangGraph Server (`langgraph dev`, LangGraph Platform) can only hand a graph JSON, never a run context with an
opened fleet. So a client sends `PlanInput` (the request in words and/or flags plus a fleet reference) and the
graph's first node, `read_request`, opens the fleet into a run context of that run's own; the server compiles
the graph per run by calling this factory. Every stage and agent task is a node of the served graph, so
`stream_mode="updates"` shows each as it finishes, and Studio draws them. Bad input (an unknown tool, a missing
fleet file) comes back as the `error` output, not as a failed run.

This module composes the served graph like the console script composes the CLI: it hands the plan verifier the
CLI's own command parser (so upgradectl commands in a served plan are proven to parse) and the default chart
store, which is why it sits above the interfaces (pyproject.toml's import contract).

One run plans one request; a fleet of many clusters fans out as one run per cluster (`clusters: [name]`),
which the server schedules across its workers (see README, "LangGraph Server").
"""

from __future__ import annotations

from typing import Any

from upgradectl.cli.app import parse_upgradectl
from upgradectl.graph.build import build_graph
from upgradectl.tools.charts.store import default_chart_store


def make_graph(config: dict[str, Any] | None = None):
    """Compile the served graph (no clients are created until a run opens the fleet it names)."""
    return build_graph(served=True, charts=default_chart_store(), command_parser=parse_upgradectl)
