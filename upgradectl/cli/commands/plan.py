"""`upgradectl plan` and `upgradectl schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.argv import command_parser
from upgradectl.cli.options import FORMATS, ClusterOpt, ClustersAliasOpt, cluster_names, format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail, usable_out_dir, write_failed
from upgradectl.exit_codes import EXIT_BLOCKERS, EXIT_OK
from upgradectl.models import SEVERITY_ORDER, Plan


def plan(
    ctx: typer.Context,
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
    cluster: ClusterOpt = None,
    clusters_alias: ClustersAliasOpt = None,
    env: Annotated[str | None, typer.Option("--env", help="Comma-separated environments (dev,staging,prod).")] = None,
    trigger: Annotated[
        str | None,
        typer.Option("--trigger", help="Override the trigger class: security, cost, feature, compliance, performance."),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", help="Roll out this way instead of the decision tree's choice: rolling, canary, "
                     "blue-green or maintenance-window. A strategy the tool cannot do falls back to the next "
                     "safest, with the reason in the decision."),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option("--format", help="text: the summary (default); md, json or html: the full report on stdout."),
    ] = "text",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write plan.md, plan.json and plan.html into this directory (default with "
                     "--format text: a new directory under the state directory, named in the summary)."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the one-line summary (and errors).")
    ] = False,
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
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="Plan from a GitOps repository alone, without a fleet file: clusters from its layout (Flux "
            "clusters/<name>/ syncs, Argo CD destinations, else one cluster named after the directory), versions "
            "and Helm values as Git declares them, environments from cluster names (else --env, else prod).",
        ),
    ] = None,
    kubernetes: Annotated[
        str | None,
        typer.Option(
            "--kubernetes",
            help="Kubernetes version (X.Y) of Git-only clusters (--repo, or fleet entries without snapshot, context "
            "or kubernetes_version). Unknown: compatibility findings say so and the plan is incomplete (exit 3).",
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
    charts_dir: ChartsDirOpt = None,
    fetch_charts: FetchChartsOpt = True,
    osv_url: OsvUrlOpt = None,
    no_osv: NoOsvOpt = False,
) -> None:
    """Plan an upgrade: inventory, path, breaking changes, risk, strategy and a dev -> staging -> prod rollout.

    Vulnerabilities of the running and target versions come from OSV (severity, fixed-in versions, links); a
    security request without a version targets the smallest version that fixes every high/critical advisory and
    says whether a patch of the running line suffices. Offline (or with OSV unreachable) the cached answers stand
    in, dated; without them the plan says "not checked".

    The release's values are checked against the target chart itself (keys it no longer has, schema and documented
    options); the finished plan is proven consistent by the plan verifier (see `upgradectl verify-plan`)."""
    # the plan use case loads the agents and langgraph: imported when a plan runs, so --help stays fast
    from upgradectl.app.plan import PlanRequest
    from upgradectl.app.plan import plan as plan_upgrade
    from upgradectl.app.report import render_report, write_plan
    from upgradectl.app.summary import render_summary, summary_line
    from upgradectl.cli.progress import plan_progress

    output_format = choose_format(output_format, FORMATS)
    if fail_on not in SEVERITY_ORDER:
        raise fail(f"--fail-on {fail_on!r} is not one of {', '.join(SEVERITY_ORDER)}")
    if llm not in ("off", "auto", "on"):
        raise fail(f"--llm {llm!r} is not one of off, auto, on")
    if not request and not tool:
        raise fail('say what to upgrade: upgradectl plan "Karpenter needs upgrade ..." or --tool karpenter')
    if context is not None and fleet != "demo":
        raise fail("--context plans one live cluster and does not combine with --fleet; to mix, name the context in "
                   "the fleet file (clusters: - name: ..., environment: ..., context: ...)")
    if out is not None:
        usable_out_dir(out)
    environments = _split(env)
    if context is not None and len(environments) > 1:
        raise fail(f"--env {env!r}: with --context give the one environment of that cluster (dev, staging or prod)")
    wanted = PlanRequest(
        text=request, tool=tool, to=to, clusters=cluster_names(cluster, clusters_alias) or None,
        environments=environments or None,
        trigger=trigger, strategy=strategy, fleet=fleet, context=context, kubeconfig=kubeconfig, repo=repo,
        kubernetes=kubernetes, llm=llm, model=model, run_log=run_log, out=out, fail_on=fail_on, charts_dir=charts_dir,
        fetch_charts=fetch_charts, osv_url=osv_url, osv=not no_osv,
    )  # fmt: skip
    try:
        with plan_progress(err) as on_update:  # live per-stage progress on a terminal, silent otherwise
            outcome = plan_upgrade(wanted, on_update=on_update, command_parser=command_parser(ctx))
    except UseCaseError as exc:
        for line in exc.details:
            err.print(line, highlight=False, markup=False)
        raise fail(exc.message, exc.exit_code) from None
    if not quiet:
        for warning in outcome.warnings:
            err.print(f"warning: {warning}", highlight=False, markup=False)
        for planned in getattr(outcome.plan, "sections", [outcome.plan]):  # a combined plan: each section's
            report_llm(planned, outcome.run_log)
    if output_format != "text":
        text = render_report(outcome.plan, output_format)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()  # the plan is out before anything else can fail
    report_dir = out if out is not None or output_format != "text" else default_report_dir(outcome.plan)
    written: list[Path] = []
    if report_dir is not None:
        try:
            written = write_plan(outcome.plan, report_dir)
        except OSError as exc:
            raise write_failed(report_dir, exc) from None
        if output_format != "text" and not quiet:
            err.print(f"wrote {', '.join(str(p) for p in written)}")
    if output_format == "text":
        report = written[0] if written else None
        if quiet:
            sys.stdout.write(summary_line(outcome.plan, outcome.exit_code, fail_on) + "\n")
        else:
            print_lines(render_summary(outcome.plan, outcome.exit_code, fail_on, report))
    raise typer.Exit(outcome.exit_code)


def default_report_dir(plan) -> Path:
    """Where the full report goes when --out is not given: its own directory under the state directory."""
    from upgradectl.state_dir import default_state_dir  # only when a report is written there

    stamp = plan.generated_at.strftime("%Y%m%d-%H%M%S")
    tools = "-".join(f"{s.request.tool}-{s.target_version}" for s in getattr(plan, "sections", [plan]))
    return default_state_dir() / "plans" / f"{stamp}-{tools}"


def print_lines(lines: list) -> None:
    """Styled summary lines on stdout: colour on a terminal, plain text in pipes, files and under NO_COLOR."""
    from rich.console import Console  # rich: loaded only when a summary is printed
    from rich.text import Text  # rich: loaded only when a summary is printed

    console = Console(markup=False, highlight=False, soft_wrap=True)
    for line in lines:
        console.print(Text.assemble(*line) if line else "")


def _split(value: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


OsvUrlOpt = Annotated[
    str | None,
    typer.Option("--osv-url", help="OSV API to ask for advisories (default $UPGRADECTL_OSV_URL, else "
                 "https://api.osv.dev); answers are cached under the state directory (osv/cache.json) and stand in, "
                 "dated, when OSV cannot be reached or UPGRADECTL_OFFLINE=1.", show_default=False),
]
NoOsvOpt = Annotated[
    bool, typer.Option("--no-osv", help="Do not look advisories up: the plan says they were not checked."),
]


ChartsDirOpt = Annotated[
    Path | None,
    typer.Option("--charts-dir", help="Local charts for the values checks, offline: chart archives (*.tgz), unpacked "
                 "charts (a folder with Chart.yaml) or a Helm repository folder (index.yaml), found by name and "
                 "version. Tried before the cache and the network."),
]
FetchChartsOpt = Annotated[
    bool,
    typer.Option("--fetch-charts/--no-fetch-charts", help="Fetch target charts from their Helm repository or OCI "
                 "registry (cached under ~/.local/share/upgradectl/charts). Without it, a chart not in --charts-dir "
                 "or the cache leaves its values check inconclusive."),
]


def chart_store(charts_dir: Path | None, fetch: bool):
    """The chart store of a run: --charts-dir, then the cache under the state directory, then the network."""
    from upgradectl.tools.charts.store import default_chart_store  # httpx and the chart readers: when one runs

    if charts_dir is not None and not charts_dir.is_dir():
        raise fail(f"--charts-dir {charts_dir}: not a directory")
    return default_chart_store(charts_dir, fetch)


def verify_plan_command(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(help="plan.json written by `upgradectl plan --format json` (or --out).")],
    fleet: Annotated[
        str | None,
        typer.Option("--fleet", "-f", help="The fleet the plan was made for, when it is not where the plan says "
                     "(the plan records how --fleet was given)."),
    ] = None,
    charts_dir: ChartsDirOpt = None,
    fetch_charts: FetchChartsOpt = True,
    output_format: Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))] = "text",
) -> None:
    """Prove a plan consistent before anyone pastes it: every command's versions match its hop (rollback steps
    bring back the hop's from-version), rollbacks respect the rollback limits crossed, steps run only on the hops
    their conditions allow, every file read exists or an earlier step wrote it, upgradectl's own commands carry the
    plan's fleet, clusters and baseline and parse with this CLI, every file edit applies, the values it leaves are
    accepted by the target chart, and migrated manifests validate for the Kubernetes version they run on.

    Exit 0: consistent; 1: violations (each names the stage and step); 2: the plan or fleet cannot be read."""
    # the verifier loads the knowledge base and chart checks: imported when verify-plan runs, so --help stays fast
    from upgradectl.graph.verify import check_combined, check_plan, load_plan_file
    from upgradectl.models import CombinedPlan
    from upgradectl.tools.cluster.fleet import FleetError, load_fleet

    output_format = choose_format(output_format, ("text", "json"))
    try:
        plan = load_plan_file(plan_file)
    except ValueError as exc:
        raise fail(str(exc)) from None
    ref = fleet or plan.fleet
    loaded = None
    if not ref.startswith("context "):
        try:
            loaded = load_fleet(ref)
        except FleetError as exc:
            raise fail(f"{exc}\n(the plan was made for --fleet {plan.fleet}; pass --fleet to name where it is now)") \
                from None
    check = check_combined if isinstance(plan, CombinedPlan) else check_plan
    verification = check(plan, loaded, chart_store(charts_dir, fetch_charts), command_parser(ctx))
    if output_format == "json":
        sys.stdout.write(verification.model_dump_json(indent=2) + "\n")
    else:
        for violation in verification.violations:
            sys.stdout.write(f"FAIL {violation.check}: {violation.environment} {violation.step}: "
                             f"{violation.message}\n")
        for note in verification.inconclusive:
            sys.stdout.write(f"NOT CHECKED: {note}\n")
        verdict = "consistent" if verification.ok else f"{len(verification.violations)} violation(s)"
        sys.stdout.write(f"{plan_file}: {verdict} ({'; '.join(verification.checked)})\n")
    raise typer.Exit(EXIT_OK if verification.ok else EXIT_BLOCKERS)




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
    app.command("verify-plan")(verify_plan_command)
