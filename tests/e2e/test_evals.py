"""The eval suite (evals/, `upgradectl eval`): the scorer on hand-made plans, the scenario format, the whole
suite offline through the CLI, a deliberately broken detector, replay of recorded model turns, and the
coverage the suite promises (all five tools, every branch of the seed's decision tree, the hard cases)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
import yaml
from metrics_servers import cli_in_process
from run_cli import upgradectl

from upgradectl.evals.fleets import scenario_fleet
from upgradectl.evals.results import ScenarioResult, Thresholds, totals, violations
from upgradectl.evals.scenario import Scenario, ScenarioError, discover, load_scenario, schema
from upgradectl.evals.scoring import score_plan
from upgradectl.evals.suite import default_suite_file
from upgradectl.models import (
    Decision,
    Evidence,
    Finding,
    Gate,
    Hop,
    Plan,
    RiskAssessment,
    RolloutStage,
    Step,
    Strategy,
    Subject,
    UpgradePath,
    UpgradeRequest,
)
from upgradectl.tools.cluster.fleet import load_fleet

REPO = Path(__file__).resolve().parents[2]
SUITE = default_suite_file()
SCENARIOS = SUITE.parent / "scenarios"
EXE = str(Path(sys.executable).with_name("upgradectl"))


def run_eval(*args: str, env: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    """`upgradectl eval ...` as a user runs it, with no model credentials unless given."""
    no_model = {k: None for k in os.environ if k.startswith("ANTHROPIC_")}
    return upgradectl("eval", *args, env={**no_model, **(env or {})}, timeout=timeout)


# ------------------------------------------------------------------------------------ hand-made plans


def finding(code: str, severity: str = "high", source: str = "cluster", **subject) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        category="breaking-change",
        title=code,
        subject=Subject(**subject),
        evidence=[Evidence(source=source, ref="test", excerpt="seen")],
        agent="flux-navigator",
    )


def gate(name: str) -> Gate:
    return Gate(name=name, description=name, promql="up", comparison=">", threshold=0)


def stage(env: str, clusters: list[str], gates: list[str]) -> RolloutStage:
    return RolloutStage(
        environment=env,
        clusters=clusters,
        steps=[Step(title="upgrade")],
        gates=[gate(g) for g in gates],
        rollback_steps=[],
        soak_minutes=30,
    )


def hand_plan(findings: list[Finding], risk: str = "high", strategy: str = "maintenance-window") -> Plan:
    """A two-group Karpenter plan shaped like the demo fleet's."""
    paths = [
        UpgradePath(
            tool="karpenter",
            clusters=["eks-staging-apps", "ravan"],
            from_version="0.31.3",
            to_version="0.37.8",
            hops=[
                Hop(from_version="0.31.3", to_version="0.31.5", kind="patch-first", reason="rule"),
                Hop(from_version="0.31.5", to_version="0.32.10", kind="required-intermediate", reason="rule"),
                Hop(from_version="0.32.10", to_version="0.37.8", kind="target", reason="requested"),
            ],
        ),
        UpgradePath(
            tool="karpenter",
            clusters=["dev-apps"],
            from_version="0.31.5",
            to_version="0.37.8",
            hops=[
                Hop(from_version="0.31.5", to_version="0.32.10", kind="required-intermediate", reason="rule"),
                Hop(from_version="0.32.10", to_version="0.37.8", kind="target", reason="requested"),
            ],
        ),
    ]
    decision = Decision(
        track="cost-roi",
        track_reasons=["cost trigger"],
        risk=RiskAssessment(level=risk, reasons=[f"{risk} because the test says so"]),
        strategy=Strategy(kind=strategy, reasons=["test"]),
        approval_required=False,
        approval_reasons=[],
        testing="test",
    )
    return Plan(
        generated_at=datetime(2026, 11, 20, tzinfo=UTC),
        upgradectl_version="0.1.0",
        request=UpgradeRequest(tool="karpenter", target_version="0.37", trigger="cost"),
        fleet="demo",
        clusters=[],
        versions=[],
        target_version="0.37.8",
        target_reason="requested",
        paths=paths,
        findings=findings,
        decision=decision,
        rollout=[
            stage("dev", ["dev-apps"], ["karpenter-nodes-created-pre-v1", "karpenter-binpacking-cpu"]),
            stage("prod", ["ravan"], ["karpenter-nodes-created-pre-v1"]),
        ],
        task_log=[],
        summary="test plan",
    )


