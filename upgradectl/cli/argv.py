"""Parse an upgradectl command line with the real CLI, without running it: the plan verifier's proof that the
upgradectl commands a plan prints run as written."""

from __future__ import annotations

import typer

from upgradectl.cli import app as cli


def parse_upgradectl(argv: list[str]) -> str | None:
    """None when `upgradectl ARGV` parses (command, options, types, required values), else the CLI's error."""
    if not cli.app.registered_commands:
        cli.register_commands()
    group = typer.main.get_command(cli.app)
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
