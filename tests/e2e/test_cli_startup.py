"""Commands are imported only when they run: `upgradectl --help` lists every command with its help from one
table (checked here against the commands the modules register) and loads none of them, and a command loads
only what it uses (no LangGraph or scipy for a scan). What is imported is checked, not how long it takes
(the timings are benchmarks/bench_plan.py's)."""

from __future__ import annotations

import json
import subprocess
import sys

import typer
import typer.main

from upgradectl.cli.app import COMMANDS

LOADED_MODULES = """
import json, sys
from upgradectl.cli.app import main
sys.argv = ["upgradectl", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def run_and_list_modules(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    done = subprocess.run([sys.executable, "-c", LOADED_MODULES, json.dumps(args)], capture_output=True, text=True,
                          timeout=300)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return done, set(json.loads(line.removeprefix("MODULES ")))


def test_the_table_matches_what_every_command_module_registers():
    import importlib

    registered: dict[str, str] = {}
    for module_name in dict.fromkeys(module for module, _help in COMMANDS.values()):
        group = typer.Typer(rich_markup_mode=None)
        importlib.import_module(f"upgradectl.cli.commands.{module_name}").register(group)
        group.callback()(lambda: None)
        for name, command in typer.main.get_command(group).commands.items():
            registered[name] = (module_name, " ".join((command.help or "").split("\n\n")[0].split()))
    assert registered == {name: (module, " ".join(text.split())) for name, (module, text) in COMMANDS.items()}


def test_help_lists_every_command_and_loads_none():
    done, modules = run_and_list_modules("--help")
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("Commands:\n")[1].split("\n\n")[0]
    listed = [line.split()[0] for line in section.splitlines()]
    assert listed == list(COMMANDS)
    assert not {m for m in modules if m.startswith("upgradectl.cli.commands")}
    assert not {"pydantic", "langgraph", "scipy", "numpy", "rich", "importlib.metadata"} & modules


def test_a_scan_loads_neither_langgraph_nor_scipy(tmp_path):
    (tmp_path / "cronjob.yaml").write_text("apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: nightly\n")
    done, modules = run_and_list_modules("scan", "--manifests", str(tmp_path), "--target", "k8s=1.25")
    assert "removed  CronJob" in done.stdout and "cronjob.yaml:1" in done.stdout
    assert {"upgradectl.cli.commands.scan"} == {m for m in modules if m.startswith("upgradectl.cli.commands.")}
    assert not {"langgraph", "scipy", "matplotlib"} & modules
