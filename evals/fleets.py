"""Fleets for eval scenarios: the bundled demo fleet, a scenario's own fixture, or an overlay built at
eval time (a copy of a base fleet, trimmed to some clusters, with files replaced, removed or a
cluster's Kubernetes version changed). Overlays are deterministic: the same scenario always builds
the same tree, so the bundled demo fleet is reused by reference and scenario folders stay small.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml

from upgradectl.evals.scenario import FleetOverlay, LoadedScenario, ScenarioError
from upgradectl.tools.cluster.fleet import demo_fleet_path

APPEND_SUFFIX = ".append.yaml"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _base_dir(ref: str, scenario: LoadedScenario) -> Path:
    """The directory holding the base fleet's fleet.yaml."""
    if ref == "demo":
        return demo_fleet_path().parent
    path = (scenario.folder / ref).resolve()
    if path.is_file():
        return path.parent
    if not (path / "fleet.yaml").is_file():
        raise ScenarioError(f"{scenario.id}: fleet {ref!r} has no fleet.yaml ({path})")
    return path


@contextmanager
def scenario_fleet(scenario: LoadedScenario) -> Iterator[str]:
    """Yield the fleet reference (`demo` or a fleet.yaml path) the plan runs on; overlays live in a
    temporary directory for the duration."""
    spec = scenario.spec.fleet
    if isinstance(spec, str):
        if spec == "demo":
            yield "demo"
            return
        yield str(_base_dir(spec, scenario) / "fleet.yaml")
        return
    with TemporaryDirectory(prefix=f"upgradectl-eval-{scenario.id}-") as tmp:
        root = Path(tmp) / "fleet"
        build_overlay(spec, scenario, root)
        yield str(root / "fleet.yaml")


def build_overlay(spec: FleetOverlay, scenario: LoadedScenario, root: Path) -> None:
    """Copy the base fleet to root and apply the overlay's edits in a fixed order: trim, copy (a
    `<plural>.append.yaml` adds its items to the base's `<plural>.yaml` List), remove, Kubernetes versions."""
    base = _base_dir(spec.base, scenario)
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("__pycache__"))
    fleet_file = root / "fleet.yaml"
    fleet = yaml.safe_load(fleet_file.read_text())
    names = [c["name"] for c in fleet.get("clusters", [])]
    unknown = sorted(set(spec.clusters) - set(names))
    if unknown:
        raise ScenarioError(
            f"{scenario.id}: fleet.clusters names {', '.join(unknown)}; the base has {', '.join(names)}"
        )
    if spec.clusters:
        fleet["clusters"] = [c for c in fleet["clusters"] if c["name"] in spec.clusters]
        fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
    if spec.overlay:
        source = scenario.folder / spec.overlay
        if not source.is_dir():
            raise ScenarioError(f"{scenario.id}: overlay folder {source} not found")
        shutil.copytree(source, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(f"*{APPEND_SUFFIX}"))
        for extra in sorted(source.rglob(f"*{APPEND_SUFFIX}")):
            rel = extra.relative_to(source)
            append_items(root / rel.parent / rel.name.replace(APPEND_SUFFIX, ".yaml"), extra, scenario)
    for rel in spec.remove:
        target = root / rel
        if not target.exists():
            raise ScenarioError(f"{scenario.id}: remove: {rel} does not exist in the base fleet")
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    entries = {c["name"]: c for c in fleet["clusters"]}
    for cluster, git_version in spec.kubernetes_versions.items():
        if cluster not in entries or not entries[cluster].get("snapshot"):
            raise ScenarioError(f"{scenario.id}: kubernetes_versions: {cluster} is not a snapshot cluster of the fleet")
        set_kubernetes_version(root / entries[cluster]["snapshot"] / "cluster.yaml", git_version)


def append_items(target: Path, extra: Path, scenario: LoadedScenario) -> None:
    """Add the items of an overlay's `<plural>.append.yaml` List to the base's `<plural>.yaml` List (one
    more CRD, one more object) without copying the whole recorded file into the scenario."""
    if not target.is_file():
        raise ScenarioError(f"{scenario.id}: {extra.name} appends to {target.name}, which the base fleet lacks")
    base = yaml.load(target.read_text(), Loader=_Loader)
    added = yaml.load(extra.read_text(), Loader=_Loader)
    if not isinstance(base, dict) or not isinstance(added, dict) or not isinstance(added.get("items"), list):
        raise ScenarioError(f"{scenario.id}: {extra} and {target} must both be List documents with items")
    base.setdefault("items", []).extend(added["items"])
    target.write_text(yaml.dump(base, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=4096))


def set_kubernetes_version(cluster_file: Path, git_version: str) -> None:
    """Record another /version in a snapshot's cluster.yaml (gitVersion and the minor it implies)."""
    bare = git_version.lstrip("v").split("-", 1)[0].split("+", 1)[0]
    parts = bare.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ScenarioError(f"kubernetes version {git_version!r} is not like v1.27.16 or v1.27.16-eks-a18cd3a")
    meta = yaml.safe_load(cluster_file.read_text())
    version = meta.setdefault("server_version", {})
    plus = "+" if str(version.get("minor", "")).endswith("+") else ""
    version.update({"major": parts[0], "minor": parts[1] + plus, "gitVersion": "v" + git_version.lstrip("v")})
    cluster_file.write_text(yaml.safe_dump(meta, sort_keys=False))