def scenario(expected: dict, tool: str = "karpenter") -> Scenario:
    return Scenario.model_validate(
        {"title": "t", "tool": tool, "difficulty": "easy", "request": {"tool": tool}, "expected": expected}
    )


def by_category(checks, category):
    return [c for c in checks if c.category == category]


def test_recall_matches_code_and_any_subset_of_subject_fields():
    plan = hand_plan(
        [
            finding("KARP-V1ALPHA5-PROVISIONER", cluster="ravan", kind="Provisioner", name="default"),
            finding("KARP-ROLLBACK-LIMIT", "medium", "knowledge", cluster="eks-staging-apps,ravan", version="0.32.0"),
            finding("KARP-HELM-VALUE-RENAMED", source="helm", cluster="ravan", helm_value_path="settings.aws.x"),
        ]
    )
    checks = score_plan(
        scenario(
            {
                "required_findings": [
                    {"code": "KARP-V1ALPHA5-PROVISIONER", "subject": {"cluster": "ravan", "name": "default"}},
                    {"code": "KARP-V1ALPHA5-*", "subject": {"kind": "Provisioner"}},  # a glob over codes
                    {"code": "KARP-ROLLBACK-LIMIT", "subject": {"cluster": "ravan", "version": "0.32.0"}},  # comma list
                    {"code": "KARP-HELM-VALUE-RENAMED", "evidence": ["helm"], "severity": "high"},
                    {"code": "KARP-V1ALPHA5-PROVISIONER", "subject": {"cluster": "dev-apps"}},  # other subject
                    {"code": "KARP-HELM-VALUE-RENAMED", "evidence": ["gitops"]},  # wrong evidence source
                    {"code": "KARP-DO-NOT-EVICT-ANNOTATION"},  # absent
                ]
            }
        ),
        plan,
    )
    recall = by_category(checks, "recall")
    assert [c.passed for c in recall] == [True, True, True, True, False, False, False]
    assert "about other subjects" in recall[4].detail and "cluster=ravan" in recall[4].detail
    assert "other severity/evidence" in recall[5].detail
    assert recall[6].detail == "missing: the plan has no KARP-DO-NOT-EVICT-ANNOTATION finding at all"


def test_precision_flags_forbidden_findings_by_code_subject_or_both():
    plan = hand_plan(
        [
            finding("FLUX-DEPRECATED-API-IN-USE", "low", "gitops", file="charts/app-compat/templates/pdb.yaml"),
            finding("KARP-V1ALPHA5-PROVISIONER", cluster="ravan"),
        ]
    )
    checks = score_plan(
        scenario(
            {
                "forbidden_findings": [
                    {"subject": {"file": "charts/*/templates/*"}},  # a glob over a subject field
                    {"code": "KARP-V1ALPHA5-PROVISIONER", "subject": {"cluster": "dev-apps"}},
                    {"code": "KARP-V1BETA1-*"},
                    {"code": "KARP-V1ALPHA5-PROVISIONER", "known_issue": "tracked elsewhere"},
                ]
            }
        ),
        plan,
    )
    precision = by_category(checks, "precision")
    assert [c.passed for c in precision] == [False, True, True, False]
    assert precision[0].detail.startswith("false alarm: 1 finding(s): FLUX-DEPRECATED-API-IN-USE")
    result = ScenarioResult(id="001_x", title="", tool="karpenter", difficulty="easy", checks=checks)
    assert [c.name for c in result.counted("precision") if not c.passed] == ["forbidden * {file=charts/*/templates/*}"]
    assert result.known_issues()[0].known_issue == "tracked elsewhere"


