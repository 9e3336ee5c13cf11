"""`upgradectl plan` and `upgradectl schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.output import err, fail
from upgradectl.models import SEVERITY_ORDER, Plan


def plan(
    request: Annotated[
        str,
        typer.Argument(
            help="What you want, in words: 'Karpenter needs upgrade for better bin "
            "packing and cost optimization'. Tool, version and trigger are read "
            "from it; flags override."
        ),
    ] = "",
    fleet: Annotated[
        str,
        typer.Option(
            "--fleet", "-f", help="fleet.yaml, a directory holding one, or 'demo' for the bundled demo fleet."
        ),
    ] = "demo",
    tool: Annotated[
        str | None,
        typer.Option(
            "--tool", help="Tool to upgrade, by name or alias: any product of the knowledge base (karpenter, "
            "victoriametrics, flux, argocd, cilium, ...; aliases such as vm or 'argo cd')."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Target version (1.0.10, v0.37, 0.37.x), or 'lts' for the newest long-term-support line "
            "(VictoriaMetrics). Default: the latest version compatible with every target cluster.",
        ),
    ] = None,
    clusters: Annotated[
        str | None, typer.Option("--clusters", help="Comma-separated cluster names to limit the plan to.")
    ] = None,
    env: Annotated[str | None, typer.Option("--env", help="Comma-separated environments (dev,staging,prod).")] = None,
    trigger: Annotated[
        str | None,
        typer.Option("--trigger", help="Override the trigger class: security, cost, feature, compliance, performance."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="md (Markdown) or json.")] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write plan.md and plan.json into this directory.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding at or above this severity exists (critical, high, medium, low, info).",
        ),
    ] = "critical",
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Plan one live cluster through this kube context instead of a fleet (read-only); its "
            "environment is --env (default prod). A cluster that cannot be read exits 3.",
        ),
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig",
            help="Kubeconfig for --context and for fleet clusters that name a context without their own "
            "(default: $KUBECONFIG, then ~/.kube/config).",
        ),
    ] = None,
    llm: Annotated[
        str,
        typer.Option(
            "--llm",
            help="Claude on top of the playbooks: off, on, or auto (on when ANTHROPIC_API_KEY is set). The model "
            "adds evidence-checked findings and the narrative; if it fails the plan keeps the playbook findings "
            "and exits 5.",
        ),
    ] = "auto",
    model: Annotated[
        str | None, typer.Option("--model", help="Model id or alias (sonnet, opus, haiku); default $UPGRADECTL_MODEL.")
    ] = None,
    run_log: Annotated[
        Path | None,
        typer.Option("--run-log", help="JSON-lines log of model calls, tokens, cost and tool calls (default: "
                     "run-log.jsonl in --out when the model is on)."),
    ] = None,
) -> None:
    """Plan an upgrade: inventory, path, breaking changes, risk, strategy and a dev -> staging -> prod rollout."""
    # the plan use case loads the agents and langgraph: imported when a plan runs, so --help stays fast
    from upgradectl.app.plan import PlanRequest
    from upgradectl.app.plan import plan as plan_upgrade
    from upgradectl.app.report import render_json, render_markdown
    from upgradectl.cli.progress import plan_progress

    if output_format not in ("md", "json"):
        raise fail(f"--format {output_format!r} is not one of md, json")
    if fail_on not in SEVERITY_ORDER:
        raise fail(f"--fail-on {fail_on!r} is not one of {', '.join(SEVERITY_ORDER)}")
    if llm not in ("off", "auto", "on"):
        raise fail(f"--llm {llm!r} is not one of off, auto, on")
    if not request and not tool:
        raise fail('say what to upgrade: upgradectl plan "Karpenter needs upgrade ..." or --tool karpenter')
    if context is not None and fleet != "demo":
        raise fail("--context plans one live cluster and does not combine with --fleet; to mix, name the context in "
                   "the fleet file (clusters: - name: ..., environment: ..., context: ...)")
    environments = _split(env)
    if context is not None and len(environments) > 1:
        raise fail(f"--env {env!r}: with --context give the one environment of that cluster (dev, staging or prod)")
    wanted = PlanRequest(
        text=request, tool=tool, to=to, clusters=_split(clusters) or None, environments=environments or None,
        trigger=trigger, fleet=fleet, context=context, kubeconfig=kubeconfig, llm=llm, model=model,
        run_log=run_log, out=out, fail_on=fail_on,
    )  # fmt: skip
    try:
        with plan_progress(err) as on_update:  # live per-stage progress on a terminal, silent otherwise
            outcome = plan_upgrade(wanted, on_update=on_update)
    except UseCaseError as exc:
        for line in exc.details:
            err.print(line, highlight=False, markup=False)
        raise fail(exc.message, exc.exit_code) from None
    for warning in outcome.warnings:
        err.print(f"warning: {warning}", highlight=False, markup=False)
    report_llm(outcome.plan, outcome.run_log)
    if outcome.files:
        err.print(f"wrote {', '.join(str(p) for p in outcome.files)}", highlight=False)
    text = render_json(outcome.plan) if output_format == "json" else render_markdown(outcome.plan)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    raise typer.Exit(outcome.exit_code)


def _split(value: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def report_llm(plan: Plan, run_log: Path | None) -> None:
    """Tell stderr how the model did (nothing when it was off)."""
    info = plan.llm
    if info.mode == "off":
        return
    cost = f", ~${info.cost_usd:.4f}" if info.cost_usd is not None else ""
    prompt = info.input_tokens + info.cache_creation_input_tokens + info.cache_read_input_tokens
    err.print(
        f"model {info.model}: {info.calls} call(s), {prompt} input / {info.output_tokens} output tokens{cost}; "
        f"findings added {info.findings_accepted}, dropped {info.findings_dropped}",
        highlight=False,
        markup=False,
    )
    if info.degraded:
        err.print(
            f"warning: the model failed ({info.error}); the plan holds the playbook findings only where it did not run",
            highlight=False,
            markup=False,
        )
    if run_log:
        err.print(f"run log: {run_log}", highlight=False, markup=False)


def schema() -> None:
    """Print the JSON schema of the Plan that `plan --format json` emits."""
    print(json.dumps(Plan.model_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(schema)
