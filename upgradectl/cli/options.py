"""One flag per concept across every command: `--cluster`, `-f/--fleet`, `-o/--out`, `--format`.

`--cluster NAME` is repeatable and takes comma lists; the old spelling `--clusters` stays as a hidden alias.
`--format` takes the same value names everywhere: text (for people, the default), md, json, html; the old
names `table` (= text) and `markdown` (= md) are still accepted. tests/unit/test_cli_flags.py checks every
command against this.
"""

from __future__ import annotations

from typing import Annotated

import typer

from upgradectl.cli.output import fail

FORMATS = ("text", "md", "json", "html")
FORMAT_ALIASES = {"table": "text", "markdown": "md"}

ClusterOpt = Annotated[
    list[str] | None,
    typer.Option("--cluster", help="Cluster name; repeat it or give a comma list (default: every cluster in scope)."),
]
ClustersAliasOpt = Annotated[
    list[str] | None, typer.Option("--clusters", hidden=True, help="Old spelling of --cluster.")
]


def cluster_names(*given: list[str] | None) -> list[str]:
    """The clusters named by --cluster (and its alias), in order, each once: ['a,b', 'c'] -> ['a', 'b', 'c']."""
    names = [name.strip() for values in given for value in values or [] for name in value.split(",")]
    return list(dict.fromkeys(name for name in names if name))


def format_help(allowed: tuple[str, ...], default: str) -> str:
    return f"Output format: {', '.join(allowed)} (default {default})."


def output_format(value: str, allowed: tuple[str, ...], code: int | None = None) -> str:
    """The format asked for, by its one name; a clear usage error for one this command does not print."""
    name = FORMAT_ALIASES.get(value.lower(), value.lower())
    if name not in allowed:
        message = f"--format {value!r} is not one of {', '.join(allowed)}"
        raise fail(message) if code is None else fail(message, code)
    return name
