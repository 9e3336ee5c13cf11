"""Package discovery for the installed layout (everything else is in pyproject.toml).

The repository keeps agents/, graph/, tools/, prompts/ and evals/ at the top level (the design card),
but they install under the upgradectl namespace so they never collide with other distributions'
top-level packages (there are many called "tools"). pyproject.toml cannot express "every folder under
these roots, renamed", so this file lists them: code packages and the data folders inside them (demo
fleet, knowledge YAML, prompt templates, eval scenarios) alike, which is what setuptools asks for
instead of warning about data folders that look like packages. Folders whose names are not Python
identifiers (`dev-apps`, `apps.k8s.io`) cannot be packages; their files ship as package data of the
nearest listed folder (pyproject.toml's recursive package-data globs).
"""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "upgradectl": "upgradectl",
    "upgradectl.agents": "agents",
    "upgradectl.graph": "graph",
    "upgradectl.tools": "tools",
    "upgradectl.prompts": "prompts",
    "upgradectl.evals": "evals",
}
SKIPPED = {"__pycache__"}


def _packages() -> list[str]:
    """Every importable folder under each root as a dotted package name (data folders included)."""
    names = []
    for package, folder in ROOTS.items():
        names.append(package)
        for path in sorted(Path(folder).rglob("*")):
            parts = path.relative_to(folder).parts
            if path.is_dir() and not SKIPPED.intersection(parts) and all(p.isidentifier() for p in parts):
                names.append(".".join((package, *parts)))
    return names


setup(packages=_packages(), package_dir=ROOTS)
