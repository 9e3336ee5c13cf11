"""The agent loop, the evidence check, the request reader and the narrative check, in process."""

from __future__ import annotations

import pytest
from scripted_anthropic import Conversation, ScriptedAnthropic, json_reply, submit, text, tool_use, turn

from upgradectl.agents.base import FleetView, TaskInput
from upgradectl.agents.llm.client import LLMSession
from upgradectl.agents.llm.loop import (
    LAST_TURN_NOTE,
    NUDGE,
    Submission,
    ToolRecord,
    augment_task,
    check_submission,
    run_claude_task,
)
from upgradectl.agents.llm.narrative import unsupported_versions
from upgradectl.agents.llm.request_reader import parse_request_with_model
from upgradectl.agents.llm.results import RenderedResult
from upgradectl.agents.llm.run_log import RunLog
from upgradectl.agents.llm.tools import REGISTRY
from upgradectl.agents.registry import task
from upgradectl.agents.request import RequestError
from upgradectl.models import Evidence, Finding, Subject, UpgradeRequest
from upgradectl.settings import LLMSettings
from upgradectl.tools.cluster.fleet import load_fleet
from upgradectl.tools.knowledge.loader import load_tool

BREAKING = task("breaking-changes")
MATCH = "Task id: breaking-changes"
PROVISIONERS = {"cluster": "ravan", "api_version": "karpenter.sh/v1alpha5", "kind": "Provisioner"}


@pytest.fixture(scope="module")
def task_input() -> TaskInput:
    fleet = load_fleet("demo")
    return TaskInput(
        request=UpgradeRequest(tool="karpenter"),
        fleet=fleet,
        view=FleetView(fleet),
        knowledge=load_tool("karpenter"),
        scope=[fleet.clusters["ravan"]],
        releases={},
        versions=[],
        target="1.14.1",
        paths=[],
    )


def _session(server: ScriptedAnthropic, monkeypatch, **settings) -> LLMSession:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return LLMSession.open(LLMSettings(retry_initial_seconds=0.01, **settings), RunLog(None))


def _finding(code: str, call_id: str, excerpt: str) -> dict:
    return {"code": code, "severity": "low", "category": "breaking-change", "title": f"finding {code}",
            "subject": {"cluster": "ravan"}, "evidence": [{"tool_use_id": call_id, "excerpt": excerpt}]}


