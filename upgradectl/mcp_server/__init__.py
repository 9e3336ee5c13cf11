"""`upgradectl mcp`: the MCP server that lets Claude Code (or any MCP client) delegate upgrade planning.

Module map:
- `results.py`   the structured, bounded results every tool returns (pydantic; their JSON schema is the tool's
                 output schema), and the helpers that cut big results down and say how to narrow them
- `planning.py`  plan / plan_findings / explain_finding: the plan use case (app/plan.py), plans kept per session
- `scanning.py`  scan: the scan use case (app/scan.py)
- `bridge.py`    validate, cost, list_runs, approve, reject: their use cases (app/gates.py, app/cost.py,
                 app/execute.py), whose JSON is the same as the commands' `--format json`
- `server.py`    tool registration (descriptions written for a model), error handling, stdio / HTTP transports
"""
