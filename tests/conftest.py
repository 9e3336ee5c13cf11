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
