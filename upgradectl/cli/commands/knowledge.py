"""`upgradectl knowledge status` and `upgradectl knowledge refresh`: how current the knowledge is, and
newer releases from upstream into the user's overlay (logic in tools/knowledge/: freshness, refresh)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.cli.options import format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_OK
from upgradectl.state_dir import STATE_DIR_ENV
from upgradectl.tools.knowledge.freshness import STALE_AFTER_DAYS, ClockError, knowledge_info, today
from upgradectl.tools.knowledge.loader import KnowledgeError, available_tools, load_tool
from upgradectl.tools.knowledge.overlay import OFFLINE_ENV, overlay_disabled, overlay_path
from upgradectl.tools.knowledge.refresh import GITHUB_API, Upstream, refresh
from upgradectl.tools.knowledge.support import supported_lines

knowledge_app = typer.Typer(
    help="How current upgradectl's knowledge of each tool is, and refreshing its releases from upstream.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help=f"Where the knowledge overlay lives (<state-dir>/knowledge/overlay.yaml); default ${STATE_DIR_ENV}, "
        "else ~/.local/share/upgradectl (the same state dir `execute` uses).",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))]


def _with_state_dir(state_dir: Path | None) -> None:
    """Point this process (and so load_tool) at --state-dir's overlay."""
    if state_dir is not None:
        os.environ[STATE_DIR_ENV] = str(state_dir)


def _tools(tool: str | None) -> list[str]:
    known = available_tools()
    if tool is None:
        return known
    if tool not in known:
        raise fail(f"unknown tool {tool!r}: choose one of {', '.join(known)}")
    return [tool]


@knowledge_app.command()
def status(
    tool: Annotated[str | None, typer.Option("--tool", help="Only this tool (default: every tool).")] = None,
    state_dir: StateDirOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """Per tool: the knowledge date (bundled, and the overlay's refresh), the newest known release and line,
    the age in days and which lines still receive fixes. Knowledge older than 60 days is marked stale."""
    output_format = choose_format(output_format, ("text", "json"))
    _with_state_dir(state_dir)
    try:
        on = today()
        rows = []
        for name in _tools(tool):
            k = load_tool(name)
            info = knowledge_info(k, on)
            newest = k.releases[-1]
            supported = supported_lines(k, on)
            rows.append(
                {
                    "tool": name,
                    "display_name": k.display_name,
                    "as_of": info.as_of,
                    "overlay_refreshed_at": info.overlay_refreshed_at,
                    "date": info.effective_date,
                    "age_days": info.age_days,
                    "stale": info.stale,
                    "newest_line": newest.line,
                    "newest_release": newest.latest_patch,
                    "newest_release_date": newest.latest_patch_date,
                    "newest_notes_reviewed": newest.notes_reviewed,
                    "supported_lines": [r.line for r in supported] if supported is not None else None,
                    "warnings": info.warnings,
                }
            )
    except (KnowledgeError, ClockError) as exc:
        raise fail(str(exc)) from exc
    overlay = "" if overlay_disabled() else str(overlay_path())
    if output_format == "json":
        print(json.dumps({"today": on.isoformat(), "max_age_days": STALE_AFTER_DAYS, "overlay": overlay,
                          "offline": overlay_disabled(), "tools": rows}, indent=2))
        return
    if output_format != "text":
        raise fail(f"--format {output_format!r}: use text or json")
    print(f"Knowledge on {on.isoformat()} (stale after {STALE_AFTER_DAYS} days); overlay: "
          + (f"skipped ({OFFLINE_ENV}=1)" if overlay_disabled() else overlay))
    for row in rows:
        dated = row["as_of"] or "undated"
        if row["overlay_refreshed_at"]:
            dated += f", releases refreshed {row['overlay_refreshed_at'][:10]}"
        age = "age unknown" if row["age_days"] is None else f"{row['age_days']} day(s) old"
        newest = f"{row['newest_release']}" + (f" ({row['newest_release_date']})" if row["newest_release_date"] else "")
        if not row["newest_notes_reviewed"]:
            newest += ", notes not reviewed"
        lines = ", ".join(row["supported_lines"]) if row["supported_lines"] is not None else "unknown"
        print(f"  {row['tool']:<16} as of {dated}; {age}{' STALE' if row['stale'] else ''}; newest line "
              f"{row['newest_line']}: {newest}; supported lines: {lines}")
        for warning in row["warnings"]:
            print(f"    warning: {warning}")


@knowledge_app.command("refresh")
def refresh_command(
    tool: Annotated[str | None, typer.Option("--tool", help="Only this tool (default: every tool).")] = None,
    api_url: Annotated[
        str, typer.Option("--api-url", help="GitHub API base URL (a mirror, or a loopback server in tests).")
    ] = GITHUB_API,
    helm_repo_url: Annotated[
        str | None,
        typer.Option(
            "--helm-repo-url",
            help="Read every chart's index.yaml from this Helm repository URL instead of the chart's own "
            "repository (a mirror, or a loopback server in tests).",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request (3 attempts each).")] = 10.0,
    state_dir: StateDirOpt = None,
    output_format: FormatOpt = "text",
) -> None:
    """Read each tool's releases from upstream (GitHub releases; the chart's Helm repository index) into the
    overlay that plans merge over the bundled knowledge. Adds only releases, patch levels, dates, LTS patches and
    chart versions; a new minor is marked "notes not reviewed" and never chosen as a default target. Exit 0
    when every tool was read, 3 when an upstream could not be (the bundled knowledge and any earlier overlay
    stay in use), 2 on bad options or with UPGRADECTL_OFFLINE=1."""
    if overlay_disabled():
        raise fail(f"{OFFLINE_ENV}=1 is set: refresh does not go online and plans ignore the overlay; unset it "
                   "to refresh")
    output_format = choose_format(output_format, ("text", "json"))
    if timeout <= 0:
        raise fail(f"--timeout {timeout}: give the seconds each request may take, e.g. --timeout 10")
    _with_state_dir(state_dir)
    tools = _tools(tool)
    try:
        upstream = Upstream(api_url, helm_repo_url, timeout=timeout)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    with upstream:
        report = refresh(tools, upstream, state_dir)
    if output_format == "json":
        print(json.dumps({
            "overlay": str(report.path),
            "refreshed_at": report.refreshed_at,
            "tools": [{"tool": t.tool, "ok": not t.error, "error": t.error, "changes": t.changes,
                       "new_since_last": t.new_since_last, "notes": t.notes} for t in report.tools],
        }, indent=2))
    else:
        written = any(t.entry for t in report.tools)
        print(f"Refreshed {report.refreshed_at} into {report.path}" if written
              else f"Nothing refreshed; the overlay {report.path} is unchanged")
        for result in report.tools:
            if result.error:
                print(f"  {result.tool}: FAILED: {result.error}")
                continue
            if not result.changes:
                print(f"  {result.tool}: nothing newer than the bundled knowledge")
            for change in result.changes:
                print(f"  {result.tool}: {change}{'  (new)' if change in result.new_since_last else ''}")
            for note in result.notes:
                print(f"  {result.tool}: note: {note}")
    if report.failed:
        err.print(
            f"{len(report.failed)} of {len(report.tools)} tool(s) could not be refreshed "
            f"({', '.join(t.tool for t in report.failed)}): plans keep using the bundled knowledge"
            + (" and the earlier overlay" if report.path.exists() else "") + " for them.",
            highlight=False, markup=False, soft_wrap=True,
        )
        raise typer.Exit(EXIT_INCOMPLETE)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")

