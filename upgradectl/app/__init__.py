"""Use cases every interface calls: a typed request in, a typed result out, or a UseCaseError with its exit code.

    plan.py      plan (PlanRequest -> PlanOutcome); run_graph / plan_for_eval for the eval runner
    llm.py       the model session for --llm off|auto|on
    scan.py      scan for deprecated and removed APIs (Pluto's exit codes)
    gates.py     baseline and validate: gates on each cluster's metrics source
    cost.py      cost and bin-packing KPIs, consolidation projection, before/after deltas
    execute.py   changes, execute, approve / reject / resume, runs: a plan carried out through GitOps
    eval.py      the eval suite, planned with plan.py
    health.py    fleet health: is a cluster in an incident now, what is new since a recorded read
    doctor.py    prerequisite checks
    report.py, cost_report.py, templates.py   Markdown/JSON rendering of plans and cost reports
    errors.py    UseCaseError

The CLI (upgradectl/cli/) and the MCP server (upgradectl/mcp_server/) call these and never each other.
"""
