"""The model choice, the price table, settings from the environment, and the one-module rule."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from anthropic._data import DEPRECATED_MODELS
from anthropic.types.model_param import ModelParam
from scripted_anthropic import ScriptedAnthropic

from upgradectl.agents.llm.client import LLMError, LLMSession, deprecation_notice, resolve_model
from upgradectl.settings import DEFAULT_MODEL, MODEL_ALIASES, LLMSettings, price_for

ROOT = Path(__file__).resolve().parents[2]


def _sdk_models() -> set[str]:
    literal = next(arg for arg in typing.get_args(ModelParam) if typing.get_origin(arg) is typing.Literal)
    return set(typing.get_args(literal))


def test_default_model_is_listed_by_the_sdk_and_not_deprecated():
    assert DEFAULT_MODEL in _sdk_models()
    assert DEFAULT_MODEL not in DEPRECATED_MODELS
    assert deprecation_notice(DEFAULT_MODEL) == ""


def test_aliases_resolve_to_current_models():
    for alias, model in MODEL_ALIASES.items():
        assert resolve_model(alias) == model
        assert model in _sdk_models() and model not in DEPRECATED_MODELS
    assert resolve_model("claude-opus-4-8") == "claude-opus-4-8"


def test_deprecated_models_are_flagged():
    deprecated = next(iter(DEPRECATED_MODELS))
    assert deprecated in deprecation_notice(deprecated)


def test_the_default_and_every_alias_have_a_price():
    for model in (DEFAULT_MODEL, *MODEL_ALIASES.values()):
        assert price_for(model) is not None, model


def test_prices_match_by_family_not_by_loose_prefix():
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")  # a dated snapshot
    assert price_for("claude-fable-5-2") is None  # a newer sibling never borrows the older row
    assert price_for("claude-opus-5-5") != price_for("claude-opus-5")
    assert price_for("some-other-model") is None


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("UPGRADECTL_MODEL", "opus")
    monkeypatch.setenv("UPGRADECTL_LLM_TASKS", " breaking-changes , application-impact ")
    monkeypatch.setenv("UPGRADECTL_MAX_ATTEMPTS", "2")
    settings = LLMSettings()
    assert resolve_model(settings.model) == "claude-opus-5-5"
    assert settings.max_attempts == 2
    assert settings.runs_loop_for("breaking-changes") and not settings.runs_loop_for("rollout-prod")
    assert LLMSettings(llm_tasks="all").runs_loop_for("rollout-prod")


def test_guard_refuses_the_real_api_in_tests(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-real")
    with pytest.raises(LLMError) as caught:
        LLMSession.open(LLMSettings())
    assert caught.value.kind == "refused" and "not on loopback" in str(caught.value)


def test_no_credentials_is_a_clear_error(monkeypatch):
    with ScriptedAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        with pytest.raises(LLMError) as caught:
            LLMSession.open(LLMSettings())
    assert caught.value.kind == "config" and "ANTHROPIC_API_KEY" in str(caught.value)


def test_only_the_boundary_module_imports_the_sdk():
    """STYLE.md: one module talks to Anthropic (the runtime packages; evals/ and tests/ drive it from outside)."""
    importers = []
    for package in ("agents", "graph", "tools", "upgradectl", "prompts"):
        for path in (ROOT / package).glob("**/*.py"):
            rel = path.relative_to(ROOT)
            if "demo_fleet" in rel.parts:
                continue
            if re.search(r"^\s*(import anthropic|from anthropic\b)", path.read_text(), re.MULTILINE):
                importers.append(str(rel))
    assert importers == ["agents/llm/client.py"]


def test_model_requests_in_flight_default_to_the_widest_stage(monkeypatch):
    """Every agent task of the busiest stage gets its model request at once; an explicit cap still wins."""
    from upgradectl.agents.registry import STAGE_NAMES, tasks_for_stage

    widest = max(len(tasks_for_stage(stage)) for stage in STAGE_NAMES)
    with ScriptedAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-real")
        assert LLMSession.open(LLMSettings()).concurrency == widest
        monkeypatch.setenv("UPGRADECTL_MAX_CONCURRENT_REQUESTS", "2")
        assert LLMSession.open(LLMSettings()).concurrency == 2
