"""House rules the import contract cannot see: a function-level import defers a heavy dependency and says
why; every test lives in a lane. (The dependency direction and the absence of cycles are checked on the
built wheel: tests/integration/test_import_contract.py.)"""

from __future__ import annotations

import ast
import glob
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("upgradectl", "agents", "graph", "tools", "evals", "prompts")  # setup.py's roots
DATA = {"demo_fleet", "scenarios", "__pycache__"}  # data folders: their files are fixtures, not upgradectl's code


def runtime_modules() -> list[Path]:
    return [
        path
        for folder in RUNTIME
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not DATA.intersection(path.relative_to(ROOT).parts)
    ]


def unexplained_function_imports(source: str) -> list[int]:
    """Lines of imports inside functions that carry no reason: a comment on the import, or on the line that
    leads its block of imports."""
    lines = source.splitlines()
    nested = [
        node
        for function in ast.walk(ast.parse(source))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    import_lines = {n for node in nested for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
    missing = []
    for node in nested:
        own = lines[node.lineno - 1 : node.end_lineno or node.lineno]
        if any("#" in line for line in own):
            continue
        above = node.lineno - 1
        while above >= 1 and (not lines[above - 1].strip() or above in import_lines):
            if above in import_lines and "#" in lines[above - 1]:
                break  # an earlier import of the same block says why
            above -= 1
        if above < 1 or "#" not in lines[above - 1]:
            missing.append(node.lineno)
    return missing


def test_function_level_imports_defer_a_heavy_dependency_and_say_so():
    """STYLE.md: a function-level import is for a heavy, optional dependency (the model SDK, langgraph, the
    kubernetes client, scipy/matplotlib, psycopg, the MCP SDK), with a one-line reason; never to break a
    cycle (there are none: the import contract)."""
    missing = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in runtime_modules()
        for line in unexplained_function_imports(path.read_text())
    ]
    assert not missing, f"function-level imports without a reason comment: {missing}"


def test_the_rule_sees_a_bare_import_and_accepts_a_reasoned_one():
    bare = "def f():\n    import json\n    return json\n"
    reasoned = "def f():\n    import scipy  # heavy: cost analysis only\n    import numpy\n    return scipy, numpy\n"
    led = "def f():\n    # langgraph loads only when a run executes\n    from langgraph.types import Command\n"
    assert unexplained_function_imports(bare) == [2]
    assert unexplained_function_imports(reasoned) == []
    assert unexplained_function_imports(led) == []


def test_every_test_module_is_in_a_lane():
    tests = ROOT / "tests"
    stray = sorted(p.name for p in tests.glob("test_*.py"))
    assert not stray, f"put these in tests/unit, tests/integration or tests/e2e: {stray}"
    lanes = {p.parent.name for p in tests.rglob("test_*.py")}
    assert lanes <= {"unit", "integration", "e2e"}, lanes


def test_the_layer_contract_names_every_top_level_package():
    """A package missing from the layers would be free to import anything."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["id"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    code = {f"upgradectl.{folder}" for folder in RUNTIME if folder not in ("upgradectl", "prompts")}
    code |= {f"upgradectl.{p.stem}" for p in (ROOT / "upgradectl").glob("*.py") if not p.stem.startswith("_")}
    code |= {f"upgradectl.{p.name}" for p in (ROOT / "upgradectl").iterdir() if (p / "__init__.py").is_file()}
    assert code - named == set(), f"add these to [tool.importlinter] layers in pyproject.toml: {code - named}"


def module_map() -> list[str]:
    """The paths the README's module map names (backticked, first column)."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("Module map:") :].split("\n\n")[1]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return [path for row in rows for path in re.findall(r"`([^`]+)`", row)]


def test_the_readme_module_map_matches_the_tree():
    """Every path the map names exists, and every module of upgradectl is on it (itself or its folder)."""
    named = module_map()
    missing = [p for p in named if not (glob.glob(str(ROOT / p)) or (ROOT / p).exists())]
    assert not missing, f"the README module map names paths that do not exist: {missing}"
    covered = {Path(f).resolve() for p in named for f in glob.glob(str(ROOT / p))}
    folders = [(ROOT / p).resolve() for p in named if p.endswith("/")]
    unmapped = [
        str(path.relative_to(ROOT))
        for path in runtime_modules()
        if path.name not in ("__init__.py", "__main__.py")
        and path.resolve() not in covered
        and not any(path.resolve().is_relative_to(folder) for folder in folders)
    ]
    assert not unmapped, f"add these modules to the README module map: {unmapped}"
