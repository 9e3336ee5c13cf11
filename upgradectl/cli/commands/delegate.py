"""`upgradectl mcp` (the MCP server) and `upgradectl install-claude-agent` (the Claude Code subagent)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.cli.argv import command_parser
from upgradectl.cli.options import format_help
from upgradectl.cli.options import output_format as choose_format
from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_OK

AGENT_FILE = "tool-upgrade-workflow.md"


def mcp(
    ctx: typer.Context,
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            help="Serve streamable HTTP on http://127.0.0.1:PORT/mcp instead of stdio (loopback only).",
            min=1,
            max=65535,
        ),
    ] = None,
    allow_approve: Annotated[
        bool,
        typer.Option(
            "--allow-approve",
            help="Also expose list_runs, approve and reject, which let the client move a paused rollout forward. "
            "Off by default.",
        ),
    ] = False,
    root: Annotated[
        list[Path] | None,
        typer.Option(
            "--root",
            help="A directory the tools may read and write under (fleet files, snapshots, manifests, plan files, "
            "out_dir, prices, baselines, state dirs); repeatable. Default: the working directory. Any other path "
            "is refused with a tool error.",
        ),
    ] = None,
) -> None:
    """Serve upgradectl to Claude Code and other MCP clients: plan, plan_findings, explain_finding, scan,
    validate, cost (and list_runs/approve/reject with --allow-approve).

    Stdio by default (stdout is the protocol, so there is no --format). Add it to Claude Code with:
    claude mcp add upgradectl -- upgradectl mcp
    """
    try:  # the MCP SDK loads only for `upgradectl mcp`; starting the server is all the CLI does with it
        from upgradectl.mcp_server.server import serve
    except ImportError as exc:
        raise fail(f"the MCP server needs the `mcp` package ({exc}); install it with: pip install 'mcp>=2'") from None
    from upgradectl.mcp_server.roots import configure  # with the server: only when `mcp` runs

    try:
        roots = configure(root)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if http is not None:
        err.print(f"upgradectl MCP server on http://127.0.0.1:{http}/mcp (Ctrl-C stops it); roots: "
                  f"{', '.join(map(str, roots))}")
    else:
        # On stdio the server waits for stdin in a worker thread that no cancellation reaches, so asyncio's own
        # Ctrl-C handling would wait for it forever: stop at once instead (nothing is in flight that a crash
        # would not survive: run state is in SQLite transactions).
        signal.signal(signal.SIGINT, _stop_now)
    serve(allow_approve=allow_approve, http_port=http, roots=roots, command_parser=command_parser(ctx))


def _stop_now(signum: int, frame: object) -> None:
    """Ctrl-C on the stdio server: say so and exit 130 (as every command does when interrupted)."""
    err.print("interrupted", highlight=False)
    os._exit(130)


def agent_source() -> Path:
    """The subagent definition shipped with upgradectl."""
    return Path(str(resources.files("upgradectl").joinpath("claude", AGENT_FILE)))


def mcp_add_line(scope: str) -> str:
    """The `claude mcp add` command that registers this installation's MCP server with Claude Code."""
    exe = shutil.which("upgradectl") or str(Path(sys.executable).with_name("upgradectl"))
    return f"claude mcp add --scope {scope} upgradectl -- {exe} mcp"


def install_claude_agent(
    project: Annotated[
        Path | None,
        typer.Option("--project", help="Install into DIR/.claude/agents/ (default: the current directory)."),
    ] = None,
    user: Annotated[bool, typer.Option("--user", help="Install into ~/.claude/agents/ for every project.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing, different file.")] = False,
    output_format: Annotated[str, typer.Option("--format", help=format_help(("text", "json"), "text"))] = "text",
) -> None:
    """Install the tool-upgrade-workflow Claude Code subagent and print the `claude mcp add` line for the
    MCP server it prefers (it falls back to this CLI through Bash without it)."""
    output_format = choose_format(output_format, ("text", "json"))
    if user and project is not None:
        raise fail("--project and --user exclude each other: pick where the subagent goes")
    base = Path.home() if user else (project or Path.cwd())
    if not user and not base.is_dir():
        raise fail(f"--project {base}: no such directory")
    target = base / ".claude" / "agents" / AGENT_FILE
    text = agent_source().read_text()
    state = "installed"
    if target.exists():
        if target.read_text() == text:
            state = "already up to date"
        elif not force:
            raise fail(f"{target} exists and differs from the shipped subagent; pass --force to replace it")
        else:
            state = "replaced"
    if state != "already up to date":
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        except OSError as exc:
            raise fail(f"cannot write {target}: {exc.strerror or exc}") from None
    line = mcp_add_line("user" if user else "project")
    if output_format == "json":
        print(json.dumps({"agent": str(target), "state": state, "mcp_add": line}, indent=2))
    else:
        print(f"{state}: {target}")
        print("Register the MCP server the subagent prefers (run in the project directory for --scope project):")
        print(f"  {line}")
        print("Then ask Claude Code, e.g.: 'use the tool-upgrade-workflow agent to plan the Karpenter upgrade'.")
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command()(mcp)
    app.command("install-claude-agent")(install_claude_agent)
