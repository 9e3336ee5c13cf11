"""The environment is the lock, and the built package ships every data file the demo needs."""

from __future__ import annotations

import subprocess
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from package_build import GIT_FILES
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DATA_ROOTS = {  # installed prefix -> source folder
    "upgradectl/demo_fleet": "upgradectl/demo_fleet",
    "upgradectl/tools/knowledge": "tools/knowledge",
    "upgradectl/prompts": "prompts",
    "upgradectl/evals/scenarios": "evals/scenarios",
}


def _locked_versions() -> dict[str, set[str]]:
    """Name -> locked versions (a universal lock may hold several, one per Python range)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        versions.setdefault(canonicalize_name(package["name"]), set()).add(package.get("version", ""))
    return versions


def test_every_installed_distribution_is_the_locked_version():
    locked = _locked_versions()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {
        name: (version, sorted(locked.get(name, {"not in uv.lock"})))
        for name, version in installed.items()
        if version not in locked.get(name, set())
    }
    assert not wrong, f"installed (version, locked) differ; run scripts/setup.sh: {wrong}"


def test_every_direct_dependency_is_installed():
    requires = metadata.requires("upgradectl") or []
    names = {canonicalize_name(r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip())
             for r in requires if "extra ==" not in r}
    missing = [name for name in names if name not in {canonicalize_name(d.metadata["Name"])
                                                       for d in metadata.distributions()}]
    assert not missing


def _source_files(folder: str) -> set[str]:
    base = ROOT / folder
    return {
        str(path.relative_to(base))
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.mark.real
def test_the_wheel_ships_every_data_file_of_the_source_tree(built_wheel):
    """Build the wheel from a clean copy and compare file lists (the Terraform lock file was once lost)."""
    assert "is absent from the `packages` configuration" not in built_wheel.build_log
    assert "SetuptoolsDeprecationWarning" not in built_wheel.build_log
    names = zipfile.ZipFile(built_wheel.path).namelist()
    for prefix, folder in DATA_ROOTS.items():
        shipped = {n[len(prefix) + 1 :] for n in names if n.startswith(prefix + "/")}
        expected = {f for f in _source_files(folder) if f in {str(Path(n)) for n in _git_files(folder)}}
        assert expected - shipped == set(), f"{folder}: missing from the wheel"
    assert "upgradectl/demo_fleet/terraform/eks/.terraform.lock.hcl" in names


def _git_files(folder: str) -> list[str]:
    listed = subprocess.run([*GIT_FILES, folder], cwd=ROOT, capture_output=True, text=True, check=True)
    return [str(Path(line).relative_to(folder)) for line in listed.stdout.splitlines()]
