"""Issue 19, defect 8: the MCP server reads and writes only under its roots, and its errors are bounded.

Every tool argument that names a file or directory is tried with paths outside the root (absolute, `..`,
`~`, a symlink inside the root pointing out, a fleet file inside the root that names paths outside);
each must be a tool error naming the allowed root, and nothing may be written outside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hostile import mini_fleet
from mcp import Client

from upgradectl.mcp_server.server import build_server
from upgradectl.tools.cluster.fleet import demo_fleet_path


def text_of(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture
def served(tmp_path):
    """An in-process server whose only root is tmp_path/root; a call helper."""
    root = tmp_path / "root"
    root.mkdir()
    server = build_server(allow_approve=True, roots=[root])

    def call(name: str, arguments: dict):
        return call_many([(name, arguments)])[0]

    def call_many(calls: list[tuple[str, dict]]) -> list:
        async def session():
            async with Client(server) as client:
                return [await client.call_tool(name, arguments) for name, arguments in calls]

        return asyncio.run(session())

    call.many = call_many
    yield root, call
    build_server(roots=[Path.cwd()])  # leave the default for other tests in this process


def outside_paths(tmp_path: Path, root: Path) -> dict[str, str]:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "fleet.yaml").write_text("name: x\nclusters: []\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    return {
        "absolute system file": "/etc/shadow",
        "proc": "/proc/self/environ",
        "system directory": "/etc",
        "dot-dot": "../outside",
        "home": "~/.ssh",
        "symlink out of the root": "link",
    }


FILE_ARGUMENTS = [
    ("plan", "fleet", {"tool": "cilium", "to": "1.15.19"}),
    ("plan", "out_dir", {"tool": "cilium", "to": "1.15.19", "fleet": "demo"}),
    ("plan", "repo", {"tool": "cilium", "kubernetes": "1.30"}),
    ("plan_findings", "plan_file", {}),
    ("explain_finding", "plan_file", {"code": "KARP-V1ALPHA5-PROVISIONER"}),
    ("scan", "fleet", {"target": "k8s=1.32"}),
    ("scan", "manifests", {"target": "k8s=1.32"}),
    ("validate", "fleet", {"tool": "karpenter"}),
    ("validate", "baseline", {"tool": "karpenter", "fleet": "demo"}),
    ("cost", "fleet", {}),
    ("cost", "prices", {"fleet": "demo"}),
    ("list_runs", "state_dir", {}),
    ("approve", "state_dir", {"run_id": "r1", "by": "Asha"}),
    ("reject", "state_dir", {"run_id": "r1", "by": "Asha"}),
]


@pytest.mark.parametrize(("tool", "argument", "others"), FILE_ARGUMENTS, ids=[f"{t}-{a}" for t, a, _ in FILE_ARGUMENTS])
def test_paths_outside_the_roots_are_refused_for_every_file_argument(served, tmp_path, tool, argument, others):
    root, call = served
    paths = outside_paths(tmp_path, root)
    results = call.many([(tool, {**others, argument: [p] if argument == "manifests" else p}) for p in paths.values()])
    for (what, path), result in zip(paths.items(), results, strict=True):
        assert result.is_error, f"{tool}({argument}={path!r}) [{what}] was accepted: {text_of(result)[:300]}"
        message = text_of(result)
        assert "outside the directories this server may use" in message and str(root) in message, message
        assert "root:" not in message and "PATH=" not in message  # nothing of /etc/shadow or environ
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["fleet.yaml"]  # nothing written there


def test_paths_inside_the_root_work(served):
    root, call = served
    mini_fleet(root / "fleet")
    planned = call("plan", {"tool": "cilium", "to": "1.15.19", "fleet": "fleet", "out_dir": "plans", "limit": 1})
    assert not planned.is_error, text_of(planned)
    assert (root / "plans" / "plan.json").is_file()
    page = call("plan_findings", {"plan_file": str(root / "plans"), "limit": 1})
    assert not page.is_error, text_of(page)


def test_a_repository_inside_the_root_is_planned_from_git_alone(served):
    """The plan tool's repo argument on the real onedr0p/home-ops subset: Cilium 1.16.3 (helmrelease.yaml:12)."""
    root, call = served
    shutil.copytree(Path(__file__).parents[1] / "data" / "gitops" / "onedr0p-home-ops-2024-10-15", root / "home-ops")
    planned = call("plan", {"tool": "cilium", "repo": "home-ops", "kubernetes": "1.30", "to": "1.17", "limit": 1,
                            "out_dir": "plans"})  # fmt: skip
    assert not planned.is_error, text_of(planned)
    main = next(v for v in planned.structured_content["versions"] if v["cluster"] == "main")
    assert (main["current_version"], main["kubernetes_version"]) == ("1.16.3", "1.30")
    plan = json.loads((root / "plans" / "plan.json").read_text())
    assert plan["fleet"] == f"repo:{root / 'home-ops'}"  # what `changes` re-opens
    refs = [e["ref"] for v in plan["versions"] for e in v["detected_from"]]
    assert refs == ["kubernetes/main/apps/kube-system/cilium/app/helmrelease.yaml:12"]


