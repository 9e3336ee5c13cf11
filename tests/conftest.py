"""Shared fixtures for every lane (tests/unit, tests/integration, tests/e2e). Tests never read ../shared:
everything they need ships in the project.

The helper modules beside this file (scripted_anthropic, live_servers, metrics_servers, llm_scripts,
gitops_reconciler) and this one import by name from any lane: pyproject.toml puts tests/ on the path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from package_build import build_wheel

TESTS = Path(__file__).resolve().parent  # tests/: the shared data/ and fixtures/ live here
LANES = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its lane (the folder it is in), so `-m unit` or `-m "not e2e"` selects lanes; then order
    the run longest-first: tests marked `slow`, the e2e lane, integration, unit. pytest-xdist hands tests out in
    this order, so the many short unit tests fill the end and the workers finish together."""
    rank = {}
    for item in items:
        lane = next((part for part in Path(str(item.fspath)).relative_to(TESTS).parts[:1] if part in LANES), None)
        if lane:
            item.add_marker(getattr(pytest.mark, lane))
        rank[item.nodeid] = (item.get_closest_marker("slow") is None, -LANES.index(lane) if lane else 0)
    items.sort(key=lambda item: rank[item.nodeid])


def pytest_configure(config):
    """Parsed snapshot lists are cached (tools/cluster/parse_cache.py) in a directory of the test run's own,
    shared by the workers and the CLIs the tests start, never in the developer's ~/.cache."""
    os.environ.setdefault(
        "UPGRADECTL_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"upgradectl-tests-{os.getuid()}" / "parsed")
    )


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


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory):
    """upgradectl's wheel, built once per test session from a clean copy of the tracked files."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(autouse=True)
def _no_user_knowledge_overlay(monkeypatch, tmp_path_factory):
    """Plans in tests use the bundled knowledge: a developer's refreshed overlay (`upgradectl knowledge refresh`
    into ~/.local/share/upgradectl) never leaks in. Tests of the overlay point UPGRADECTL_STATE_DIR elsewhere."""
    # one per test: runs, the knowledge overlay and the OSV answer cache live there, and a cache one test filled
    # from its loopback OSV must not answer another test's plan
    monkeypatch.setenv("UPGRADECTL_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("UPGRADECTL_OFFLINE", raising=False)
    monkeypatch.delenv("UPGRADECTL_TODAY", raising=False)


@pytest.fixture(autouse=True)
def _no_real_osv(monkeypatch):
    """No test reaches the real OSV API: plans default to a closed loopback port (connection refused at once,
    so advisories read as not checked) unless a test passes --osv-url to its own loopback OSV server."""
    monkeypatch.setenv("UPGRADECTL_OSV_URL", "http://127.0.0.1:9")
