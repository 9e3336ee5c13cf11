"""The plan graph on LangGraph Server: `langgraph dev` (the in-memory API server, no Docker) started on
loopback from our langgraph.json, driven with the langgraph-sdk client, compared with the CLI's plan."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_cli import upgradectl

from upgradectl.graph_server import make_graph

REPO = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("upgradectl")
VOLATILE = {"generated_at", "duration_ms", "seconds", "start", "end"}  # wall-clock stamps (the timeline starts when
# the plan is made) and timings differ between any two runs


def comparable(value):
    """A plan's JSON without the fields that differ between two runs of the same plan."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def cli_plan(*args: str) -> dict:
    done = upgradectl("plan", *args, "--format", "json", "--llm", "off")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_langgraph_json_points_at_the_factory():
    config = json.loads((REPO / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["upgrade_plan"].partition(":")
    assert (REPO / path).is_file() and attr == "make_graph"
    assert config["dependencies"] == ["."]


def test_factory_in_process_reports_bad_input_as_error():
    graph = make_graph()
    assert graph.invoke({"request": "upgrade karpentr", "fleet": "demo"})["error"].startswith("unknown tool")
    assert "not found" in graph.invoke({"tool": "karpenter", "fleet": "/nonexistent"})["error"]
    assert graph.invoke({"fleet": "demo"})["error"].startswith("say what to upgrade")


@pytest.fixture(scope="module")
def langgraph_dev(tmp_path_factory) -> Iterator[str]:
    """`langgraph dev --no-browser` on a free loopback port, from a copy of our langgraph.json whose graph path is
    made absolute (the in-memory server keeps its state in ./.langgraph_api, so it runs in a temp directory)."""
    binary = Path(sys.executable).with_name("langgraph")
    if not binary.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("langgraph-cli[inmem] is required in CI (it is in the test extra)")
        pytest.skip("langgraph-cli[inmem] not installed: pip install 'langgraph-cli[inmem]'")
    work = tmp_path_factory.mktemp("langgraph-dev")
    config = json.loads((REPO / "langgraph.json").read_text())
    config["graphs"] = {k: str(REPO / v.split(":")[0]) + ":" + v.split(":")[1] for k, v in config["graphs"].items()}
    config["dependencies"] = [str(REPO)]
    (work / "langgraph.json").write_text(json.dumps(config))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # no usage ping, no PyPI version check: loopback only
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
        # as every test's plans (tests/conftest.py, whose autouse fixtures run after this module fixture): no real
        # OSV, and no user state (knowledge overlay, OSV cache) from ~/.local/share/upgradectl
        "UPGRADECTL_OSV_URL": "http://127.0.0.1:9",
        "UPGRADECTL_STATE_DIR": str(tmp_path_factory.getbasetemp() / "no-user-state"),
    }
    env.pop("LANGSMITH_API_KEY", None)
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(binary),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(work / "langgraph.json"),
        ],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/ok", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not start: {(work / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(work / ".langgraph_api", ignore_errors=True)


def test_server_run_gives_the_cli_plan(langgraph_dev):
    from langgraph_sdk import get_client

    async def plan_on_server() -> tuple[dict, list[str]]:
        client = get_client(url=langgraph_dev)
        thread = await client.threads.create()
        nodes: list[str] = []
        final: dict = {}
        async for part in client.runs.stream(
            thread["thread_id"],
            "upgrade_plan",
            input={"tool": "karpenter", "to": "1.0.10", "fleet": "demo"},
            stream_mode=["updates", "values"],
        ):
            if part.event == "updates" and isinstance(part.data, dict):
                nodes.extend(part.data)
            elif part.event == "values" and isinstance(part.data, dict):
                final = part.data
        return final, nodes

    served, nodes = asyncio.run(plan_on_server())
    assert served.get("error", "") == "", served["error"]
    # the served graph is the six-stage graph: every stage and each agent task streams as a node of its own
    stages = [f"stage{n}" for n in range(1, 7)]
    assert {"read_request", "intake", *stages, *(f"{s}_tasks" for s in stages), "assemble", "verify"} <= set(nodes)
    assert nodes.index("read_request") < nodes.index("intake") < nodes.index("stage1") < nodes.index("stage6")
    assert nodes.count("stage5_tasks") == 3  # the rollout tasks for dev, staging and prod, each one update
    assert nodes[-2:] == ["assemble", "verify"]  # the plan verifier checks the assembled plan last
    assert comparable(served["plan"]) == comparable(
        cli_plan("--tool", "karpenter", "--to", "1.0.10", "--fleet", "demo")
    )


def test_the_server_draws_the_six_stages_and_describes_the_input(langgraph_dev):
    """What Studio shows: the graph's nodes are the stages and agent-task fan-outs, and its input schema."""
    from langgraph_sdk import get_client

    async def described() -> tuple[dict, dict]:
        client = get_client(url=langgraph_dev)
        assistant = next(a for a in await client.assistants.search() if a["graph_id"] == "upgrade_plan")
        return (await client.assistants.get_graph(assistant["assistant_id"]),
                await client.assistants.get_schemas(assistant["assistant_id"]))  # fmt: skip

    drawn, schemas = asyncio.run(described())
    nodes = {node["id"] for node in drawn["nodes"]}
    assert {"read_request", "intake", *(f"stage{n}" for n in range(1, 7)), "stage5_tasks", "assemble"} <= nodes
    assert {"request", "tool", "to", "fleet", "clusters"} <= set(schemas["input_schema"]["properties"])
    assert {"plan", "error"} <= set(schemas["output_schema"]["properties"])


def test_fleet_fans_out_as_one_run_per_cluster(langgraph_dev):
    from langgraph_sdk import get_client

    clusters = ["dev-apps", "eks-staging-apps", "ravan"]

    async def fan_out() -> dict[str, dict]:
        client = get_client(url=langgraph_dev)
        runs = {}
        for name in clusters:
            thread = await client.threads.create(metadata={"cluster": name})
            run = await client.runs.create(
                thread["thread_id"], "upgrade_plan", input={"tool": "karpenter", "fleet": "demo", "clusters": [name]}
            )
            runs[name] = (thread["thread_id"], run["run_id"])
        return {name: await client.runs.join(t, r) for name, (t, r) in runs.items()}

    results = asyncio.run(fan_out())
    for name in clusters:
        plan = results[name]["plan"]
        assert plan["request"]["clusters"] == [name]
        assert [s["clusters"] for s in plan["rollout"]] == [[name]]
        assert [v["cluster"] for v in plan["versions"] if v["target_version"]] == [name]
        others = set(clusters) - {name}  # (dashboards on the shared monitor cluster are in every plan)
        skipped = [f for f in plan["findings"] if f["code"] == "ROLLOUT-EARLIER-STAGE-SKIPPED"]
        assert not [f for f in plan["findings"] if f["subject"]["cluster"] in others and f not in skipped]
        # a one-cluster run says which earlier environments it does not wait for
        expected = {"dev-apps": [], "eks-staging-apps": ["dev-apps"], "ravan": ["dev-apps,eks-staging-apps"]}[name]
        assert [f["subject"]["cluster"] for f in skipped] == expected
