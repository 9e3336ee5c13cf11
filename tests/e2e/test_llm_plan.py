"""`upgradectl plan --llm on` end to end: the installed CLI, the real SDK, a scripted model on loopback.

Two runs share one script: one on the demo fleet, one on a copy with a canary secret and a prompt
injection planted. A third run meets a model that answers 529 forever.
"""

from __future__ import annotations

import base64
import json

import pytest
from llm_scripts import (
    CANARY,
    FABRICATED_FINDING,
    INJECTION,
    NARRATIVE,
    UNCITED_FINDING,
    VALID_FINDING,
    agent_script,
    copy_demo_fleet,
    plant_canary_and_injection,
    run_plan_with_model,
    tool_calls_by_task,
)
from run_cli import upgradectl
from scripted_anthropic import ScriptedAnthropic, overloaded

from upgradectl.agents.llm.tools import REGISTRY

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    with ScriptedAnthropic(agent_script()) as server:
        return run_plan_with_model(server, tmp_path_factory.mktemp("demo-llm"))


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    fleet = copy_demo_fleet(tmp_path_factory.mktemp("planted") / "fleet")
    plant_canary_and_injection(fleet)
    with ScriptedAnthropic(agent_script()) as server:
        return run_plan_with_model(server, tmp_path_factory.mktemp("planted-llm"), fleet=str(fleet))


def _llm_findings(plan):
    return [f for f in plan["findings"] if f["origin"] == "llm"]


def test_full_run_completes_with_the_model(demo_run):
    assert demo_run.result.returncode in (0, 1), demo_run.result.stderr
    assert demo_run.plan["llm"]["mode"] == "on" and not demo_run.plan["llm"]["degraded"]
    assert demo_run.plan["llm"]["model"] == "claude-sonnet-5-5"
    assert "model claude-sonnet-5-5:" in demo_run.result.stderr
    modes = {(r["task"], r["mode"]) for r in demo_run.plan["task_log"]}
    assert ("Tool upgrade assessment: breaking changes", "llm") in modes
    assert ("Application impact analysis", "llm") in modes


def test_evidenced_model_finding_is_in_the_plan_with_its_agent(demo_run):
    [finding] = _llm_findings(demo_run.plan)
    assert finding["code"] == "LLM-" + VALID_FINDING["code"]
    assert finding["agent"] == "flux-navigator" and finding["origin"] == "llm"
    assert finding["evidence"][0]["source"] == "cluster"
    assert "toolu_bc_prov" in finding["evidence"][0]["ref"] and "list_objects(" in finding["evidence"][0]["ref"]
    assert "agent: flux-navigator (model)" in (demo_run.out / "plan.md").read_text()


def test_fabricated_and_uncited_evidence_is_dropped_and_logged(demo_run):
    codes = {f["code"] for f in demo_run.plan["findings"]}
    assert "LLM-" + FABRICATED_FINDING["code"] not in codes
    assert "LLM-" + UNCITED_FINDING["code"] not in codes
    dropped = {e["code"]: e["reason"] for e in demo_run.events if e["event"] == "finding_dropped"}
    assert "does not occur in the result of list_objects(" in dropped["LLM-" + FABRICATED_FINDING["code"]]
    assert "toolu_never_made" in dropped["LLM-" + UNCITED_FINDING["code"]]
    assert demo_run.plan["llm"]["findings_accepted"] == 1 and demo_run.plan["llm"]["findings_dropped"] == 2


def test_playbook_findings_are_untouched_by_the_model(demo_run):
    offline = upgradectl("plan", "--tool", "karpenter", "--fleet", "demo", "--llm", "off", "--format", "json",
                         timeout=300)
    baseline = json.loads(offline.stdout)["findings"]
    with_model = [f for f in demo_run.plan["findings"] if f["origin"] == "playbook"]
    assert with_model == baseline


