"""The LLM boundary against a scripted Messages API: retries, retry-after, budgets, caching, accounting."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from scripted_anthropic import Conversation, Reply, ScriptedAnthropic, api_error, overloaded, text, turn

from upgradectl.agents.llm.client import LLMError, LLMSession
from upgradectl.agents.llm.run_log import RunLog, read_run_log
from upgradectl.settings import LLMSettings

FAST = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.05, "max_attempts": 3}
HELLO = [{"role": "user", "content": "hello"}]


def _session(server: ScriptedAnthropic, monkeypatch, log: Path | None = None, **settings) -> LLMSession:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return LLMSession.open(LLMSettings(**{**FAST, **settings}), RunLog(log))


def _ask(session: LLMSession, task: str = "t", content: str = "hello"):
    return session.complete(system="sys", messages=[{"role": "user", "content": content}], agent="a", task=task)


def test_529_then_200_is_retried_and_succeeds(monkeypatch, tmp_path):
    script = [Conversation("hello", [[overloaded(), turn(text("hi"), input_tokens=11, output_tokens=4)]])]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch, tmp_path / "log.jsonl")
        reply = _ask(session)
    assert reply.text == "hi" and reply.usage.input_tokens == 11
    assert [s.status for s in server.served] == [529, 200]
    events = read_run_log(tmp_path / "log.jsonl")
    assert [e["event"] for e in events] == ["llm_session", "llm_retry", "llm_call"]
    assert events[1]["error"].startswith("529 overloaded_error") and events[2]["attempts"] == 2


def test_retry_after_is_honoured(monkeypatch, tmp_path):
    script = [Conversation("hello", [[api_error(429, "rate_limit_error", retry_after="0.4"), turn(text("ok"))]])]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch, tmp_path / "log.jsonl")
        started = time.perf_counter()
        _ask(session)
        elapsed = time.perf_counter() - started
    retry = next(e for e in read_run_log(tmp_path / "log.jsonl") if e["event"] == "llm_retry")
    assert retry["wait_seconds"] == 0.4 and elapsed >= 0.4


def test_a_retry_after_beyond_the_limit_is_not_waited_for(monkeypatch):
    script = [Conversation("hello", [[api_error(429, "rate_limit_error", retry_after="120"), turn(text("ok"))]])]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch, max_retry_after_seconds=5)
        with pytest.raises(LLMError) as caught:
            _ask(session)
    assert len(server.bodies) == 1
    assert caught.value.kind == "unavailable" and "retry after 120s" in str(caught.value)


def test_persistent_529_fails_after_bounded_attempts_and_trips_the_session(monkeypatch):
    with ScriptedAnthropic(default_error=overloaded()) as server:
        session = _session(server, monkeypatch)
        with pytest.raises(LLMError) as caught:
            _ask(session)
        assert len(server.bodies) == 3
        assert caught.value.kind == "unavailable" and "after 3 attempt(s): 529 overloaded_error" in str(caught.value)
        assert session.failed
        with pytest.raises(LLMError, match="model not used"):
            _ask(session, task="other")
        assert len(server.bodies) == 3  # the breaker stops further requests
    assert session.info().degraded and "529" in session.info().error


def test_connection_errors_are_retried(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    session = LLMSession.open(LLMSettings(**FAST, connect_timeout_seconds=1))
    with pytest.raises(LLMError) as caught:
        _ask(session)
    assert caught.value.kind == "unavailable" and "connection error" in str(caught.value)


def test_rejected_key_ends_the_session_but_a_bad_request_does_not(monkeypatch):
    script = [
        Conversation("key", [[api_error(401, "authentication_error", retry_after=None)]]),
        Conversation("bad", [[api_error(400, "invalid_request_error", retry_after=None)]]),
    ]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch)
        with pytest.raises(LLMError) as bad:
            _ask(session, content="bad")
        assert bad.value.kind == "rejected" and not session.failed and len(server.bodies) == 1
        with pytest.raises(LLMError) as key:
            _ask(session, content="key")
        assert key.value.status == 401 and session.failed and len(server.bodies) == 2


def test_budgets_are_enforced_before_calling(monkeypatch):
    script = [Conversation("hello", [[turn(text("x"), input_tokens=900, output_tokens=200)]])]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch, task_token_budget=1000, run_token_budget=2500)
        _ask(session, task="one")
        with pytest.raises(LLMError) as task_budget:
            _ask(session, task="one")
        assert task_budget.value.kind == "task-budget" and not session.failed
        _ask(session, task="two")
        _ask(session, task="three")
        with pytest.raises(LLMError) as run_budget:
            _ask(session, task="four")
        assert run_budget.value.kind == "budget" and session.failed
    assert len(server.bodies) == 3


def test_requests_cache_the_prefix_and_keep_thinking_blocks(monkeypatch):
    thinking = {"type": "thinking", "thinking": "plan the call", "signature": "c2lnbmF0dXJl"}
    script = [Conversation("hello", [[Reply(content=[thinking, text("done")], stop_reason="end_turn",
                                            usage={"input_tokens": 5, "output_tokens": 5})]])]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch, effort="low")
        tools = [{"name": "t1", "description": "d", "input_schema": {"type": "object", "properties": {}}},
                 {"name": "t2", "description": "d", "input_schema": {"type": "object", "properties": {}}}]
        reply = session.complete(system="sys", messages=HELLO, agent="a", task="t", tools=tools,
                                 output_schema={"type": "object"})
    [body] = server.requests
    marker = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "sys", "cache_control": marker}]
    assert "cache_control" not in body["tools"][0] and body["tools"][-1]["cache_control"] == marker
    assert body["messages"][-1]["content"][-1]["cache_control"] == marker
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}, "effort": "low"}
    assert "max_retries" not in body and "temperature" not in body and "tool_choice" not in body
    assert reply.content[0] == thinking  # sent back verbatim on the next turn
    assert HELLO == [{"role": "user", "content": "hello"}]  # the caller's messages are not mutated


def test_usage_is_accounted_per_agent_task_and_run(monkeypatch, tmp_path):
    script = [Conversation("hello", [[turn(text("x"), input_tokens=100, output_tokens=10, cache_write=50,
                                           cache_read=20)]])]
    with ScriptedAnthropic(script) as server:
        session = _session(server, monkeypatch, tmp_path / "log.jsonl")
        session.complete(system="s", messages=HELLO, agent="flux-navigator", task="a")
        session.complete(system="s", messages=HELLO, agent="flux-navigator", task="b")
        session.complete(system="s", messages=HELLO, agent="argo-troubleshooter", task="c")
        session.close()
    ledger = session.ledger
    assert ledger.run.input_tokens == 300 and ledger.run.total == 3 * 180 and ledger.calls == 3
    assert ledger.by_agent["flux-navigator"].output_tokens == 20 and ledger.by_task["c"].cache_read_input_tokens == 20
    totals = read_run_log(tmp_path / "log.jsonl")[-1]
    assert totals["event"] == "llm_totals" and totals["input_tokens"] == 300
    assert totals["by_agent"]["argo-troubleshooter"]["cache_creation_input_tokens"] == 50
    # claude-sonnet-5-5: $2 in, $10 out, $2.50 cache write, $0.10 cache read per million tokens
    assert totals["cost_usd"] == pytest.approx((300 * 2 + 30 * 10 + 150 * 2.5 + 60 * 0.1) / 1e6)