def test_path_match_is_exact_per_group():
    plan = hand_plan([])
    good = {
        "target_version": "0.37.8",
        "paths": [
            {"clusters": ["ravan", "eks-staging-apps"], "from": "0.31.3",
             "hops": ["0.31.5 patch-first", "0.32.10", "0.37.8 target"], "feasible": True},
            {"clusters": ["dev-apps"], "from": "0.31.5", "hops": ["0.32.10", "0.37.8"]},
        ],
        "rollout": {"dev": ["dev-apps"], "prod": ["ravan"]},
    }
    assert all(c.passed for c in by_category(score_plan(scenario(good), plan), "path"))

    wrong_hops = {**good, "paths": [{**good["paths"][0], "hops": ["0.32.10", "0.37.8"]}, good["paths"][1]]}
    failed = [c for c in score_plan(scenario(wrong_hops), plan) if not c.passed]
    assert len(failed) == 1 and "0.31.3 -> 0.31.5 (patch-first)" in failed[0].detail

    one_group = {**good, "paths": [good["paths"][1]]}
    failed = [c for c in score_plan(scenario(one_group), plan) if not c.passed]
    assert [c.name for c in failed] == ["no other cluster group"]

    wrong_kind = {**good, "paths": [{**good["paths"][0], "hops": ["0.31.5 one-minor", "0.32.10", "0.37.8"]},
                                    good["paths"][1]]}
    assert not all(c.passed for c in score_plan(scenario(wrong_kind), plan))

    blocked = {"paths": [{**good["paths"][0], "feasible": False, "blockers": ["upgrade Kubernetes"]}, good["paths"][1]]}
    detail = next(c.detail for c in score_plan(scenario(blocked), plan) if not c.passed)
    assert "feasible=True" in detail and "no blocker says 'upgrade Kubernetes'" in detail

    rollout = {"rollout": {"dev": ["dev-apps"], "staging": ["eks-staging-apps"], "prod": ["ravan"]}}
    detail = next(c.detail for c in score_plan(scenario(rollout), plan) if not c.passed)
    assert detail == "plan: dev: dev-apps; prod: ravan"

    target = next(c for c in score_plan(scenario({"target_version": "1.14.1"}), plan) if c.name.startswith("target"))
    assert not target.passed and target.detail == "plan targets 0.37.8 (requested)"
    assert not score_plan(scenario({}, tool="flux"), plan)[0].passed  # a plan for another tool


def test_decision_match_per_field_with_the_plans_reasons():
    plan = hand_plan([], risk="high")
    checks = score_plan(
        scenario({"decision": {"track": "cost-roi", "risk": "medium", "strategy": "maintenance-window",
                               "approval_required": False}}),
        plan,
    )
    decision = by_category(checks, "decision")
    assert [(c.name, c.passed) for c in decision] == [
        ("track cost-roi", True), ("risk medium", False), ("strategy maintenance-window", True),
        ("approval_required False", True)]
    assert decision[1].detail == "plan: high (high because the test says so)"

    known = score_plan(scenario({"decision": {"risk": "medium", "known_issues": {"risk": "bug 1"}}}), plan)
    result = ScenarioResult(id="001_x", title="", tool="karpenter", difficulty="easy", checks=known)
    assert result.status("decision") == "-" and result.passed  # reported, not counted


def test_gates_required_in_every_stage_and_forbidden_in_all():
    checks = score_plan(
        scenario({"required_gates": ["karpenter-nodes-created-pre-v1", "karpenter-binpacking-cpu"],
                  "forbidden_gates": ["karpenter-nodes-created", "karpenter-binpacking-cpu"]}),
        hand_plan([]),
    )
    gates = by_category(checks, "gates")
    assert [c.passed for c in gates] == [True, False, True, False]
    assert gates[1].detail == "missing from stage(s): prod"
    assert gates[3].detail == "present in stage(s): dev"


