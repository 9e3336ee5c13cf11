"""Build and serve the upgradectl MCP server (official `mcp` SDK, MCPServer).

Tools: plan, plan_findings, explain_finding, scan, health, validate, cost; with `allow_approve` also list_runs,
approve and reject, which let a client move a real rollout forward and so are off unless the person
starting the server says otherwise. Transports: stdio (what Claude Code launches), or streamable HTTP on
127.0.0.1 only.
"""

from __future__ import annotations

from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from upgradectl import __version__
from upgradectl.mcp_server import bridge, scanning
from upgradectl.mcp_server.planning import PlanTools
from upgradectl.mcp_server.roots import configure as configure_roots
from upgradectl.tools.knowledge.loader import products
from upgradectl.tools.verify.commands import CommandParser

INSTRUCTIONS = (
    "upgradectl plans safe, staged upgrades of {products} across a Kubernetes fleet (dev -> staging -> prod), "
    "offline and read-only. Start with `plan` (fleet 'demo' is a bundled example fleet); page its findings with "
    "`plan_findings` and look up any code with `explain_finding`, both by the plan_id it returns. `scan` finds "
    "deprecated/removed APIs; `health` says whether a cluster is in an incident (run it before each stage); "
    "`validate` judges metric gates after a step; `cost` measures Karpenter cost KPIs. "
    "Results are bounded: when a list is cut, the result says how to narrow it. Nothing here writes to a cluster "
    "or a repository. Paths must lie under the directories the server was started with (--root; default its "
    "working directory)."
)


def instructions() -> str:
    """The server's instructions, naming every product of the knowledge base (its display names)."""
    names = [k.display_name.split(" (")[0] for k in products()]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
    return INSTRUCTIONS.format(products=listed)


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES_FILES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
DECIDES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)


def build_server(
    allow_approve: bool = False, roots: list[Path] | None = None, command_parser: CommandParser | None = None
) -> MCPServer:
    """The MCP server with every tool registered; approve/reject (and list_runs) only when allowed. Tools read
    and write only under `roots` (default: the working directory; mcp_server/roots.py). `command_parser` is the
    CLI's (`upgradectl mcp` hands it over): plans are verified with it, as on the command line."""
    configure_roots(roots)
    server = MCPServer(
        "upgradectl", instructions=instructions(), version=__version__, log_level="WARNING", subscriptions=False
    )
    planning = PlanTools(command_parser)
    server.add_tool(planning.plan, name="plan", title="Plan an upgrade", annotations=WRITES_FILES)  # out_dir
    server.add_tool(planning.plan_findings, name="plan_findings", title="Page a plan's findings", annotations=READ_ONLY)
    server.add_tool(
        planning.explain_finding, name="explain_finding", title="Explain a finding code", annotations=READ_ONLY
    )
    server.add_tool(scanning.scan, name="scan", title="Scan for deprecated APIs", annotations=READ_ONLY)
    server.add_tool(bridge.health, name="health", title="Is a cluster in an incident", annotations=READ_ONLY)
    server.add_tool(bridge.validate, name="validate", title="Judge validation gates", annotations=READ_ONLY)
    server.add_tool(bridge.cost, name="cost", title="Karpenter cost KPIs", annotations=READ_ONLY)
    if allow_approve:
        server.add_tool(bridge.list_runs, name="list_runs", title="List upgrade runs", annotations=READ_ONLY)
        server.add_tool(bridge.approve, name="approve", title="Approve a paused run", annotations=DECIDES)
        server.add_tool(bridge.reject, name="reject", title="Reject a paused run", annotations=DECIDES)
    return server


def serve(
    allow_approve: bool = False,
    http_port: int | None = None,
    roots: list[Path] | None = None,
    command_parser: CommandParser | None = None,
) -> None:
    """Serve on stdio, or on http://127.0.0.1:PORT/mcp (streamable HTTP) when a port is given."""
    server = build_server(allow_approve, roots, command_parser)
    if http_port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=http_port)
