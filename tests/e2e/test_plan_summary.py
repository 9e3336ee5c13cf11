"""The first five minutes (issue 20): `plan` prints a terminal summary, writes the full report (md, json and a
self-contained html page that opens in headless Chromium with its summary above the fold), and every seed
example prompt on the demo exits 0 or 1."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import require_binary
from osv_server import RECORDS as OSV_DATA
from osv_server import osv_server
from run_cli import upgradectl

PROMPTS = (Path(__file__).resolve().parents[1] / "data" / "seed" / "example_prompts.txt").read_text().splitlines()
ANSI = re.compile(r"\x1b\[")
OSV_RECORDS = sorted(p.stem for p in OSV_DATA.glob("*.json"))


@pytest.fixture(scope="module")
def demo_summary(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("plan")
    result = upgradectl("plan", PROMPTS[0], "--fleet", "demo", "--out", str(out), env={"NO_COLOR": "1"})
    assert result.returncode in (0, 1), result.stderr
    return result, out


def test_summary_by_default_names_paths_problems_decision_timeline_report_and_exit(demo_summary):
    result, out = demo_summary
    lines = result.stdout.splitlines()
    assert 15 <= len(lines) <= 45, result.stdout  # a summary, not the ~2,000-line report
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert not ANSI.search(result.stdout)  # not a terminal (and NO_COLOR): plain text
    plan = json.loads((out / "plan.json").read_text())
    for path in plan["paths"]:  # every cluster group with its whole path
        chain = " -> ".join([path["from_version"], *(hop["to_version"] for hop in path["hops"])])
        assert chain in result.stdout
    codes = {f["code"] for f in plan["findings"] if f["category"] != "setup"}
    assert f"({len(codes)} distinct, " in result.stdout  # problems are codes, not one line per object
    assert f"risk {plan['decision']['risk']['level']}, strategy {plan['decision']['strategy']['kind']}" in result.stdout
    for stage in plan["rollout"]:  # environment -> hops -> soak
        assert re.search(rf"{stage['environment']}\s+{re.escape(stage['clusters'][0])}", result.stdout)
    assert re.search(r"^  total: ", result.stdout, re.M)  # the whole rollout's duration and approvals
    assert f"Report    {out / 'plan.md'}" in result.stdout
    assert lines[-1].startswith(f"exit {result.returncode}: ")
    assert (out / "plan.md").read_text().startswith("# Upgrade plan: Karpenter")
    assert (out / "plan.html").stat().st_size > 0


def test_plan_md_opens_with_the_summary_then_problems_then_rollout(demo_summary):
    markdown = (demo_summary[1] / "plan.md").read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert [h.split(" (")[0] for h in headings] == ["## Summary", "## Problems", "## Rollout", "## Detail"]
    summary = markdown[markdown.index("## Summary"): markdown.index("## Problems")]
    assert "**Decision:**" in summary and "**Timeline:**" in summary and "**Blockers:**" in summary


def test_html_report_is_self_contained_and_escapes_cluster_text(demo_summary):
    page = (demo_summary[1] / "plan.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<details>" in page
    assert "data:image/png;base64," in page  # cost plots inline, not linked files
    assert not re.search(r'<img src="(?!data:)', page)
    assert "<script" not in page


@pytest.fixture(scope="module")
def osv():
    """OSV on loopback with the recorded advisories (tests/data/osv): the advisory check runs, as it does for a
    user online (unreachable, it would rightly leave a security request incomplete: exit 3)."""
    with osv_server(*OSV_RECORDS) as server:
        yield server


@pytest.mark.parametrize("prompt", PROMPTS[1:])
def test_every_seed_prompt_exits_0_or_1_with_one_summary_line(prompt, osv, tmp_path):
    result = upgradectl("plan", prompt, "--fleet", "demo", "-q", "-o", str(tmp_path), "--osv-url", osv.url)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 1 and result.stdout.rstrip().endswith(f"exit {result.returncode}")
    assert not json.loads((tmp_path / "plan.json").read_text())["incomplete"]


def _chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with the flags this machine needs (a fresh profile each run)."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1280,800", *args]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_html_report_opens_in_chromium_with_the_summary_above_the_fold(demo_summary, tmp_path):
    binary = require_binary("chromium")
    page = demo_summary[1] / "plan.html"
    shot = tmp_path / "plan.png"
    result = _chromium(binary, tmp_path, f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    width, height = struct.unpack(">II", shot.read_bytes()[16:24])  # the PNG header's IHDR
    assert (width, height) == (1280, 800)
    # where the summary's timeline table ends, measured by Chromium's layout at the same window size (a copy of
    # the page with a probe script: the report itself carries no script)
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", (
        "<script>const first=document.querySelector('h2');const table=document.querySelector('table');"
        "document.body.setAttribute('data-first', first.textContent);"
        "document.body.setAttribute('data-table-bottom', String(Math.round(table.getBoundingClientRect().bottom)));"
        "</script></body>")))
    dom = _chromium(binary, tmp_path, "--enable-logging=stderr", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    first = re.search(r'data-first="([^"]*)"', dom.stdout).group(1)
    bottom = int(re.search(r'data-table-bottom="(-?\d+)"', dom.stdout).group(1))
    assert first == "Summary" and 0 < bottom <= 800, bottom  # decision, blockers and timeline above the fold


def test_html_page_rendered_in_two_processes_is_the_page_rendered_whole(demo_summary, monkeypatch):
    """The demo plan's Markdown is big enough that plan.html renders in two halves at once (one forked); the
    halves must make the page markdown-it renders from the whole text."""
    from upgradectl.app import html_report
    from upgradectl.app.report import html_title, markdown_for_md_and_html
    from upgradectl.models import Plan

    out = demo_summary[1]
    plan = Plan.model_validate_json((out / "plan.json").read_text())
    markdown, marked = markdown_for_md_and_html(plan)
    assert markdown == (out / "plan.md").read_text()  # the same plan, so the same page source
    assert len(marked) >= html_report.SPLIT_FROM and html_report.split_in_two(marked)[0], "rendered whole"
    monkeypatch.setattr(html_report, "SPLIT_FROM", len(marked) + 1)
    whole = html_report.markdown_page(marked, html_title(plan), out)
    assert whole == (out / "plan.html").read_text()
