"""Bad input to `baseline` / `validate`: a clear one-line error and exit 2, never a traceback.

These run the CLI in-process (typer's runner) to stay fast; the end-to-end tests run the script.
"""

from __future__ import annotations

import json

import pytest
from metrics_servers import cli_in_process as upgradectl
from metrics_servers import fleet_copy


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    return fleet_copy(tmp_path_factory.mktemp("fleet"), "http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "--tool", "karpentr"], "did you mean 'karpenter'"),
        (["validate", "--tool", "karpenter", "--at", "yesterday"], "is not a time"),
        (["validate", "--tool", "karpenter", "--at", "2026-11-20T09:00:00"], "no time zone"),
        (["validate", "--tool", "karpenter", "--version", "9.9"], "not a known release"),
        (["validate", "--tool", "karpenter", "--metrics-url", "localhost:8428"], "must start with http"),
        (["validate", "--tool", "karpenter", "--clusters", "nope"], "unknown cluster(s) nope"),
        (["validate", "--tool", "karpenter", "--baseline", "missing.json"], "not found"),
        (["validate", "--tool", "karpenter", "--format", "xml"], "not one of text, json"),
        (["validate", "--tool", "flux", "--clusters", "karp-healthy"], "Flux is not installed on karp-healthy"),
        (["baseline", "--tool", "karpenter", "--to", "0.99"], "not a known release"),
    ],
)
def test_bad_input_is_a_usage_error(fleet, tmp_path, args, message):
    result = upgradectl(*args, "--fleet", str(fleet))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and message in " ".join(result.stderr.split())


def test_a_baseline_for_another_tool_or_not_a_baseline_is_refused(fleet, tmp_path):
    other = tmp_path / "flux.json"
    other.write_text(json.dumps({"kind": "upgradectl-baseline", "schema_version": 1, "tool": "flux", "fleet": "x",
                                 "at": "2026-11-20T06:55:00Z", "created_at": "2026-11-20T06:55:00Z",
                                 "upgradectl_version": "0", "clusters": []}))  # fmt: skip
    result = upgradectl("validate", "--tool", "karpenter", "--fleet", str(fleet), "--baseline", str(other))
    assert result.returncode == 2 and "baseline for flux, not karpenter" in result.stderr
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    result = upgradectl("validate", "--tool", "karpenter", "--fleet", str(fleet), "--baseline", str(junk))
    assert result.returncode == 2 and "not an upgradectl baseline file" in result.stderr


def test_help_documents_that_inconclusive_blocks_promotion():
    result = upgradectl("validate", "--help")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0 and "inconclusive blocks promotion exactly like a failure" in text
    assert "3 no gate failed but at least one is inconclusive" in text
