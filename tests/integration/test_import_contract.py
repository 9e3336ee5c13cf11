"""The dependency direction and the absence of import cycles, checked by import-linter's contracts in
pyproject.toml against upgradectl as users install it: the built wheel, unpacked. (In the editable install
agents/, graph/, tools/, prompts/ and evals/ are mapped by setup.py and invisible to import-linter.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(site: Path, config: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the upgradectl found in `site` (run from there: the working directory comes first
    on its path, and the source tree's upgradectl/ folder holds only part of the package)."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"], cwd=site, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def installed(built_wheel, tmp_path_factory) -> Path:
    if not LINT_IMPORTS.exists():
        pytest.fail("import-linter is in the test extra: run scripts/setup.sh")
    return built_wheel.unpacked(tmp_path_factory.mktemp("site"))


@pytest.mark.real
def test_every_contract_holds_on_the_installed_package(installed):
    done = lint_imports(installed, ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout[done.stdout.find('Broken contracts'):][:4000] + done.stderr[-2000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout
    assert "Analyzed 1" in done.stdout  # it saw the whole package (over a hundred modules), not an empty one


@pytest.mark.real
def test_the_contracts_catch_a_cycle_and_an_interface_calling_another(installed, tmp_path):
    """The check can fail: the same contracts on a copy with an upward import and a cycle planted in it."""
    planted = tmp_path / "site"
    shutil.copytree(installed, planted)
    with (planted / "upgradectl" / "tools" / "cluster" / "kubemeta.py").open("a") as module:
        module.write("\n\ndef _planted():\n    from upgradectl.tools.cluster.fleet import load_fleet  # planted\n")
    with (planted / "upgradectl" / "cli" / "output.py").open("a") as module:
        module.write("\nfrom upgradectl.mcp_server import results  # planted\n")
    done = lint_imports(planted, ROOT / "pyproject.toml")
    assert done.returncode != 0
    assert "upgradectl.cli.output -> upgradectl.mcp_server.results" in done.stdout
    assert ".kubemeta -> .fleet" in done.stdout