def _tool_results(request: dict) -> dict[str, dict]:
    last = request["messages"][-1]
    return {b["tool_use_id"]: b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"}


def test_errors_go_back_to_the_model_and_the_loop_continues(task_input, monkeypatch):
    script = [Conversation(MATCH, [
        [turn(text("Let me look."))],  # no tool call: nudged
        [turn(tool_use("list_objects", PROVISIONERS, "toolu_ok"),
              tool_use("list_objects", {"cluster": "ravan", "kind": 7}, "toolu_bad"),
              tool_use("kubectl_delete", {"namespace": "payments"}, "toolu_unknown"))],
        [submit([_finding("KARP-X", "toolu_ok", "ttlSecondsAfterEmpty: 30")], "toolu_submit")],
    ])]
    with ScriptedAnthropic(script) as server:
        outcome = run_claude_task(BREAKING, task_input, [], _session(server, monkeypatch))
    requests = server.requests
    assert requests[1]["messages"][-1]["content"][0]["text"] == NUDGE
    results = _tool_results(requests[2])
    assert "is_error" not in results["toolu_ok"]
    assert results["toolu_bad"]["is_error"] and "api_version: Field required" in results["toolu_bad"]["content"]
    unknown = results["toolu_unknown"]
    assert unknown["is_error"] and "unknown tool 'kubectl_delete'" in unknown["content"]
    assert [f.code for f in outcome.accepted] == ["LLM-KARP-X"] and not outcome.error
    assert outcome.accepted[0].agent == "flux-navigator" and outcome.accepted[0].origin == "llm"


def test_an_invalid_submission_is_returned_for_correction(task_input, monkeypatch):
    bad = _finding("lowercase-code", "toolu_ok", "ttlSecondsAfterEmpty: 30") | {"category": "incomplete"}
    script = [Conversation(MATCH, [
        [turn(tool_use("list_objects", PROVISIONERS, "toolu_ok"))],
        [submit([bad], "toolu_submit_1")],
        [submit([_finding("KARP-FIXED", "toolu_ok", "ttlSecondsAfterEmpty: 30")], "toolu_submit_2")],
    ])]
    with ScriptedAnthropic(script) as server:
        outcome = run_claude_task(BREAKING, task_input, [], _session(server, monkeypatch))
    error = _tool_results(server.requests[2])["toolu_submit_1"]
    assert error["is_error"] and "findings.0.code" in error["content"] and "reserved" in error["content"]
    assert [f.code for f in outcome.accepted] == ["LLM-KARP-FIXED"]


def test_turns_are_bounded_and_the_last_turn_is_announced(task_input, monkeypatch):
    script = [Conversation(MATCH, [[turn(tool_use("list_clusters", {}, f"toolu_{i}"))] for i in range(5)])]
    with ScriptedAnthropic(script) as server:
        outcome = run_claude_task(BREAKING, task_input, [], _session(server, monkeypatch, max_turns=3))
    assert len(server.bodies) == 3 and outcome.turns == 3
    assert "no submit_findings within 3 turns" in outcome.error and not outcome.accepted
    last_blocks = server.requests[2]["messages"][-1]["content"]
    assert last_blocks[-1] == {"type": "text", "text": LAST_TURN_NOTE, "cache_control": {"type": "ephemeral"}}


def test_evidence_must_come_from_an_earlier_call(task_input, monkeypatch):
    script = [Conversation(MATCH, [
        [turn(tool_use("list_objects", PROVISIONERS, "toolu_same_turn"),
              tool_use("submit_findings", {"findings": [_finding("KARP-EAGER", "toolu_same_turn",
                                                                  "ttlSecondsAfterEmpty: 30")]}, "toolu_submit"))],
    ])]
    with ScriptedAnthropic(script) as server:
        outcome = run_claude_task(BREAKING, task_input, [], _session(server, monkeypatch))
    assert not outcome.accepted and "not a successful earlier tool call" in outcome.dropped[0][1]


def test_check_submission_protects_existing_findings():
    record = ToolRecord(
        REGISTRY["list_clusters"], {},
        RenderedResult(text='{"data": [{"name": "ravan-cluster"}]}', data=[{"name": "ravan-cluster"}]),
    )  # fmt: skip
    existing = Finding(code="LLM-KARP-DUP", severity="low", category="inventory", title="t",
                       subject=Subject(cluster="ravan"), agent="flux-navigator",
                       evidence=[Evidence(source="cluster", ref="r", excerpt="e")])
    submission = Submission.model_validate({"findings": [
        _finding("KARP-DUP", "toolu_1", "ravan-cluster"),
        _finding("KARP-NEW", "toolu_1", "ravan-cluster"),
        _finding("KARP-SHORT", "toolu_1", "ravan"),  # too short to count as evidence
    ]})
    accepted, dropped = check_submission(submission, {"toolu_1": record}, BREAKING, {existing.key()})
    assert [f.code for f in accepted] == ["LLM-KARP-NEW"]
    assert accepted[0].evidence[0].ref == "list_clusters() [toolu_1]" and accepted[0].evidence[0].source == "cluster"
    assert dict(dropped)["LLM-KARP-DUP"] == "same code and subject as an existing finding"
    assert "does not occur" in dict(dropped)["LLM-KARP-SHORT"]


def test_augment_task_respects_settings_and_a_failed_session(task_input, monkeypatch):
    with ScriptedAnthropic([]) as server:
        session = _session(server, monkeypatch, llm_tasks="application-impact")
        assert augment_task(BREAKING, task_input, [], session) == ([], None)
        session = _session(server, monkeypatch)
        session.trip("model API unavailable after 4 attempt(s): 529 overloaded_error")
        findings, record = augment_task(BREAKING, task_input, [], session)
    assert findings == [] and record.mode == "llm" and record.error.startswith("model not used: model API")
    assert not server.bodies


def test_the_task_message_is_bounded_by_the_findings_budget(task_input, monkeypatch):
    many = [Finding(code=f"KARP-CODE-{i}", severity="high", category="inventory", title="t" * 100,
                    subject=Subject(cluster=f"c{i}"), agent="flux-navigator",
                    evidence=[Evidence(source="cluster", ref="r", excerpt="e")]) for i in range(400)]
    with ScriptedAnthropic([]) as server:
        run_claude_task(BREAKING, task_input, many, _session(server, monkeypatch, findings_prompt_tokens=500))
    opening = server.requests[0]["messages"][0]["content"][0]["text"]
    assert "more finding code(s) not listed (budget)" in opening and len(opening) < 500 * 4 + 2500


# -- request reading -----------------------------------------------------------------------------


def _reader(reading: dict) -> list[Conversation]:
    return [Conversation("<request>", [[json_reply(reading)]])]


def test_the_model_reads_a_request_the_rules_cannot(monkeypatch):
    text_ = "our node autoscaler on ravan needs the newest release to cut the EC2 bill"
    reading = {"tool": "karpenter", "trigger": "cost", "reason": "node autoscaler on EKS"}
    with ScriptedAnthropic(_reader(reading)) as server:
        with pytest.raises(RequestError, match="names no tool"):
            parse_request_with_model(None, text_)
        upgrade = parse_request_with_model(_session(server, monkeypatch), text_, known_clusters=["ravan"])
    assert upgrade.tool == "karpenter" and upgrade.clusters == ["ravan"]
    assert any(r.startswith("tool 'karpenter' read by the model") for r in upgrade.trigger_reasons)
    assert "<request>" in server.requests[0]["messages"][0]["content"][0]["text"]


def test_the_model_cannot_invent_a_tool(monkeypatch):
    none = _reader({"tool": "none", "trigger": "unknown", "reason": "about DNS"})
    with ScriptedAnthropic(none) as server, pytest.raises(RequestError, match="found none either"):
        parse_request_with_model(_session(server, monkeypatch), "please upgrade coredns")
    invented = _reader({"tool": "kubernetes", "trigger": "feature", "reason": ""})
    with ScriptedAnthropic(invented) as server, pytest.raises(RequestError, match="could not read it"):
        parse_request_with_model(_session(server, monkeypatch), "upgrade our ingress controller")


def test_the_model_reads_a_trigger_the_rules_cannot(monkeypatch):
    reading = {"tool": "karpenter", "trigger": "compliance", "reason": "end of support"}
    with ScriptedAnthropic(_reader(reading)) as server:
        upgrade = parse_request_with_model(_session(server, monkeypatch), "Karpenter must move to a newer line soon")
        flagged = parse_request_with_model(_session(server, monkeypatch), "Karpenter upgrade", trigger="security")
    assert upgrade.trigger == "compliance"
    assert any(r.startswith("trigger 'compliance' read by the model") for r in upgrade.trigger_reasons)
    assert flagged.trigger == "security" and len(server.bodies) == 1  # a flag wins without asking


# -- narrative -----------------------------------------------------------------------------------


def test_narrative_may_only_name_versions_the_plan_has():
    facts = '{"target_version": "1.14.1", "hops": ["0.31.3 -> 0.32.10"], "kubernetes": "1.29.6"}'
    assert unsupported_versions("Move to 1.14.1 via 0.32.10 on Kubernetes 1.29.", facts) == []
    assert unsupported_versions("Then jump to 2.0.0 and v1.15.", facts) == ["1.15", "2.0.0"]
