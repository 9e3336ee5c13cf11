"""Parse an upgradectl command line with the real CLI, without running it: the plan verifier's proof that the
upgradectl commands a plan prints run as written.

The grammar is the running CLI's own command group (`upgradectl.cli.app.parse_upgradectl` hands it over), so
this module needs nothing from the command modules, and they get the parser from their typer context (the app's
callback puts it there) without importing the app that registers them.
"""

from __future__ import annotations

from typing import Any

import typer

from upgradectl.tools.verify.commands import CommandParser


def parse_with(group: Any, argv: list[str]) -> str | None:
    """None when `upgradectl ARGV` parses with `group` (command, options, types, required values), else the
    CLI's error."""
    try:
        with group.make_context("upgradectl", list(argv)) as context:
            name, command, rest = group.resolve_command(context, [*context._protected_args, *context.args])
            if command is None:
                return f"no command {name!r}"
            with command.make_context(name or "", rest, parent=context):
                return None
    except typer.Exit:
        return None
    except typer.TyperException as exc:  # the CLI's usage errors (no such option, bad value, missing option)
        format_message = getattr(exc, "format_message", None)
        return format_message() if callable(format_message) else str(exc)


def command_parser(ctx: typer.Context) -> CommandParser | None:
    """The parser of the CLI that is running this command (None when the app's callback did not run)."""
    services = ctx.find_root().obj
    return services.get("command_parser") if isinstance(services, dict) else None
