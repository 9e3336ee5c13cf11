"""What every command prints on stderr: the console and the one-line error with its exit."""

from __future__ import annotations

import typer
from rich.console import Console

from upgradectl.exit_codes import EXIT_USAGE

err = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print a one-line error (what was wrong, how to fix it) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)
