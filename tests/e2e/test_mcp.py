"""`upgradectl mcp` driven by the official `mcp` client SDK: over stdio as Claude Code runs it, over
streamable HTTP on loopback, and in-process for the finer checks."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from run_cli import upgradectl

from upgradectl.mcp_server.results import PlanResult
from upgradectl.mcp_server.server import build_server

EXE = str(Path(sys.executable).with_name("upgradectl"))
KARPENTER_REQUEST = "Karpenter needs upgrade for better bin packing and cost optimization"
BASE_TOOLS = {"plan", "plan_findings", "explain_finding", "scan", "health", "validate", "cost"}
APPROVAL_TOOLS = {"list_runs", "approve", "reject"}


def run(coroutine):
    return asyncio.run(coroutine)


def text_of(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def cli_plan_json(*args: str) -> dict:
    done = upgradectl("plan", *args, "--format", "json", "--llm", "off")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_stdio_session_plans_the_demo_fleet_and_survives_bad_calls():
    async def session():
        # the SDK passes a launched server only a few variables (HOME, PATH...): hand it this run's (the test OSV
        # URL among them) as an MCP client config's `env` would, so the server and the CLI plan alike
        params = StdioServerParameters(command=EXE, args=["mcp"], env=dict(os.environ))
        async with Client(params, read_timeout_seconds=180) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            planned = await client.call_tool(
                "plan", {"request": KARPENTER_REQUEST, "fleet": "demo", "severity": "high", "limit": 5}
            )
            bad_tool = await client.call_tool("plan", {"tool": "karpentr", "fleet": "demo"})
            bad_limit = await client.call_tool("plan", {"tool": "karpenter", "limit": 0})
            bad_fleet = await client.call_tool("scan", {"fleet": "/nonexistent/fleet.yaml"})
            plan_id = planned.structured_content["plan_id"]
            after = await client.call_tool("plan_findings", {"plan_id": plan_id, "cluster": "ravan", "limit": 3})
            return tools, planned, bad_tool, bad_limit, bad_fleet, after

    tools, planned, bad_tool, bad_limit, bad_fleet, after = run(session())
    assert tools == BASE_TOOLS  # approve/reject/list_runs only with --allow-approve

    assert not planned.is_error, text_of(planned)
    plan = PlanResult.model_validate(planned.structured_content)
    cli = cli_plan_json(KARPENTER_REQUEST, "--fleet", "demo")
    assert plan.summary == cli["summary"]
    assert plan.target_version == cli["target_version"]
    assert plan.findings.total_in_plan == len(cli["findings"])
    assert plan.decision.strategy == cli["decision"]["strategy"]["kind"]
    assert [s.environment for s in plan.rollout] == [s["environment"] for s in cli["rollout"]]
    assert {v.cluster: v.current_version for v in plan.versions} == {
        v["cluster"]: v["current_version"] for v in cli["versions"]
    }
    assert len(plan.findings.shown) == 5 and all(f.severity in ("critical", "high") for f in plan.findings.shown)
    assert plan.findings.truncated and "offset=5" in plan.findings.note
    assert len(text_of(planned)) < 60_000  # bounded: the whole plan is hundreds of kB

    assert bad_tool.is_error and "did you mean 'karpenter'" in text_of(bad_tool)
    assert bad_limit.is_error and "limit" in text_of(bad_limit)
    assert bad_fleet.is_error and "/nonexistent/fleet.yaml" in text_of(bad_fleet)

    assert not after.is_error, text_of(after)  # the server kept serving
    page = after.structured_content
    assert page["filters"] == {"cluster": "ravan"} and page["shown"]
    assert all(f["cluster"] == "ravan" for f in page["shown"])


def test_approval_tools_only_with_allow_approve(tmp_path):
    store = str(tmp_path / "runs")

    async def session():
        params = StdioServerParameters(command=EXE, args=["mcp", "--allow-approve", "--root", str(tmp_path)])
        async with Client(params, read_timeout_seconds=60) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            listed = await client.call_tool("list_runs", {"state_dir": store})
            approved = await client.call_tool("approve", {"run_id": "no-such-run", "by": "Asha", "state_dir": store})
            unnamed = await client.call_tool("reject", {"run_id": "no-such-run"})
            explained = await client.call_tool("explain_finding", {"code": "KARP-V1ALPHA5-PROVISIONER"})
            return tools, listed, approved, unnamed, explained

    tools, listed, approved, unnamed, explained = run(session())
    assert tools == BASE_TOOLS | APPROVAL_TOOLS
    assert not listed.is_error, text_of(listed)
    assert listed.structured_content["data"] == [] and listed.structured_content["exit_code"] == 0
    assert approved.is_error and "no-such-run" in text_of(approved)
    assert unnamed.is_error and "by" in text_of(unnamed)  # who decided is required
    assert not explained.is_error


def test_streamable_http_on_loopback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([EXE, "mcp", "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            time.sleep(0.1)

        async def session():
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                return tools, await client.call_tool("explain_finding", {"code": "KARP-V1ALPHA5-PROVISIONER"})

        tools, explained = run(session())
        assert tools == BASE_TOOLS
        assert not explained.is_error and explained.structured_content["introduced_in"] == "0.33.0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """One in-process server (roots: the working directory and pytest's temporary directories) and a helper
    that calls a tool on it."""
    server = build_server(allow_approve=True, roots=[Path.cwd(), tmp_path_factory.getbasetemp()])

    def call(name: str, arguments: dict):
        async def once():
            async with Client(server) as client:
                return await client.call_tool(name, arguments)

        return run(once())

    return server, call


def test_every_tool_and_parameter_is_described_for_a_model(in_process):
    server, _ = in_process
    tools = run(server.list_tools())
    assert {t.name for t in tools} == BASE_TOOLS | APPROVAL_TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 120, tool.name
        assert tool.output_schema, f"{tool.name} has no structured output"
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"


def test_explain_finding_from_the_knowledge_base_and_a_plan(in_process):
    _, call = in_process
    entry = call("explain_finding", {"code": "karp-v1alpha5-provisioner"}).structured_content
    assert entry["in_knowledge_base"] and entry["tool"].startswith("Karpenter")
    assert entry["remediation"] and entry["source"] and entry["introduced_in"] == "0.33.0"
    assert entry["detected_by"].startswith("api_in_use")

    planned = call("plan", {"tool": "karpenter", "to": "1.0.10", "limit": 1}).structured_content
    with_plan = call("explain_finding", {"code": "KARP-V1ALPHA5-PROVISIONER", "plan_id": planned["plan_id"]})
    instances = with_plan.structured_content
    assert instances["instances_total"] == planned["findings"]["by_code"]["KARP-V1ALPHA5-PROVISIONER"]
    assert len(instances["instances"]) <= 5 and instances["instances"][0]["evidence"]

    playbook_code = call("explain_finding", {"code": "WORKLOAD-PDB-BLOCKS-DRAIN", "plan_id": planned["plan_id"]})
    result = playbook_code.structured_content
    assert not result["in_knowledge_base"] and result["instances"] and "playbook" in result["note"]

    unknown = call("explain_finding", {"code": "KARP-V1ALPHA5-PROVISONER"})
    assert unknown.is_error and "did you mean KARP-V1ALPHA5-PROVISIONER" in text_of(unknown)
    stale = call("plan_findings", {"plan_id": "plan-999"})
    assert stale.is_error and "plan_file" in text_of(stale)


def test_plan_files_and_plan_findings_from_a_file(in_process, tmp_path):
    _, call = in_process
    planned = call("plan", {"tool": "karpenter", "to": "1.0.10", "limit": 1, "out_dir": str(tmp_path)})
    files = planned.structured_content["files"]
    assert str(tmp_path / "plan.json") in files and (tmp_path / "plan.md").is_file()
    knowledge = planned.structured_content["knowledge"]  # the model is told how current the facts are
    assert knowledge["as_of"] and knowledge["age_days"] is not None and "stale" in knowledge
    page = call("plan_findings", {"plan_file": str(tmp_path / "plan.json"), "code": "KARP-STORED", "limit": 100})
    shown = page.structured_content["shown"]
    assert shown and all(f["code"].startswith("KARP-STORED") for f in shown)
    assert not page.structured_content["truncated"]


def test_scan_is_bounded(in_process):
    _, call = in_process
    scanned = call("scan", {"fleet": "demo", "target": "k8s=1.30,karpenter=1.0.10", "limit": 3}).structured_content
    assert scanned["exit_code"] == 3 and len(scanned["shown"]) == 3
    assert scanned["matching"] == sum(scanned["by_status"].values()) > 3
    assert scanned["truncated"] and "status='removed'" in scanned["note"]
    nothing = call("scan", {})
    assert nothing.is_error and "nothing to scan" in text_of(nothing)


def test_validate_and_cost_run_the_commands_that_own_them(in_process):
    _, call = in_process
    validated = call("validate", {"tool": "karpenter", "fleet": "demo", "clusters": ["ravan"]})
    assert not validated.is_error, text_of(validated)
    result = validated.structured_content
    assert result["command"] == "upgradectl validate --tool karpenter --fleet demo --format json --cluster ravan"
    assert result["exit_code"] == 3 and "inconclusive" in result["meaning"]  # the demo fleet has no metrics URL
    assert result["data"]["promotion"] == "blocked"

    costed = call("cost", {"fleet": "demo", "clusters": ["ravan"]}).structured_content
    assert costed["exit_code"] == 0 and costed["data"]["reports"][0]["cluster"] == "ravan"

    usage = call("validate", {"tool": "karpenter", "clusters": ["atlantis"]})
    assert usage.is_error and "atlantis" in text_of(usage)


def test_health_runs_the_use_case_upgradectl_health_runs(in_process):
    _, call = in_process
    checked = call("health", {"fleet": "demo", "clusters": ["gke-staging-apps", "ravan"]})
    assert not checked.is_error, text_of(checked)
    result = checked.structured_content
    assert result["command"] == "upgradectl health --fleet demo --format json --clusters gke-staging-apps,ravan"
    # the demo's crash-looping recommendation-engine is in gke-staging-apps' pre-release namespace alpha
    assert result["exit_code"] == 0 and result["data"]["clusters"]["gke-staging-apps"]["verdict"] == "clear"
    pre = [s for s in result["data"]["clusters"]["gke-staging-apps"]["health"]["signals"] if s["prerelease"]]
    assert pre and all(not s["blocking"] for s in pre)
    unknown = call("health", {"fleet": "demo", "clusters": ["atlantis"]})
    assert unknown.is_error and "unknown cluster(s) atlantis" in text_of(unknown)


def test_clients_on_the_initialize_handshake_are_served():
    """Claude Code and older SDKs connect with `initialize` (protocol 2025-11-25), not `server/discover`."""

    async def session():
        params = StdioServerParameters(command=EXE, args=["mcp"])
        async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
            return client.protocol_version, await client.call_tool(
                "explain_finding", {"code": "KARP-V1-TOPOLOGY-SPREAD"}
            )

    version, explained = run(session())
    assert version.startswith("2025-") and not explained.is_error


def test_plan_reports_osv_advisories_from_osv_url_and_refuses_other_schemes(in_process, tmp_path, monkeypatch):
    import shutil  # reason: only this test copies the demo fleet

    from osv_server import osv_server  # reason: the loopback OSV only this test serves

    from upgradectl.evals.fleets import set_kubernetes_version
    from upgradectl.tools.cluster.fleet import demo_fleet_path

    server, call = in_process
    monkeypatch.setenv("UPGRADECTL_STATE_DIR", str(tmp_path / "state"))  # a cache of its own
    monkeypatch.setenv("UPGRADECTL_TODAY", "2026-12-05")
    root = tmp_path / "demo"
    shutil.copytree(demo_fleet_path().parent, root)
    # keystone on Kubernetes 1.28, inside Argo CD 2.10's range, so a 2.10 patch can be the target
    set_kubernetes_version(root / "clusters" / "keystone" / "cluster.yaml", "v1.28.13-eks-a737599")
    request = {"request": "ArgoCD upgrade required for security patches", "fleet": str(root / "fleet.yaml"),
               "limit": 1}  # fmt: skip
    with osv_server("GHSA-9766-5277-j5hr", "GO-2024-2877", "GHSA-9m6p-x4h2-6frq", "GO-2024-2792") as osv:
        planned = call("plan", {**request, "osv_url": osv.url}).structured_content
    report = planned["advisories"]
    # GHSA-9766-5277-j5hr (critical): argo-cd/v2 range {introduced 2.10.0-rc1, fixed 2.10.10}
    assert planned["target_version"] == "2.10.10" and report["status"] == "checked" and report["patch_suffices"]
    critical = next(a for a in report["advisories"] if a["id"] == "GHSA-9766-5277-j5hr")
    assert critical["severity"] == "critical" and "2.10.10" in critical["fixed"] and critical["link"]
    skipped = call("plan", {**request, "check_advisories": False}).structured_content
    assert skipped["advisories"]["status"] == "not-checked"
    refused = call("plan", {**request, "osv_url": "file:///etc/passwd"})
    assert refused.is_error and "http:// or https://" in text_of(refused)
    approve = next(t for t in run(server.list_tools()) if t.name == "approve")
    assert "notify" not in approve.input_schema["properties"] and "webhook" in approve.description