def test_invalid_tool_arguments_go_back_as_errors_and_the_loop_continues(demo_run):
    results = [
        block
        for request in demo_run.requests
        for message in request["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result" and block["tool_use_id"] == "toolu_bc_bad"
    ]
    assert results and results[0]["is_error"] is True
    assert "api_version: Field required" in results[0]["content"]
    # the conversation went on: the submission came two turns later and was checked
    assert any(e["event"] == "finding_accepted" for e in demo_run.events)


def test_a_529_is_retried_and_the_call_succeeds(demo_run):
    retries = [e for e in demo_run.events if e["event"] == "llm_retry"]
    assert len(retries) == 1 and retries[0]["error"].startswith("529") and retries[0]["task"] == "breaking-changes"
    first = next(e for e in demo_run.events if e["event"] == "llm_call" and e["task"] == "breaking-changes")
    assert first["attempts"] == 2


def test_token_accounting_matches_what_the_server_reported(demo_run):
    reported = demo_run.reported_usage
    [totals] = [e for e in demo_run.events if e["event"] == "llm_totals"]
    for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        assert totals[key] == reported[key], key
        assert demo_run.plan["llm"][key] == reported[key], key
    calls = [e for e in demo_run.events if e["event"] == "llm_call"]
    assert sum(c["input_tokens"] for c in calls) == reported["input_tokens"]
    assert totals["by_agent"]["flux-navigator"]["output_tokens"] == 120 + 150 + 400
    assert totals["calls"] == demo_run.plan["llm"]["calls"] == len(calls) == 6
    # the dated price table turns tokens into dollars
    assert demo_run.plan["llm"]["cost_usd"] > 0 and demo_run.plan["llm"]["prices_as_of"]


def test_narrative_comes_from_the_model(demo_run):
    narrative = demo_run.plan["narrative"]
    assert narrative["summary"] == NARRATIVE["summary"]
    assert narrative["prod"].startswith("ravan goes last")
    markdown = (demo_run.out / "plan.md").read_text()
    assert NARRATIVE["summary"] in markdown and "ravan goes last" in markdown


def test_prompts_are_cached(demo_run):
    agent_requests = [r for r in demo_run.requests if r.get("tools")]
    assert agent_requests
    for request in agent_requests:
        assert request["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert request["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert "tool_choice" not in request  # forced tool use is refused by current models


def test_canary_secret_never_reaches_the_model(planted_run):
    assert planted_run.result.returncode in (0, 1), planted_run.result.stderr
    encoded = base64.b64encode(CANARY.encode()).decode()
    assert planted_run.bodies
    for body in planted_run.bodies:
        assert CANARY not in body and encoded not in body
    # the probes really looked where the canary was planted
    called = {(e["tool"], e["ok"]) for e in planted_run.events if e["event"] == "tool_call"}
    assert {("helm_values", True), ("list_objects", True)} <= called
    secrets = _tool_result(planted_run, "toolu_bc_secrets")
    assert "payments-db" in secrets and "<never shown>" in secrets
    assert "<redacted>" in _tool_result(planted_run, "toolu_bc_values")
    assert "<redacted>" in _tool_result(planted_run, "toolu_bc_cm")


def _tool_result(run, call_id: str) -> str:
    for request in run.requests:
        for message in request["messages"]:
            if message["role"] == "user" and isinstance(message["content"], list):
                for block in message["content"]:
                    if block.get("type") == "tool_result" and block["tool_use_id"] == call_id:
                        return block["content"]
    raise AssertionError(f"no tool result for {call_id}")


def test_injected_instruction_is_data_and_changes_nothing(planted_run, demo_run):
    needle = INJECTION.lower()
    seen_in_data = False
    for request in planted_run.requests:
        offered = {t["name"] for t in request.get("tools", [])}
        assert offered <= {*REGISTRY, "submit_findings"}
        assert not any(verb in name for name in offered for verb in ("delete", "apply", "exec", "patch", "kubectl"))
        assert needle not in json.dumps(request.get("system", "")).lower()
        assert needle not in json.dumps(request.get("tools", [])).lower()
        for message in request["messages"]:
            content = message["content"]
            if isinstance(content, str):
                assert needle not in content.lower()
                continue
            for block in content:
                if block.get("type") == "tool_result":
                    result = json.loads(block["content"])
                    outside = {k: v for k, v in result.items() if k != "data"}
                    assert needle not in json.dumps(outside).lower()
                    seen_in_data |= needle in json.dumps(result.get("data")).lower()
                else:
                    assert needle not in json.dumps(block).lower()
    assert seen_in_data, "the agent should have read the annotated Deployment"
    # same tool calls, same accepted and dropped findings, with and without the planted text
    assert tool_calls_by_task(planted_run.events) == tool_calls_by_task(demo_run.events)
    assert [f["code"] for f in _llm_findings(planted_run.plan)] == [f["code"] for f in _llm_findings(demo_run.plan)]
    dropped = [sorted(e["code"] for e in run.events if e["event"] == "finding_dropped")
               for run in (planted_run, demo_run)]
    assert dropped[0] == dropped[1]


def test_persistent_529_degrades_the_run_but_writes_the_playbook_plan(tmp_path, demo_run):
    with ScriptedAnthropic([], default_error=overloaded()) as server:
        run = run_plan_with_model(server, tmp_path, env={"UPGRADECTL_MAX_ATTEMPTS": "3"})
    assert run.result.returncode == 5, run.result.stderr
    assert "warning: the model failed" in run.result.stderr and "529" in run.result.stderr
    assert len(run.bodies) == 3  # bounded retries, then every later task skips the model
    llm = run.plan["llm"]
    assert llm["degraded"] and "after 3 attempt(s): 529 overloaded_error" in llm["error"]
    playbook = sorted((f["code"], json.dumps(f["subject"], sort_keys=True)) for f in run.plan["findings"])
    expected = sorted((f["code"], json.dumps(f["subject"], sort_keys=True)) for f in demo_run.plan["findings"]
                      if f["origin"] == "playbook")
    assert playbook == expected and not _llm_findings(run.plan)
    assert not run.plan["incomplete"] and not run.plan["narrative"]
    llm_records = [r for r in run.plan["task_log"] if r["mode"] == "llm"]
    assert llm_records and all(r["error"] for r in llm_records)
    assert "529" in (tmp_path / "plan.md").read_text()
