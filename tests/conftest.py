"""Shared fixtures. Tests never read ../shared: everything they need ships in the project."""

from __future__ import annotations

import os
import shutil

import pytest


def require_binary(name: str) -> str:
    """Path of an outside binary; skip when missing on a user's machine, fail when CI=true."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI but not installed (.ci/run must install it)")
    pytest.skip(f"{name} not installed; install it to run this test")


@pytest.fixture(autouse=True)
def _no_network_llm(monkeypatch):
    """No test may reach a real model: drop any key from the environment."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


@pytest.fixture(autouse=True)
def _no_real_model_requests(monkeypatch):
    """Fail any test that would reach the real Anthropic API (pydantic-ai's ALLOW_MODEL_REQUESTS=False).

    No credential or API address reaches a test from the developer's environment, and
    UPGRADECTL_ALLOW_MODEL_REQUESTS=0 (inherited by CLI subprocesses) makes agents/llm/client.py refuse any API
    address that is not on loopback (an SDK profile on disk included): such a test gets a clear error instead
    of a network call. Tests that use the scripted model (tests/scripted_anthropic.py) point
    ANTHROPIC_BASE_URL at it explicitly.
    """
    for name in (
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_IDENTITY_TOKEN",
        "ANTHROPIC_IDENTITY_TOKEN_FILE",
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_ORGANIZATION_ID",
        "ANTHROPIC_CONFIG_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPGRADECTL_ALLOW_MODEL_REQUESTS", "0")


@pytest.fixture(autouse=True)
def _no_user_knowledge_overlay(monkeypatch, tmp_path_factory):
    """Plans in tests use the bundled knowledge: a developer's refreshed overlay (`upgradectl knowledge refresh`
    into ~/.local/share/upgradectl) never leaks in. Tests of the overlay point UPGRADECTL_STATE_DIR elsewhere."""
    monkeypatch.setenv("UPGRADECTL_STATE_DIR", str(tmp_path_factory.getbasetemp() / "no-user-state"))
    monkeypatch.delenv("UPGRADECTL_OFFLINE", raising=False)
    monkeypatch.delenv("UPGRADECTL_TODAY", raising=False)
