"""`upgradectl mcp`: the MCP server that lets Claude Code (or any MCP client) delegate upgrade planning.

Module map:
- `results.py`   the structured, bounded results every tool returns (pydantic; their JSON schema is the tool's
                 output schema), and the helpers that cut big results down and say how to narrow them
- `planning.py`  plan / plan_findings / explain_finding: parse_request + load_fleet + run_plan, plans kept per session
- `scanning.py`  scan: the deprecated/removed API scanner (tools/analysis/scanner.py through `commands.scan.run_scan`)
- `bridge.py`    validate, cost, list_runs, approve, reject: the commands other modules own, run in-process
                 through their documented CLI (their JSON output is the contract), or "not available in this build"
- `server.py`    tool registration (descriptions written for a model), error handling, stdio / HTTP transports
"""
