"""`execute` and maintenance windows, on a real git repo with an injected clock: outside the window the run pauses
(exit 6) naming the next window and commits nothing; `resume` inside the window goes on."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from gitops_reconciler import git, init_repo
from metrics_servers import DEMO

from upgradectl.app import execute as runs
from upgradectl.app.plan import PlanRequest, plan
from upgradectl.exit_codes import EXIT_PAUSED

# Tuesday 22:00 in Berlin is 21:00 UTC in December (CET, UTC+1)
WINDOW = {"weekly": {"days": ["tue"], "start": "22:00", "hours": 4, "timezone": "Europe/Berlin"}}
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TUESDAY_IN_WINDOW = datetime(2026, 12, 8, 21, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("windows") / "fleet"
    shutil.copytree(DEMO, root)
    spec = yaml.safe_load((root / "fleet.yaml").read_text())
    spec["maintenance_windows"] = {"dev": [WINDOW]}
    (root / "fleet.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    init_repo(root)
    return root


@pytest.fixture(scope="module")
def plan_file(fleet, tmp_path_factory) -> Path:
    made = plan(PlanRequest(tool="cilium", to="1.15.19", clusters=["dev-apps"], strategy="rolling", fleet=str(fleet)))
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    out.write_text(made.plan.model_dump_json())
    return out


def test_the_timeline_places_the_hops_in_the_window(plan_file):
    from upgradectl.models import Plan

    timeline = Plan.model_validate_json(plan_file.read_text()).timeline
    assert timeline is not None and [e.key for e in timeline.entries] == ["dev/1.14.5->1.14.19",
                                                                          "dev/1.14.19->1.15.19"]  # fmt: skip
    for entry in timeline.entries:  # Cilium's upgrade interrupts L7 traffic: disruptive, so inside the window
        assert entry.disruptive and entry.window
        start = entry.start.astimezone(UTC)
        assert start.weekday() == 1 and (start.hour, start.minute) >= (21, 0)
        assert entry.start.timestamp() + 60 * entry.change_minutes <= _window_end(start)


def _window_end(start: datetime) -> float:
    return start.replace(hour=21, minute=0).timestamp() + 4 * 3600


def test_execute_outside_the_window_pauses_naming_the_next_then_resumes_inside(fleet, plan_file, tmp_path):
    state = tmp_path / "state"
    said: list[str] = []
    request = runs.ExecuteRequest(plan_file=plan_file, fleet=str(fleet), dry_run=False, run_id="win", state_dir=state,
                                  soak=0.1, reconcile_timeout=1, poll=0.1, now=lambda: MONDAY_NOON)  # fmt: skip
    outcome = runs.execute(request, said.append)
    assert outcome.exit_code == EXIT_PAUSED
    paused = outcome.report["paused"]
    assert paused["kind"] == "window" and paused["step"] == "dev/1.14.5->1.14.19"
    assert paused["next"].startswith("2026-12-08 21:00 to 2026-12-09 01:00 UTC")
    assert "2026-12-07 12:00 UTC is outside every maintenance window of dev" in paused["reasons"][0]
    assert git(fleet, "log", "--oneline", "main..upgradectl/win") == ""  # nothing committed
    # approving does not open a window
    with pytest.raises(runs.UseCaseError, match="maintenance window"):
        runs.approve("win", runs.Decision(True, "alice"), said.append, state)
    still = runs.resume("win", said.append, state, now=lambda: MONDAY_NOON)
    assert still.exit_code == EXIT_PAUSED and still.report["paused"]["kind"] == "window"
    inside = runs.resume("win", said.append, state, now=lambda: TUESDAY_IN_WINDOW)
    assert inside.exit_code == EXIT_PAUSED  # past the window: now the open findings of dev-apps wait for a person
    assert inside.report["paused"]["kind"] == "approval" and inside.report["paused"]["findings"]
    assert any("inside the maintenance window" in line for line in inside.report["log"])


def test_dry_run_outside_the_window_says_it_would_wait(fleet, plan_file, tmp_path):
    request = runs.ExecuteRequest(plan_file=plan_file, fleet=str(fleet), state_dir=tmp_path / "s",
                                  now=lambda: MONDAY_NOON)  # fmt: skip
    outcome = runs.execute(request, lambda _: None)
    assert outcome.exit_code == EXIT_PAUSED
    assert any("would wait for the maintenance window of dev: 2026-12-08 21:00" in line
               for line in outcome.report["log"])  # fmt: skip
