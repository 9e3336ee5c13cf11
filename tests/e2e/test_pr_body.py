"""`changes --plan plan.json --pr-body` (issue 20): a pull-request description per environment and hop, in the
order execute commits them, each saying what changes and why, the evidence, the gates to watch, the rollback
and the approval it needs - every figure taken from the plan."""

from __future__ import annotations

import json

import pytest
from run_cli import upgradectl


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("prs")
    planned = upgradectl("plan", "--tool", "karpenter", "--fleet", "demo", "-o", str(work / "plan"))
    assert planned.returncode in (0, 1), planned.stderr
    plan_file = work / "plan" / "plan.json"
    diffs = upgradectl("changes", "--plan", str(plan_file), "--format", "json")
    assert diffs.returncode == 0, diffs.stderr
    written = upgradectl("changes", "--plan", str(plan_file), "--pr-body", "-o", str(work / "prs"))
    assert written.returncode == 0, written.stderr
    return json.loads(plan_file.read_text()), json.loads(diffs.stdout), work / "prs"


def test_one_description_per_environment_and_hop_in_execute_order(demo):
    plan, diffs, prs = demo
    expected = [f"pr-{d['environment']}-{d['from_version']}-{d['to_version']}.md" for d in diffs]
    assert sorted(p.name for p in prs.iterdir()) == sorted(expected)
    for stage in plan["rollout"]:  # every hop of every environment has its PR
        hops = {h.split(": ", 1)[1].replace(" -> ", "-") for h in stage["hops"]}
        assert {f"pr-{stage['environment']}-{hop}.md" for hop in hops} <= set(expected)


def test_each_description_has_why_evidence_gates_rollback_and_approval(demo):
    plan, diffs, prs = demo
    for change in diffs:
        body = (prs / f"pr-{change['environment']}-{change['from_version']}-{change['to_version']}.md").read_text()
        stage = next(s for s in plan["rollout"] if s["environment"] == change["environment"])
        for heading in ("### What changes and why", "### Evidence", "### Gates to watch", "### Rollback",
                        "### Approval"):  # fmt: skip
            assert heading in body
        hop = next(h for p in plan["paths"] for h in p["hops"] if set(change["clusters"]) & set(p["clusters"])
                   and (h["from_version"], h["to_version"]) == (change["from_version"], change["to_version"]))
        assert hop["reason"].split(":")[0] in body and all(note in body for note in hop["notes"])
        assert all(f"`{file}`" in body for file in change["files"])
        assert all(f"**{gate['name']}**" in body for gate in stage["gates"])
        rollback = [s for s in stage["rollback_steps"]
                    if (s["from_version"], s["to_version"]) == (change["from_version"], change["to_version"])]
        assert rollback and all(f"`{command}`" in body for s in rollback for command in s["commands"])
        if stage["approval_required"]:
            assert all(f"required before merging: {reason}" in body for reason in stage["approval_reasons"])
        else:
            assert "no approval gate" in body
        assert change["diff"].splitlines()[0] in body  # the diff itself, folded


def test_pr_body_as_json_and_out_without_pr_body_is_a_usage_error(demo, tmp_path):
    plan_file = demo[2].parent / "plan" / "plan.json"
    listed = upgradectl("changes", "--plan", str(plan_file), "--pr-body", "--format", "json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == len(demo[1])
    refused = upgradectl("changes", "--plan", str(plan_file), "-o", str(tmp_path))
    assert refused.returncode == 2 and "--pr-body" in refused.stderr and "Traceback" not in refused.stderr
