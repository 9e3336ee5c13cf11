"""The plan graph as LangGraph Server serves it (`langgraph.json` -> `make_graph`).

LangGraph Server (`langgraph dev`, LangGraph Platform) can only hand a graph JSON: it cannot pass our
`RunContext`, which holds the opened fleet. So the served graph takes a serialisable input (the request
text or flags plus a fleet reference), and its one node parses the request, opens the fleet and runs the
same six-stage graph `build_graph()` compiles, with the RunContext built right there. The server's
checkpointer records that inner graph as a subgraph, so `stream_subgraphs=True` shows every stage and
agent task as it finishes.

One run plans one request; a fleet of many clusters fans out as one run per cluster (`clusters: [name]`),
which the server schedules across its workers (see README, "LangGraph Server").
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from upgradectl.graph.run import run_plan


class PlanRunInput(TypedDict, total=False):
    """What a client sends: the request in words and/or flags, and which fleet to read.

    `fleet` is "demo" (the bundled demo fleet) or a fleet.yaml path (or a directory holding one) as the
    server sees its file system. Flags override the text, as on the command line.
    """

    request: str
    tool: str
    to: str
    clusters: list[str]
    environments: list[str]
    trigger: str
    fleet: str


class PlanRunOutput(TypedDict, total=False):
    """The plan as `upgradectl plan --format json` prints it, or the error that stopped it (usage errors
    and unreadable fleets; a plan that could not check something is still a plan, with incomplete=true)."""

    plan: dict[str, Any] | None
    error: str


class PlanRunState(PlanRunInput, PlanRunOutput, total=False):
    pass


def plan_upgrade(state: PlanRunState) -> PlanRunOutput:
    """Parse the request, open the fleet, run the six-stage plan graph; errors come back as `error`."""
    from upgradectl.agents.inventory import PlanningError
    from upgradectl.agents.request import RequestError, parse_request
    from upgradectl.cli.argv import parse_upgradectl  # the verifier parses upgradectl commands with the real CLI
    from upgradectl.tools.cluster.fleet import FleetError, default_live_opener, load_fleet
    from upgradectl.tools.knowledge.loader import KnowledgeError

    fleet_ref = state.get("fleet") or "demo"
    text = state.get("request") or ""
    if not text and not state.get("tool"):
        return {"plan": None, "error": "say what to upgrade: give 'request' (words) or 'tool'"}
    try:
        fleet = load_fleet(fleet_ref, live_opener=default_live_opener)
        request = parse_request(
            text,
            tool=state.get("tool") or None,
            to=state.get("to") or None,
            clusters=state.get("clusters") or None,
            environments=state.get("environments") or None,
            trigger=state.get("trigger") or None,
            known_clusters=list(fleet.clusters),
        )
        plan = run_plan(request, fleet, fleet_ref, command_parser=parse_upgradectl)
    except (RequestError, FleetError, KnowledgeError, PlanningError) as exc:
        return {"plan": None, "error": str(exc)}
    return {"plan": plan.model_dump(mode="json"), "error": ""}


def make_graph(config: dict[str, Any] | None = None):
    """Compile the served graph (LangGraph Server calls this per run; no clients are created here)."""
    graph = StateGraph(PlanRunState, input_schema=PlanRunInput, output_schema=PlanRunOutput)
    graph.add_node("plan_upgrade", plan_upgrade)
    graph.add_edge(START, "plan_upgrade")
    graph.add_edge("plan_upgrade", END)
    return graph.compile(name="upgrade_plan")
