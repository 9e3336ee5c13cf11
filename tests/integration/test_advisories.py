"""Vulnerabilities from OSV: real advisory records served on loopback in OSV's API shapes (tests/osv_server.py),
the security target ranked by what it fixes, the cache standing in when OSV is down, and "not checked" when
nothing can answer. Expected versions come from the advisories themselves (their fixed-in versions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from osv_server import osv_server
from run_cli import upgradectl

from upgradectl.evals.fleets import set_kubernetes_version
from upgradectl.tools.advisories.records import cvss3_score, merge_records
from upgradectl.tools.cluster.fleet import demo_fleet_path

PATCH_FIXED = ("GHSA-9766-5277-j5hr", "GO-2024-2877", "GHSA-9m6p-x4h2-6frq", "GO-2024-2792")
REQUEST = "ArgoCD upgrade required for security patches"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """The demo fleet with keystone on Kubernetes 1.28, inside Argo CD 2.10's tested range (1.25-1.28), so a
    2.10 patch is a possible target."""
    root = tmp_path_factory.mktemp("fleet") / "demo"
    shutil.copytree(demo_fleet_path().parent, root)
    set_kubernetes_version(root / "clusters" / "keystone" / "cluster.yaml", "v1.28.13-eks-a737599")
    return root / "fleet.yaml"


def plan(fleet: Path, *args: str, env: dict | None = None) -> tuple[dict, int]:
    result = upgradectl("plan", REQUEST, "--fleet", str(fleet), "--format", "json", "--no-fetch-charts", *args,
                        env={"UPGRADECTL_TODAY": "2026-12-05", **(env or {})})
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout), result.returncode


def test_security_request_targets_the_patch_of_the_running_line_that_fixes_the_critical_advisory(fleet, tmp_path):
    with osv_server(*PATCH_FIXED) as osv:
        p, _ = plan(fleet, "--osv-url", osv.url, env={"UPGRADECTL_STATE_DIR": str(tmp_path)})
    report = p["advisories"]
    # GHSA-9766-5277-j5hr (CVE-2024-31989, critical) is fixed on 2.10 in 2.10.10; GHSA-9m6p (moderate) in 2.10.8
    assert p["target_version"] == "2.10.10"
    assert report["status"] == "checked" and report["patch_suffices"] is True
    critical = next(a for a in report["advisories"] if a["id"] == "GHSA-9766-5277-j5hr")
    assert critical["severity"] == "critical" and "2.10.10" in critical["fixed"]
    assert {"GO-2024-2877", "CVE-2024-31989"} <= set(critical["aliases"])  # the Go record merged by alias
    assert report["running"]["2.10.7"] and report["at_target"] == []
    assert set(report["fixed_by_target"]) == {"GHSA-9766-5277-j5hr", "GHSA-9m6p-x4h2-6frq"}
    assert "a patch of the running line 2.10 suffices" in p["summary"].lower()
    assert p["decision"]["track"] == "security-fast-track"
    fixed = next(f for f in p["findings"] if f["code"] == "ARGO-ADVISORIES-FIXED")
    assert "GHSA-9766-5277-j5hr (critical, CVE-2024-31989)" in fixed["detail"] and "2.10.10" in fixed["detail"]
    paths = {(q["package"]["name"], q.get("version")) for path, q in osv.requests if path == "/v1/query"}
    assert ("github.com/argoproj/argo-cd/v2", "2.10.7") in paths  # asked by package and version
    assert any(path == "/v1/querybatch" for path, _ in osv.requests)


def test_an_advisory_fixed_only_on_a_newer_minor_means_the_patch_does_not_suffice(fleet, tmp_path):
    with osv_server(*PATCH_FIXED, "GO-2025-3720") as osv:
        p, _ = plan(fleet, "--osv-url", osv.url, env={"UPGRADECTL_STATE_DIR": str(tmp_path)})
    report = p["advisories"]
    # GO-2025-3720 (CVE-2025-47933) is fixed in 2.13.8, 2.14.13 and 3.0.4 only; 2.13.8 also has the 2.10 fixes
    assert report["patch_suffices"] is False
    assert p["target_version"] == "2.13.8" == report["minimal_target"]
    assert "does not suffice" in p["summary"] and "GHSA-2hj5-g64g-fp6p" in report["patch_note"]
    insufficient = next(f for f in p["findings"] if f["code"] == "ARGO-SECURITY-PATCH-INSUFFICIENT")
    assert "2.13.8" in insufficient["detail"]
    unrated = next(a for a in report["advisories"] if a["id"] == "GHSA-2hj5-g64g-fp6p")
    assert unrated["severity"] == "unknown"  # the Go database rates nothing: counted like high


def test_osv_down_uses_the_dated_cache_and_without_one_says_not_checked(fleet, tmp_path):
    state = {"UPGRADECTL_STATE_DIR": str(tmp_path)}
    with osv_server(*PATCH_FIXED) as osv:
        osv.fail_with = 503
        p, code = plan(fleet, "--osv-url", osv.url, env=state)
        assert p["advisories"]["status"] == "not-checked" and "503" in p["advisories"]["reason"]
        assert "Vulnerabilities: not checked" in p["summary"]
        assert "ARGO-ADVISORIES-NOT-CHECKED" in {f["code"] for f in p["findings"]}
        assert code == 3 and p["incomplete"]
        assert sum(path == "/v1/query" for path, _ in osv.requests) == 3  # bounded retries, then no more asking
        osv.fail_with = 0
        live, _ = plan(fleet, "--osv-url", osv.url, env=state)  # fills the cache
    assert live["advisories"]["status"] == "checked"
    with osv_server(*PATCH_FIXED) as down:
        down.fail_with = 500
        cached, _ = plan(fleet, "--osv-url", down.url, env=state)
    report = cached["advisories"]
    assert report["status"] == "cached" and report["fetched_at"] == live["advisories"]["fetched_at"]
    assert cached["target_version"] == "2.10.10" and report["source"].endswith("osv/cache.json")
    assert f"cached snapshot of {report['fetched_at']}" in cached["summary"]
    offline, _ = plan(fleet, "--osv-url", "http://127.0.0.1:9", env={**state, "UPGRADECTL_OFFLINE": "1"})
    assert offline["advisories"]["status"] == "cached"


def test_cvss_v3_base_scores_match_the_published_ones():
    # scores as NVD publishes them for these vectors
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H") == 6.5  # CVE-2024-32476
    assert cvss3_score("CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H") == 9.0  # CVE-2024-31989
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H") == 7.5
    assert cvss3_score("not a vector") is None


def test_records_that_alias_each_other_are_one_advisory_rated_by_the_rated_record():
    records = [json.loads((Path(__file__).parents[1] / "data" / "osv" / f"{i}.json").read_text()) for i in PATCH_FIXED]
    merged = merge_records(records, {("Go", "github.com/argoproj/argo-cd/v2")})
    assert [(a.id, a.severity) for a in merged] == [("GHSA-9766-5277-j5hr", "critical"),
                                                     ("GHSA-9m6p-x4h2-6frq", "medium")]
    assert merged[1].fixed == ["2.8.17", "2.9.13", "2.10.8"]


def test_the_markdown_plan_lists_each_advisory_with_its_fix_versions(fleet, tmp_path):
    from upgradectl.app.report import render_markdown  # (the renderer, on the plan the CLI printed as JSON)
    from upgradectl.models import Plan

    with osv_server(*PATCH_FIXED, "GO-2025-3720") as osv:
        p, _ = plan(fleet, "--osv-url", osv.url, env={"UPGRADECTL_STATE_DIR": str(tmp_path)})
    text = render_markdown(Plan.model_validate(p))
    why = text.split("## Why upgrade", 1)[1].split("## Clusters and versions", 1)[0]
    # fix versions as the advisories publish them (GHSA-9766-5277-j5hr: 2.10.10; GO-2025-3720: 2.13.8, 2.14.13)
    assert "[GHSA-9766-5277-j5hr]" in why and "2.10.10" in why
    assert "[GHSA-2hj5-g64g-fp6p]" in why and "2.13.8, 2.14.13" in why
    assert "does not suffice" in why


def test_a_refused_connection_is_asked_once_and_a_dropped_one_is_retried():
    """Nothing listening (or no network) is not worth retrying: an offline plan must not wait on it; a connection
    dropped mid-answer is retried up to the bound."""
    import httpx

    from upgradectl.tools.advisories.osv import OsvClient, OsvError, PackageQuery

    for error, expected in ((httpx.ConnectError("[Errno 111] Connection refused"), 1),
                            (httpx.RemoteProtocolError("peer closed connection"), 3)):
        calls = []

        def handler(request: httpx.Request, error=error, calls=calls) -> httpx.Response:
            calls.append(request.url.path)
            raise error

        client = OsvClient("http://osv.invalid", offline=False, backoff=0.0, transport=httpx.MockTransport(handler))
        with pytest.raises(OsvError):
            client.query(PackageQuery("Go", "github.com/argoproj/argo-cd/v2", "2.10.7"))
        assert len(calls) == expected, type(error).__name__
        assert client.unreachable
