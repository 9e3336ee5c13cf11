"""One flag per concept across every command (issue 20): `--cluster` (repeatable, comma lists; `--clusters` a
hidden alias), `-o/--out`, `-f/--fleet`, and `--format` with the same value names everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from upgradectl.cli.app import COMMANDS, _module_commands, parse_upgradectl
from upgradectl.cli.options import FORMAT_ALIASES, FORMATS, cluster_names


def every_command() -> dict[str, Any]:
    """Every command as users type it ('demo metrics' for a group's command), as the lazy group builds them."""
    found: dict[str, Any] = {}
    for module in dict.fromkeys(module for module, _help in COMMANDS.values()):
        for name, command in _module_commands(module).items():
            if hasattr(command, "commands"):  # a group: its commands
                found.update({f"{name} {sub}": cmd for sub, cmd in command.commands.items()})
            else:
                found[name] = command
    return found


COMMAND_LIST = every_command()


def options(command: Any) -> list[Any]:
    """The command's options (typer builds them on its own copy of click, hence no isinstance on click's)."""
    return [p for p in command.params if p.param_type_name == "option"]


def test_every_command_is_checked():
    assert {"plan", "scan", "cost", "baseline", "validate", "changes", "demo metrics", "snapshot"} <= set(COMMAND_LIST)


@pytest.mark.parametrize("name", sorted(COMMAND_LIST))
def test_one_spelling_per_concept(name):
    for option in options(COMMAND_LIST[name]):
        spellings = set(option.opts) | set(option.secondary_opts)
        if "--clusters" in spellings:  # the old spelling: only as a hidden alias next to --cluster
            assert option.hidden, f"{name}: --clusters must be hidden"
            assert any("--cluster" in o.opts for o in options(COMMAND_LIST[name])), name
        if "--cluster" in spellings:
            assert option.multiple and not option.hidden, f"{name}: --cluster must be repeatable"
        if "--out" in spellings:
            assert "-o" in spellings, f"{name}: --out without -o"
        if "-o" in spellings:
            assert "--out" in spellings, f"{name}: -o means --out everywhere, not {option.opts}"
        if "-f" in spellings:
            assert "--fleet" in spellings, f"{name}: -f means --fleet everywhere, not {option.opts}"
        if "--format" in spellings:
            assert option.opts == ["--format"], f"{name}: --format has no other spelling ({option.opts})"
            assert option.default in FORMATS, f"{name}: --format default {option.default!r} is not a shared name"
            listed = [f for f in FORMATS if f in (option.help or "")]
            assert listed and "table" not in option.help and "markdown" not in option.help, option.help


@pytest.mark.parametrize("name", sorted(n for n, c in COMMAND_LIST.items()
                                        if any("--cluster" in o.opts for o in options(c))))  # fmt: skip
def test_cluster_is_repeatable_and_the_old_spelling_still_parses(name):
    required = _required_args(COMMAND_LIST[name])
    assert parse_upgradectl([*name.split(), *required, "--cluster", "a", "--cluster", "b,c"]) is None
    assert parse_upgradectl([*name.split(), *required, "--clusters", "a,b"]) is None


@pytest.mark.parametrize("name", sorted(n for n, c in COMMAND_LIST.items()
                                        if any("--out" in o.opts for o in options(c))))  # fmt: skip
def test_short_out_parses_everywhere(name):
    assert parse_upgradectl([*name.split(), *_required_args(COMMAND_LIST[name]), "-o", "somewhere"]) is None


def _required_args(command: Any) -> list[str]:
    """Placeholder values for a command's required options and arguments, so only the flag under test varies."""
    argv: list[str] = []
    for param in command.params:
        if param.required and param.param_type_name == "option":
            argv += [param.opts[0], "x"]
        elif param.required:
            argv.append("x")
    return argv


def test_cluster_names_take_repeats_and_comma_lists_once_each():
    assert cluster_names(["a,b", " c "], ["b", ""], None) == ["a", "b", "c"]
    assert cluster_names(None, None) == []


def test_old_format_names_mean_the_shared_ones():
    assert FORMAT_ALIASES == {"table": "text", "markdown": "md"}
    assert set(FORMAT_ALIASES.values()) <= set(FORMATS)
