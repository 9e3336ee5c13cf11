"""`upgradectl knowledge refresh` and `status`: upstream releases into the overlay, what plans make of it.

The upstream answers are recorded (tests/data/knowledge_refresh/, see its README for their origin) and served
on loopback by a real HTTP server; the CLI runs as a user runs it. The knowledge the tests start from is a
copy of the bundled files whose Cilium 1.17 line stops one patch short (1.17.17): the recorded upstream has
1.17.18 (cilium/charts index.yaml @ 009b5e95), so refresh must find exactly that one new patch there.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import httpx
import pytest
from live_servers import unused_port
from loopback_http import LoopbackServer, QuietHandler
from run_cli import upgradectl

from upgradectl.tools.knowledge import loader
from upgradectl.tools.knowledge.overlay import Overlay, OverlayRelease, OverlayTool, write_overlay
from upgradectl.tools.knowledge.refresh import RefreshError, Upstream, refresh, refresh_tool

RECORDED = Path(__file__).resolve().parents[1] / "data" / "knowledge_refresh"
BUNDLED = Path(str(resources.files("upgradectl.tools.knowledge") / "data"))


def older_knowledge(target: Path) -> Path:
    """A copy of the bundled knowledge whose Cilium 1.17 line ends at 1.17.17 (published 2026-06-16)."""
    shutil.copytree(BUNDLED, target)
    cilium = target / "cilium.yaml"
    text = cilium.read_text()
    assert "  latest_patch: 1.17.18\n  latest_patch_date: 2026-07-16\n" in text
    cilium.write_text(
        text.replace(
            "  latest_patch: 1.17.18\n  latest_patch_date: 2026-07-16\n",
            "  latest_patch: 1.17.17\n  latest_patch_date: 2026-06-16\n",
        )
    )
    return target


class Recorded(QuietHandler):
    """GET /repos/cilium/cilium/releases (page 1; later pages are empty) and GET /index.yaml."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(self.path)
        if self.path.startswith("/repos/cilium/cilium/releases"):
            page = 1 if "page=1" in self.path else 2
            body = (RECORDED / "cilium-releases.json").read_bytes() if page == 1 else b"[]"
            self.send_body(200, body)
        elif self.path == "/index.yaml":
            self.send_body(200, (RECORDED / "cilium-index.yaml").read_bytes(), "application/x-yaml")
        else:
            self.send_body(404, b'{"message": "Not Found"}')


@contextmanager
def recorded_upstream() -> Iterator[str]:
    with LoopbackServer(Recorded) as served:
        yield served.url