def test_totals_and_thresholds_name_what_was_missed():
    plan = hand_plan([finding("KARP-V1ALPHA5-PROVISIONER", cluster="ravan")])
    ok = ScenarioResult(
        id="001_a", title="", tool="karpenter", difficulty="easy",
        checks=score_plan(scenario({"required_findings": [{"code": "KARP-V1ALPHA5-PROVISIONER"}],
                                    "decision": {"risk": "high"}}), plan))
    bad = ScenarioResult(
        id="002_b", title="", tool="karpenter", difficulty="easy",
        checks=score_plan(scenario({"required_findings": [{"code": "KARP-GLOBAL-SETTINGS-CONFIGMAP"}],
                                    "forbidden_findings": [{"code": "KARP-V1ALPHA5-PROVISIONER"}],
                                    "decision": {"risk": "medium"}}), plan))
    broken = ScenarioResult(id="003_c", title="", tool="flux", difficulty="easy", error="no plan: bad fleet")
    t = totals([ok, bad, broken])
    assert (t.required, t.found, t.forbidden, t.false_alarms, t.errors) == (2, 1, 1, 1, 1)
    assert (t.path, t.decision) == (1.0, 0.5)  # a scenario with no plan counts in errors, not in the shares
    missed = violations(t, Thresholds(), [ok, bad, broken])
    assert missed == ["recall 1/2 = 50.0% < 100%", "1 false alarm(s) > 0", "decision match 50.0% < 100%",
                      "1 scenario(s) produced no plan > 0"]
    assert violations(t, Thresholds(recall=0.5, max_false_alarms=1, decision=0.5, max_errors=1), [ok]) == []


# ------------------------------------------------------------------------------------ the scenario format


