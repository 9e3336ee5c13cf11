"""The eval scenarios' recorded OSV (evals/osv_fixture.py): real advisory records answered in process in OSV's
`/v1/query` and `/v1/querybatch` shapes. Expectations come from the records' ranges (GHSA-9766-5277-j5hr:
github.com/argoproj/argo-cd/v2 {introduced 2.10.0-rc1, fixed 2.10.10})."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from upgradectl.evals.osv_fixture import OsvFixtureError, fixture_client
from upgradectl.evals.scenario import ScenarioError, load_scenario
from upgradectl.tools.advisories.osv import PackageQuery

RECORDS = Path(__file__).resolve().parents[1] / "data" / "osv"
V2 = "github.com/argoproj/argo-cd/v2"


def test_the_fixture_answers_query_and_querybatch_from_the_records_ranges(tmp_path):
    shutil.copy(RECORDS / "GHSA-9766-5277-j5hr.json", tmp_path)
    with fixture_client(tmp_path) as client:
        assert [r["id"] for r in client.query(PackageQuery("Go", V2, "2.10.7"))] == ["GHSA-9766-5277-j5hr"]
        assert client.query(PackageQuery("Go", V2, "2.10.10")) == []  # the fixed version
        ids = client.query_ids([PackageQuery("Go", V2, v) for v in ("2.10.9", "2.10.10", "2.11.0")])
        assert ids == [{"GHSA-9766-5277-j5hr"}, set(), {"GHSA-9766-5277-j5hr"}]
        assert client.snapshot_date()[0] == "checked" and not client.cached  # answered live, nothing cached


def test_a_fixture_that_is_not_records_is_a_named_error(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(OsvFixtureError, match="broken.json"):
        fixture_client(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OsvFixtureError, match="no records"):
        fixture_client(tmp_path / "empty")
    with pytest.raises(OsvFixtureError, match="missing.json: cannot read"):
        fixture_client(tmp_path / "missing.json")


def test_a_scenario_osv_path_must_stay_inside_its_folder(tmp_path):
    folder = tmp_path / "099_outside"
    folder.mkdir()
    (folder / "scenario.yaml").write_text(
        "title: t\ntool: argocd\ndifficulty: easy\nrequest: {tool: argocd}\nosv: ../records\nexpected: {}\n"
    )
    with pytest.raises(ScenarioError, match="osv"):
        load_scenario(folder)
