"""terraform-auditor on the demo's Karpenter plan as a user runs it (`upgradectl plan --fleet demo`): the
terraform-aws-modules/eks karpenter submodule pinned at 19.21.0 judged against Karpenter 1.x, the change set
bumping it, and the `terraform init -upgrade` steps. Expectations come from the module's own docs
(terraform-aws-eks CHANGELOG 20.24.0 "Add support for Karpenter v1 controller IAM role permissions",
docs/UPGRADE-20.0.md renamed variables, modules/karpenter/versions.tf @ v20.37.2: aws >= 5.95)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import hcl2
import pytest
from gitops_reconciler import init_repo
from run_cli import upgradectl

from upgradectl.models import Plan
from upgradectl.tools.gitops.changes import apply_edits, change_sets

DEMO = Path(__file__).resolve().parents[2] / "upgradectl" / "demo_fleet"


def plan_json(*args: str) -> Plan:
    """A plan as a user gets it: `upgradectl plan ... --format json`."""
    done = upgradectl("plan", *args, "--format", "json", timeout=300)
    assert done.returncode in (0, 1, 3), done.stderr
    return Plan.model_validate_json(done.stdout)


@pytest.fixture(scope="module")
def demo_plan() -> Plan:
    return plan_json("Karpenter needs upgrade for better bin packing and cost optimization", "--fleet", "demo")


def test_demo_karpenter_plan_judges_the_eks_karpenter_module(demo_plan):
    found = [f for f in demo_plan.findings if f.code == "KARP-TF-MODULE-TOO-OLD"]
    assert len(found) == 1
    finding = found[0]
    assert finding.subject.file == "terraform/eks/karpenter.tf" and finding.subject.line == 6
    assert finding.subject.version == "19.21.0" and finding.subject.cluster == "dev-apps,eks-staging-apps,ravan"
    # create_irsa = false: the controller role is iam.tf's, so the module's missing v1 policy is not what breaks
    assert finding.severity == "medium"
    assert {e.source for e in finding.evidence} == {"terraform", "knowledge"}
    assert any("20.24.0" in e.excerpt and "enable_v1_permissions" in e.excerpt for e in finding.evidence)


def test_demo_karpenter_change_set_bumps_the_module_once_with_the_hop_into_1_0(demo_plan):
    sets = change_sets(demo_plan)
    module_edits = [(cs.key, e) for cs in sets for e in cs.edits if e.purpose.startswith("module-")]
    assert {key for key, _ in module_edits} == {"dev/0.37.8->1.0.14"}  # first environment, hop into 1.0
    version = next(e for _, e in module_edits if e.purpose == "module-version")
    assert (version.old, version.new) == ("19.21.0", "20.37.2")
    renames = {str(e.path[0]): str(e.new_path[0]) for _, e in module_edits if e.action == "rename-key"}
    assert renames == {"create_irsa": "create_iam_role", "iam_role_name": "node_iam_role_name",
                       "iam_role_use_name_prefix": "node_iam_role_use_name_prefix",
                       "iam_role_additional_policies": "node_iam_role_additional_policies"}  # UPGRADE-20.0.md
    texts: dict[str, str] = {}
    for cs in sets[: [cs.key for cs in sets].index("dev/0.37.8->1.0.14") + 1]:  # in order, as execute commits them
        texts |= {e.file: texts.get(e.file) or (DEMO / e.file).read_text() for e in cs.edits if e.file}
        texts |= apply_edits(texts, cs.edits)
    body = hcl2.load(io.StringIO(texts["terraform/eks/karpenter.tf"]))["module"][0]['"karpenter"']
    assert body["version"] == '"20.37.2"' and body["create_iam_role"] is False
    assert "enable_v1_permissions" not in body  # the module makes no controller role here


def test_demo_karpenter_plan_runs_terraform_init_upgrade_per_cluster_state(demo_plan):
    inits = {(step.cluster, step.from_version, c) for stage in demo_plan.rollout for step in stage.steps
             if step.kind == "change" for c in step.commands if " init " in c}  # fmt: skip
    # the module moves in the hop into 1.0 (one block for every cluster's state): init must -upgrade there
    assert ("ravan", "0.37.8", "terraform -chdir=terraform/eks init -input=false -upgrade -reconfigure "
            "-backend-config=key=eks/ravan/karpenter.tfstate") in inits  # fmt: skip
    # every other hop re-initialises the cluster's own state (the fleet file's backend_config), no -upgrade
    assert ("ravan", "0.32.10", "terraform -chdir=terraform/eks init -input=false -reconfigure "
            "-backend-config=key=eks/ravan/karpenter.tfstate") in inits  # fmt: skip
    checked = [c for r in demo_plan.task_log if r.agent == "terraform-auditor" for c in r.checked]
    assert any("hashicorp/aws" in c and "5.46.0" in c and "moves the lock" in c for c in checked)


def test_execute_takes_the_module_bump_and_waits_for_an_approval_naming_the_later_clusters(demo_plan, tmp_path):
    """One module block serves the root's every state (Terraform has one module version per root): execute must
    not refuse the plan for it, and must not commit it for staging and prod without a person saying so."""
    root = tmp_path / "fleet"
    shutil.copytree(DEMO, root)
    init_repo(root)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(demo_plan.model_dump_json())
    run = upgradectl("execute", "--plan", str(plan_file), "--fleet", str(root / "fleet.yaml"), "--run-id", "d1",
                     "--state-dir", str(tmp_path / "state"), timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr  # a dry run that applies cleanly
    waits = [line for line in run.stdout.splitlines() if "dev/0.37.8->1.0.14: would pause for approval" in line]
    assert len(waits) == 1
    assert "terraform/eks/karpenter.tf: the module/provider version bump also configures eks-staging-apps, ravan" \
        in waits[0]  # fmt: skip
    dev = next(s for s in demo_plan.rollout if s.environment == "dev")
    assert any("terraform/eks/karpenter.tf" in n and "eks-staging-apps, ravan" in n for n in dev.notes)