def test_a_fleet_inside_the_root_that_names_paths_outside_is_refused(served, tmp_path):
    root, call = served
    demo = demo_fleet_path().parent
    shutil.copytree(demo / "clusters" / "ravan", tmp_path / "elsewhere" / "ravan")
    for key, value in (
        ("snapshot", str(tmp_path / "elsewhere" / "ravan")),
        ("kubeconfig", "/etc/kubernetes/admin.conf"),
    ):
        entry = {"name": "ravan", "environment": "prod", "provider": "eks"}
        entry.update({key: value} if key == "snapshot" else {"context": "ravan", key: value})
        (root / "fleet.yaml").write_text(yaml.safe_dump({"name": "x", "clusters": [entry]}))
        result = call("scan", {"fleet": "fleet.yaml", "target": "k8s=1.32"})
        assert result.is_error and f"clusters[ravan].{key}" in text_of(result), text_of(result)
    (root / "fleet.yaml").write_text(
        yaml.safe_dump({"name": "x", "gitops": {"path": "../../../etc"},
                        "clusters": [{"name": "a", "environment": "dev", "snapshot": "a"}]})
    )  # fmt: skip
    result = call("plan", {"tool": "flux", "fleet": str(root)})
    assert result.is_error and "gitops.path" in text_of(result)


def test_an_unknown_cluster_error_stays_bounded_on_a_huge_fleet(served):
    """README: every result and error is bounded. 3,000 cluster names must not come back."""
    root, call = served
    names = [f"cluster-{i:05d}" for i in range(3000)]
    clusters = [{"name": n, "environment": "dev", "snapshot": f"snapshots/{n}"} for n in names]
    (root / "fleet.yaml").write_text(yaml.safe_dump({"name": "huge", "clusters": clusters}))
    for tool, arguments in (
        ("scan", {"fleet": "fleet.yaml", "clusters": ["nope"]}),
        ("cost", {"fleet": "fleet.yaml", "clusters": ["nope"]}),
    ):
        result = call(tool, arguments)
        message = text_of(result)
        assert result.is_error and "nope" in message, message[:300]
        assert len(message) < 2_500 and "more" in message, len(message)


def test_the_server_refuses_to_start_on_a_root_that_is_not_a_directory(tmp_path):
    from hostile import cli

    outcome = cli("mcp", "--root", str(tmp_path / "missing"))
    assert outcome.code == 2 and "not a directory" in outcome.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="writing into /etc needs root to be a meaningful refusal")
def test_out_dir_in_system_directories_is_refused_even_as_root(served):
    _, call = served
    for target in ("/etc/upgradectl-plans", "/root/plans"):
        result = call("plan", {"tool": "cilium", "to": "1.15.19", "out_dir": target})
        assert result.is_error and not Path(target).exists()
