"""The Claude Code subagent: its front matter, the commands it tells Claude Code to run (run here, as
written, against the demo fleet), `install-claude-agent`, and the `--fail-on` exit codes it relies on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from run_cli import upgradectl

from upgradectl.cli.commands.delegate import agent_source
from upgradectl.mcp_server.server import build_server

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXE = BIN / "upgradectl"
SHIPPED = agent_source()
KARPENTER_REQUEST = "Karpenter needs upgrade for better bin packing and cost optimization"


def front_matter(text: str) -> tuple[dict, str]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.DOTALL)
    assert match, "the subagent file must start with YAML front matter between --- lines"
    return yaml.safe_load(match.group(1)), match.group(2)


def shell_commands(body: str) -> list[tuple[str, int]]:
    """Every line of every ```bash block, with the exit code its trailing `# exit N` comment promises (else 0)."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", body, re.DOTALL):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                expected = re.search(r"#\s*exit\s+(\d+)", line)
                commands.append((line.strip(), int(expected.group(1)) if expected else 0))
    return commands


def test_front_matter_names_the_agent_and_its_tools():
    meta, body = front_matter(SHIPPED.read_text())
    assert meta["name"] == "tool-upgrade-workflow"
    assert "Karpenter" in meta["description"] and "proactively" in meta["description"]
    tools = [t.strip() for t in meta["tools"].split(",")]
    assert {"Bash", "Read", "Grep", "Glob"} <= set(tools)
    assert not {"Write", "Edit"} & set(tools)  # a planner, not an editor
    served = {t.name for t in __import__("asyncio").run(build_server().list_tools())}
    assert {t.removeprefix("mcp__upgradectl__") for t in tools if t.startswith("mcp__")} == served
    assert "Stage" in body and "upgradectl plan" in body


def test_the_repository_copy_is_the_shipped_file():
    assert (REPO / ".claude" / "agents" / "tool-upgrade-workflow.md").read_text() == SHIPPED.read_text()


@pytest.mark.slow  # each command of the agent's instructions through bash and the installed script
def test_its_commands_work_on_the_demo_fleet(tmp_path):
    _, body = front_matter(SHIPPED.read_text())
    commands = shell_commands(body)
    assert any(c.startswith("upgradectl plan") for c, _ in commands) and len(commands) >= 6
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("ANTHROPIC_API_KEY", None)
    for command, expected in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == expected, f"{command}\nexit {done.returncode}, stderr:\n{done.stderr[-2000:]}"
    plan = tmp_path / "out" / "karpenter" / "plan.md"
    assert plan.read_text().lstrip().startswith("# Upgrade plan: Karpenter")
    assert json.loads((tmp_path / "out" / "cost-ravan.json").read_text())["reports"][0]["cluster"] == "ravan"


def test_fail_on_exit_codes_on_the_demo_karpenter_plan():
    def plan_exit(severity: str) -> int:
        return upgradectl(
            "plan", KARPENTER_REQUEST, "--fleet", "demo", "--format", "json", "--llm", "off", "--fail-on", severity
        ).returncode

    assert plan_exit("high") == 1  # the demo Karpenter plan has high findings
    assert plan_exit("critical") == 0  # and no critical one


def install(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        [str(EXE), "install-claude-agent", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_install_into_a_project_prints_the_mcp_add_line(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    done = install("--project", str(project), home=tmp_path)
    assert done.returncode == 0, done.stderr
    target = project / ".claude" / "agents" / "tool-upgrade-workflow.md"
    assert target.read_text() == SHIPPED.read_text()
    assert f"installed: {target}" in done.stdout
    assert f"claude mcp add --scope project upgradectl -- {EXE} mcp" in done.stdout

    again = install("--project", str(project), "--format", "json", home=tmp_path)
    assert json.loads(again.stdout)["state"] == "already up to date"

    target.write_text("---\nname: mine\n---\nmy own edits\n")
    refused = install("--project", str(project), home=tmp_path)
    assert refused.returncode == 2 and "--force" in refused.stderr and "my own edits" in target.read_text()
    assert install("--project", str(project), "--force", home=tmp_path).returncode == 0
    assert target.read_text() == SHIPPED.read_text()


def test_install_for_the_user(tmp_path):
    done = install("--user", "--format", "json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["agent"] == str(tmp_path / ".claude" / "agents" / "tool-upgrade-workflow.md")
    assert result["mcp_add"].startswith("claude mcp add --scope user upgradectl -- ")


@pytest.mark.parametrize("args", [["--user", "--project", "."], ["--project", "/nonexistent/dir"]])
def test_install_usage_errors(tmp_path, args):
    done = install(*args, home=tmp_path)
    assert done.returncode == 2 and "error:" in done.stderr