@pytest.fixture
def knowledge_copy(tmp_path, monkeypatch) -> Path:
    copy = older_knowledge(tmp_path / "knowledge")
    monkeypatch.setenv(loader.KNOWLEDGE_DIR_ENV, str(copy))
    monkeypatch.setenv("UPGRADECTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("UPGRADECTL_OFFLINE", raising=False)
    return copy


def test_refresh_takes_the_new_patch_and_leaves_breaking_changes_alone(knowledge_copy, tmp_path):
    before = loader.load_bundled_tool("cilium")
    assert before.latest_patch("1.17") == "1.17.17"
    with recorded_upstream() as url, Upstream(url, url, attempts=1) as upstream:
        report = refresh(["cilium"], upstream, tmp_path / "state")
    (result,) = report.tools
    assert not result.error
    assert "1.17: 1.17.17 -> 1.17.18" in result.changes
    k = loader.load_tool("cilium")
    assert k.latest_patch("1.17") == "1.17.18"
    assert k.release("1.17").latest_patch_date == "2026-07-16"  # the chart's and the release's publication day
    assert k.overlay is not None and k.overlay.refreshed_at == report.refreshed_at
    assert k.breaking_changes == before.breaking_changes and k.path_rules == before.path_rules
    assert k.release("1.20").notes_reviewed  # a bundled line stays reviewed; rc.1 and the draft are skipped
    assert [r.line for r in k.releases] == [r.line for r in before.releases]


def test_a_new_minor_is_added_unreviewed_and_never_a_default_target(knowledge_copy, tmp_path):
    cilium = knowledge_copy / "cilium.yaml"  # pretend the bundled file stops at 1.19
    text = cilium.read_text()
    cilium.write_text(text[: text.index("- line: '1.20'")] + text[text.index("breaking_changes:") :])
    assert loader.load_bundled_tool("cilium").releases[-1].line == "1.19"
    with recorded_upstream() as url, Upstream(url, url, attempts=1) as upstream:
        entry, _ = refresh_tool(loader.load_bundled_tool("cilium"), upstream, "2026-12-05T00:00:00Z")
    new = [r for r in entry.releases if r.new_line]
    assert [(r.line, r.latest_patch, r.released) for r in new] == [("1.20", "1.20.0", "2026-07-29")]
    write_overlay(tmp_path / "state" / "knowledge" / "overlay.yaml", Overlay(tools={"cilium": entry}))
    k = loader.load_tool("cilium")
    release = k.release("1.20")
    assert release is not None and not release.notes_reviewed and release.kubernetes is None

    from datetime import date

    from upgradectl.tools.analysis.paths import latest_compatible, plan_path

    target, why = latest_compatible(k, {"a": "1.35.0"}, date(2026, 12, 5))
    assert target == "1.19.6" and "1.20 found upstream but their upgrade notes are not reviewed" in why
    path = plan_path(k, "1.19.6", "1.20.0", {"a": "1.35.0"})
    assert any("1.20: upgrade notes not reviewed" in n for n in path.hops[-1].notes) and path.hops[-1].uncertain


def test_chart_versions_come_from_the_index_and_enterprise_lts_patches_are_never_targets():
    """Argo CD: a new patch moves its line, and the argo-cd chart that ships it enters the chart table; a patch no
    chart ships yet still moves the line (manifest installs) and is reported. VictoriaMetrics: a patch of an older
    LTS line is an Enterprise build (docs/victoriametrics/LTS-releases.md): recorded as lts_patch only."""

    def serve(releases: list[dict], index: str):
        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/releases"):
                return httpx.Response(200, json=releases if request.url.params.get("page") == "1" else [])
            return httpx.Response(200, text=index)

        return httpx.MockTransport(answer)

    def release(tag: str) -> dict:
        return {"tag_name": tag, "draft": False, "prerelease": False, "published_at": "2026-11-20T10:00:00Z"}

    k = loader.load_bundled_tool("argocd")
    index = (
        "apiVersion: v1\nentries:\n  argo-cd:\n"
        "  - version: 10.9.9\n    appVersion: v3.4.99\n    created: '2026-11-21T08:00:00Z'\n"
    )
    transport = serve([release("v3.5.99"), release("v3.4.99")], index)
    with Upstream("https://api.test", "https://charts.test", transport=transport) as upstream:
        entry, notes = refresh_tool(k, upstream, "2026-12-05T00:00:00Z")
    by_line = {r.line: r for r in entry.releases}
    assert by_line["3.4"].latest_patch == "3.4.99" and by_line["3.4"].chart_version == "10.9.9"
    assert entry.chart_to_app == {"10.9.9": "3.4.99"}
    assert by_line["3.5"].latest_patch == "3.5.99" and by_line["3.5"].chart_version == ""

    vm = loader.load_bundled_tool("victoriametrics")
    newest, lts = vm.releases[-1], next(r for r in reversed(vm.releases[:-1]) if r.lts)
    lts_tag = f"v{lts.line}.99"
    transport = serve([release(lts_tag)], "apiVersion: v1\nentries: {}\n")
    with Upstream("https://api.test", "https://charts.test", transport=transport) as upstream:
        entry, _ = refresh_tool(vm, upstream, "2026-12-05T00:00:00Z")
    (lts_entry,) = entry.releases
    assert lts_entry.lts_patch == lts_tag[1:] and lts_entry.latest_patch == lts.latest_patch
    assert newest.line != lts.line


def test_upstream_errors_are_clear_and_retried_a_bounded_number_of_times():
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, text="busy")

    flaky_upstream = Upstream("https://api.test", transport=httpx.MockTransport(flaky), attempts=3, backoff=0)
    with flaky_upstream as upstream, pytest.raises(RefreshError) as caught:
        upstream.releases("cilium/cilium", r"^v?(\d+\.\d+\.\d+)$")
    assert len(calls) == 3 and "HTTP 503" in str(caught.value) and "after 3 attempts" in str(caught.value)

    def not_json(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login</html>")

    html = Upstream("https://api.test", transport=httpx.MockTransport(not_json))
    with html as upstream, pytest.raises(RefreshError, match="did not answer JSON"):
        upstream.releases("cilium/cilium", r"^v?(\d+\.\d+\.\d+)$")


def test_a_corrupt_overlay_is_ignored_with_a_warning_never_a_crash(knowledge_copy, tmp_path):
    path = tmp_path / "state" / "knowledge" / "overlay.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("tools: [this is: not: an overlay\n")
    k = loader.load_tool("cilium")
    assert k.latest_patch("1.17") == "1.17.17"  # the bundled knowledge
    assert k.overlay is not None and "not valid YAML" in k.overlay.warning and "ignored" in k.overlay.warning
    path.write_text("schema: 1\ntools:\n  cilium:\n    refreshed_at: '2026-12-05T00:00:00Z'\n    releases:\n"
                    "    - line: '1.17'\n      latest_patch: 1.18.1\n")
    k = loader.load_tool("cilium")
    assert k.latest_patch("1.17") == "1.17.17" and "does not match its schema" in k.overlay.warning


def test_offline_skips_the_overlay(knowledge_copy, tmp_path, monkeypatch):
    entry = OverlayTool(
        refreshed_at="2026-12-05T00:00:00Z",
        releases=[OverlayRelease(line="1.17", latest_patch="1.17.18", latest_patch_date="2026-07-16")],
    )
    write_overlay(tmp_path / "state" / "knowledge" / "overlay.yaml", Overlay(tools={"cilium": entry}))
    assert loader.load_tool("cilium").latest_patch("1.17") == "1.17.18"
    monkeypatch.setenv("UPGRADECTL_OFFLINE", "1")
    assert loader.load_tool("cilium").latest_patch("1.17") == "1.17.17"


@pytest.mark.real
def test_refresh_cli_then_plan_targets_the_new_patch_and_states_the_overlay_date(tmp_path):
    """The acceptance run: refresh from the recorded upstream on loopback, then plan Cilium on the demo fleet;
    with the server down, refresh fails (exit 3) and plans still work from the bundled knowledge."""
    knowledge = older_knowledge(tmp_path / "knowledge")
    state = tmp_path / "state"
    env = {"UPGRADECTL_KNOWLEDGE_DIR": str(knowledge), "UPGRADECTL_STATE_DIR": str(state), "UPGRADECTL_OFFLINE": ""}
    with recorded_upstream() as url:
        done = upgradectl("knowledge", "refresh", "--tool", "cilium", "--api-url", url, "--helm-repo-url", url,
                          "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tools"][0]["changes"] == ["1.17: 1.17.17 -> 1.17.18"]
    assert Path(report["overlay"]) == state / "knowledge" / "overlay.yaml"

    plan = upgradectl("plan", "--tool", "cilium", "--fleet", "demo", "--format", "json", env=env)
    assert plan.returncode in (0, 1, 3), plan.stderr  # findings may block; the plan itself was made
    body = json.loads(plan.stdout)
    # 1.17 is the newest Cilium line supporting the demo's EKS clusters (Kubernetes 1.29: 1.17 supports 1.29-1.32)
    assert body["target_version"] == "1.17.18"
    assert body["knowledge"]["overlay_refreshed_at"] == report["refreshed_at"]
    markdown = upgradectl("plan", "--tool", "cilium", "--fleet", "demo", "--format", "md", env=env)
    assert f"releases refreshed {report['refreshed_at'][:10]}" in markdown.stdout

    down = f"http://127.0.0.1:{unused_port()}"
    fresh = {**env, "UPGRADECTL_STATE_DIR": str(tmp_path / "other-state")}
    failed = upgradectl("knowledge", "refresh", "--tool", "cilium", "--api-url", down, "--helm-repo-url", down,
                        "--timeout", "1", env=fresh)
    assert failed.returncode == 3
    assert "could not be refreshed" in failed.stderr and "bundled knowledge" in failed.stderr
    assert not (tmp_path / "other-state" / "knowledge" / "overlay.yaml").exists()
    still = upgradectl("plan", "--tool", "cilium", "--fleet", "demo", "--format", "json", env=fresh)
    assert still.returncode in (0, 1, 3), still.stderr
    assert json.loads(still.stdout)["target_version"] == "1.17.17"  # the bundled (copied) knowledge


def test_status_lists_every_tool_with_its_date_and_age(tmp_path):
    env = {"UPGRADECTL_STATE_DIR": str(tmp_path / "state"), "UPGRADECTL_TODAY": "2027-03-01"}
    done = upgradectl("knowledge", "status", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert {t["tool"] for t in body["tools"]} == set(loader.available_tools())
    for row in body["tools"]:
        as_of = loader.load_bundled_tool(row["tool"]).as_of
        assert row["date"] == as_of
        from datetime import date

        assert row["age_days"] == (date(2027, 3, 1) - date.fromisoformat(as_of)).days
        assert row["stale"] == (row["age_days"] > 60)
    text = upgradectl("knowledge", "status", env=env)
    assert "STALE" in text.stdout or all(not t["stale"] for t in body["tools"])
