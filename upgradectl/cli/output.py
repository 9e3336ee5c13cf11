"""What every command prints on stderr: the console and the one-line error with its exit.

The console never reads rich markup: what it prints is user text (paths, cluster names, request words,
messages quoting them), and `[/x]` in a path must print as written, not crash or vanish.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from upgradectl.exit_codes import EXIT_USAGE

err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)  # paths stay on one line


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print a one-line error (what was wrong, how to fix it) and return the exit to raise."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


def usable_out_dir(out: Path, flag: str = "--out") -> Path:
    """Refuse, before any work, an output directory that cannot be one: an existing file, or a path under one."""
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise fail(f"{flag} {out}: {parent} is a file, not a directory; pass a directory (new or existing)")
            break
    return out


def write_failed(out: Path, exc: OSError, flag: str = "--out") -> typer.Exit:
    """The exit for an output directory that could not be written (permission denied, disk full)."""
    return fail(f"{flag} {out}: cannot write there ({exc.strerror or type(exc).__name__}); pass a writable directory")
