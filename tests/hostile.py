"""Shared by the hostile-input tests: run the CLI in-process as `upgradectl` would, and the documented exits.

`cli(...)` goes through the same last line of defence as the installed script (upgradectl.cli.app.main),
so an exception a command lets escape shows as exit 70 with its message, exactly what a user would see.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from upgradectl.exit_codes import EXIT_INTERNAL, MEANING, SCAN_MEANING

ADVERSARIAL = Path(__file__).parent / "data" / "adversarial"
DOCUMENTED = set(MEANING) - {EXIT_INTERNAL}  # what a command may exit with; 70 is always a bug
SCAN_DOCUMENTED = set(SCAN_MEANING) - {EXIT_INTERNAL}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def cli(*args: str) -> Outcome:
    """`upgradectl ARGS` in this process, through main(): the exit code, stdout and stderr."""
    from upgradectl.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = ["upgradectl", *args]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
    return Outcome(code, out.getvalue(), err.getvalue())