def write_scenario(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(body)
    return folder


def test_scenario_files_reject_unknown_fields_and_name_them(tmp_path):
    folder = write_scenario(tmp_path / "001_typo", "title: t\ntool: flux\ndifficulty: easy\nrequest: {tool: flux}\n"
                            "expected:\n  required_finding: []\n")
    with pytest.raises(ScenarioError, match=r"expected\.required_finding: Extra inputs are not permitted"):
        load_scenario(folder)
    bad_hop = write_scenario(tmp_path / "002_hop", "title: t\ntool: flux\ndifficulty: easy\nrequest: {tool: flux}\n"
                             "expected:\n  paths: [{clusters: [a], from: 2.2.3, hops: [2.4.0 sideways]}]\n")
    with pytest.raises(ScenarioError, match="write 'VERSION' or 'VERSION KIND'"):
        load_scenario(bad_hop)
    empty_forbidden = write_scenario(tmp_path / "003_empty", "title: t\ntool: flux\ndifficulty: easy\n"
                                     "request: {tool: flux}\nexpected:\n  forbidden_findings: [{why: nothing}]\n")
    with pytest.raises(ScenarioError, match="needs a code, a subject, or both"):
        load_scenario(empty_forbidden)
    with pytest.raises(ScenarioError, match="named NNN_slug"):
        load_scenario(write_scenario(tmp_path / "Bad-Name", "title: t\n"))


def test_schema_file_is_current():
    assert json.loads((SUITE.parent / "scenario.schema.json").read_text()) == schema(), (
        "evals/scenario.schema.json is stale: `upgradectl eval --schema > evals/scenario.schema.json`"
    )


def test_overlay_fleets_are_built_deterministically(tmp_path):
    base = SCENARIOS / "008_cilium_security_patch_canary" / "fleet"
    folder = tmp_path / "001_overlay"
    shutil.copytree(base, folder / "base")
    extra = folder / "overlay" / "clusters" / "edge-prod" / "resources" / "apps" / "v1"
    extra.mkdir(parents=True)
    (extra / "deployments.append.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                        "metadata": {"name": "extra", "namespace": "default"}}]}))
    (folder / "scenario.yaml").write_text(yaml.safe_dump({
        "title": "t", "tool": "cilium", "difficulty": "easy", "request": {"tool": "cilium"},
        "fleet": {"base": "base", "overlay": "overlay", "remove": ["clusters/edge-prod/metrics"],
                  "kubernetes_versions": {"edge-prod": "v1.27.16-eks-a18cd3a"}},
        "expected": {}}))
    loaded = load_scenario(folder)
    with scenario_fleet(loaded) as ref:
        fleet = load_fleet(ref)
        cluster = fleet.clusters["edge-prod"]
        assert cluster.info.kubernetes_version == "1.27.16"
        names = [d["metadata"]["name"] for d in cluster.source.objects("apps/v1", "Deployment")]
        assert names == ["cilium-operator", "extra"]
        assert not (Path(ref).parent / "clusters" / "edge-prod" / "metrics").exists()
        assert not list(Path(ref).parent.rglob("*.append.yaml"))
    assert not Path(ref).exists()  # the temporary fleet is gone
    assert (base / "clusters" / "edge-prod" / "metrics").exists()  # the base is untouched


def test_purpose_built_fixtures_match_their_generator():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "build_eval_fixtures.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------ what the suite covers


def test_suite_covers_every_tool_branch_and_hard_case():
    scenarios = discover(SCENARIOS)
    assert len(scenarios) >= 15
    assert {s.spec.tool for s in scenarios} == {"karpenter", "victoriametrics", "flux", "argocd", "cilium"}
    decisions = [s.spec.expected.decision for s in scenarios if s.spec.expected.decision]

    def covered(field: str) -> set:  # only expectations the planner is held to (not known issues)
        return {getattr(d, field) for d in decisions if getattr(d, field) is not None and field not in d.known_issues}

    assert covered("track") == {"security-fast-track", "cost-roi", "feature-standard", "compliance-extra-validation"}
    assert covered("risk") == {"low", "medium", "high", "critical"}
    assert covered("strategy") == {"rolling", "maintenance-window", "blue-green", "canary"}
    assert covered("approval_required") == {True, False}
    tags = {t for s in scenarios for t in s.spec.tags}
    hard = {"red-herring-comment", "red-herring-helm-template", "red-herring-unrelated-crd",
            "red-herring-out-of-scope-metrics", "missing-metrics", "kubernetes-too-old", "mixed-current-versions",
            "security-patch-only"}
    assert hard <= tags, f"missing hard cases: {hard - tags}"
    for s in scenarios:  # every expectation explains itself where it is not obvious
        assert s.spec.description, s.id
        assert s.spec.expected.required_findings or s.spec.expected.forbidden_findings, s.id


# ------------------------------------------------------------------------------------ the CLI


@pytest.mark.slow
def test_eval_runs_the_whole_suite_offline(tmp_path):
    """The suite's wall time is printed by the command itself (target: under 2 minutes on 2 cores); then
    `upgradectl verify-plan` passes every plan it wrote on the fleet it was made for (one run of the suite for
    both: it is the test suite's longest test)."""
    result = run_eval("--jobs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Scenario", "Tool", "Diff", "Recall", "False", "alarms", "Path", "Decision", "Gates",
                                "Verifier", "Why", "Time", "Result"]
    ids = sorted(p.name for p in SCENARIOS.iterdir() if (p / "scenario.yaml").is_file())
    rows = {line.split()[0]: line for line in lines[2: 2 + len(ids)]}
    assert sorted(rows) == ids
    assert all(" pass" in row for row in rows.values())
    assert "All thresholds met." in result.stdout
    assert "Known planner issues" not in result.stdout  # every expectation holds without exceptions
    assert "llm off (model none)" in result.stdout

    results = json.loads((tmp_path / "results.json").read_text())
    stamp = results["stamp"]
    assert stamp["llm_mode"] == "off" and stamp["upgradectl_version"]
    assert len(stamp["prompts_sha256"]) == 64 and len(stamp["knowledge_sha256"]) == 64 and stamp["git_sha"]
    assert results["passed"] and results["totals"]["recall"] == 1.0 and results["totals"]["false_alarms"] == 0
    assert sorted(p.stem for p in (tmp_path / "plans").glob("*.json")) == ids
    for scenario in discover(SCENARIOS):
        with scenario_fleet(scenario) as fleet:
            plan_file = tmp_path / "plans" / f"{scenario.id}.json"
            verified = cli_in_process("verify-plan", str(plan_file), "--no-fetch-charts", "--fleet", fleet)
        assert verified.returncode == 0, f"{scenario.id}: {verified.stdout}{verified.stderr}"


def broken_knowledge(tmp_path: Path) -> Path:
    """A copy of tools/knowledge with the v1alpha5 Provisioner detector removed (a recall bug) and the Cilium
    kube-proxy-replacement detector no longer looking at the value (a precision bug)."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(Path(str(resources.files("upgradectl.tools.knowledge").joinpath("data"))), knowledge)
    for tool, change, edit in (
        ("karpenter", "KARP-V1ALPHA5-PROVISIONER", lambda c: c.pop("detector")),
        ("cilium", "CIL-KPR-STRING-MODES-REMOVED", lambda c: c["detector"].pop("values")),
    ):
        file = knowledge / f"{tool}.yaml"
        data = yaml.safe_load(file.read_text())
        edit(next(c for c in data["breaking_changes"] if c["id"] == change))
        file.write_text(yaml.safe_dump(data, sort_keys=False))
    return knowledge


def test_a_broken_detector_fails_the_right_scenarios_and_names_the_finding(tmp_path):
    knowledge = broken_knowledge(tmp_path)
    result = run_eval("--scenario", "001,004,007", "--jobs", "2", env={"UPGRADECTL_KNOWLEDGE_DIR": str(knowledge)})
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line[:3].isdigit()}
    assert rows["001_karpenter_cost_demo"].rstrip().endswith("FAIL")
    assert rows["004_karpenter_dev_missing_metrics"].rstrip().endswith("pass")  # it needs no Provisioner finding
    assert rows["007_cilium_ravan_kubernetes_127_blocks"].rstrip().endswith("FAIL")
    assert ("001_karpenter_cost_demo: required KARP-V1ALPHA5-PROVISIONER {cluster=ravan kind=Provisioner "
            "name=default} severity=high evidence=cluster: missing: the plan has no KARP-V1ALPHA5-PROVISIONER "
            "finding at all") in out
    assert ("007_cilium_ravan_kubernetes_127_blocks: forbidden CIL-KPR-STRING-MODES-REMOVED: false alarm: 1 "
            "finding(s): CIL-KPR-STRING-MODES-REMOVED [critical] {cluster=ravan") in out
    assert "THRESHOLDS MISSED: recall" in out and "false alarm(s) > 0" in out
    assert f"from {knowledge}" in out  # the stamp says the knowledge base was replaced


def test_bad_input_is_a_usage_error_without_traceback(tmp_path):
    for args, message in (
        (("--scenario", "999_nope"), "no scenario matches '999_nope'"),
        (("--llm", "sometimes"), "--llm 'sometimes' is not one of off, replay, live"),
        (("--record",), "use it with --llm live"),
        (("--llm", "live"), "--llm live needs ANTHROPIC_API_KEY"),
        (("--format", "xml"), "--format 'xml' is not one of text, json"),
        (("--llm", "replay", "--scenario", "001"), "has recorded model turns"),
    ):
        result = run_eval(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in " ".join(result.stderr.split()), (args, result.stderr)
        assert "Traceback" not in result.stderr
    suite = tmp_path / "suite"
    write_scenario(suite / "scenarios" / "001_bad", "title: t\ntool: flux\ndifficulty: easy\nrequest: {tool: flux}\n"
                   "expected:\n  decision: {risk: extreme}\n")
    shutil.copy(SUITE, suite / "suite.yaml")
    result = run_eval("--suite", str(suite))
    assert result.returncode == 2 and "expected.decision.risk" in result.stderr and "Traceback" not in result.stderr


def test_schema_option_prints_the_scenario_schema():
    result = run_eval("--schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["properties"]["expected"]["$ref"] == "#/$defs/Expected"


# ------------------------------------------------------------------------------------ replay of model turns


@pytest.mark.real
def test_record_against_a_live_api_then_replay_offline(tmp_path):
    """--llm live --record against the scripted Messages API on loopback (standing in for Anthropic), then
    --llm replay with no server and no key: every request finds its recorded turn; a removed turn is a miss."""
    from scripted_anthropic import ScriptedAnthropic

    suite = tmp_path / "suite"
    shutil.copytree(SCENARIOS / "015_argocd_security_patch_rolling", suite / "scenarios" / "015_argocd_patch")
    shutil.copy(SUITE, suite / "suite.yaml")
    replay_file = suite / "scenarios" / "015_argocd_patch" / "llm_replay.jsonl"
    with ScriptedAnthropic() as server:
        live = run_eval("--suite", str(suite), "--llm", "live", "--record", "--jobs", "1", "--format", "json",
                        env=server.env())
        requests = len(server.bodies)
    assert live.returncode == 0, live.stdout + live.stderr
    recorded = json.loads(live.stdout)["scenarios"][0]["llm"]
    assert recorded["mode"] == "live" and recorded["recorded_turns"] == requests > 0
    lines = replay_file.read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "header" and len(lines) == requests + 1

    replay = run_eval("--suite", str(suite), "--llm", "replay", "--jobs", "1", "--format", "json")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    result = json.loads(replay.stdout)
    llm = result["scenarios"][0]["llm"]
    assert llm["mode"] == "replay" and llm["calls"] == requests and llm["replay_misses"] == []
    assert llm["replay_drift"] == 0  # the same prompts, byte for byte
    assert result["stamp"]["llm_mode"] == "replay" and result["stamp"]["llm_models"] == [llm["model"]]

    replay_file.write_text("\n".join(lines[:-1]) + "\n")  # lose one recorded turn
    stale = run_eval("--suite", str(suite), "--llm", "replay", "--jobs", "1")
    assert stale.returncode == 1
    assert "015_argocd_patch: replay miss: turn" in stale.stdout
    assert "replay file missing turns for 015_argocd_patch" in stale.stdout


def test_why_checks_score_advisories_features_and_payback_as_the_plan_states_them():
    from upgradectl.models import Advisory, AdvisoryReport, FeatureGained  # reason: only this test builds them

    expected = {"why": {"advisories_status": "checked", "patch_suffices": True, "minimal_target": "2.10.10",
                        "advisories": [{"id": "GHSA-9766-5277-j5hr", "severity": "critical", "fixed": ["2.10.10"],
                                        "fixed_by_target": True}],
                        "features": ["0.34: disruption budgets"], "trigger_features": ["0.34: budgets"],
                        "payback": True}}  # fmt: skip
    silent = hand_plan([])
    failed = by_category(score_plan(scenario(expected), silent), "why")
    assert len(failed) == 7 and not any(c.passed for c in failed)  # a plan that says nothing fails every check
    assert "plan: none" in failed[0].detail and "not listed" in failed[3].detail
    report = AdvisoryReport(status="checked", patch_suffices=True, minimal_target="2.10.10",
                            fixed_by_target=["GHSA-9766-5277-j5hr"],
                            advisories=[Advisory(id="GHSA-9766-5277-j5hr", severity="critical",
                                                 fixed=["2.8.19", "2.10.10"])])  # fmt: skip
    budgets = FeatureGained(line="0.34", title="Disruption budgets control consolidation", tags=["cost"],
                            source="guide", matches_trigger=False)  # fmt: skip
    told = silent.model_copy(update={"advisories": report, "features": [budgets]})
    checks = {c.name: c.passed for c in by_category(score_plan(scenario(expected), told), "why")}
    assert checks["feature 0.34: disruption budgets"] and not checks["feature for the trigger 0.34: budgets"]
    assert checks["advisory GHSA-9766-5277-j5hr fixed in 2.10.10"]
    assert checks["patch of the running line suffices: True"]
    assert not checks["payback stated: True"]  # no return on effort in this plan
