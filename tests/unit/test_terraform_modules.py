"""terraform-auditor judges the modules and providers that install the tool: Terraform's constraint syntax
and the HCL edits of a module bump (the demo's Karpenter plan: tests/e2e/test_terraform_demo_plan.py).
Expectations come from the module's own docs (terraform-aws-eks CHANGELOG 20.24.0 "Add support for Karpenter
v1 controller IAM role permissions", docs/UPGRADE-20.0.md renamed variables, modules/karpenter/versions.tf
@ v20.37.2: aws >= 5.95) and Terraform's version-constraint syntax (~> allows only the rightmost component
to grow)."""

from __future__ import annotations

import io

import hcl2
import pytest

from upgradectl.models import FileEdit
from upgradectl.tools.gitops.changes import EditError, apply_edits, describe
from upgradectl.tools.terraform import admits, lowest_admitted


@pytest.mark.parametrize(("constraint", "version", "ok"), [
    ("~> 5.40", "5.95.0", True),  # ~> 5.40 means >= 5.40, < 6.0
    ("~> 5.40", "6.0.0", False),
    ("~> 5.40.0", "5.41.0", False),  # ~> 5.40.0 means >= 5.40.0, < 5.41.0
    (">= 5.95, < 6.0.0", "5.95.1", True),
    ("19.21.0", "20.0.0", False),  # a bare version is an exact pin
    ("~> 2.12", "3.0.0", False),
    ("", "1.0.0", True),
])  # fmt: skip
def test_terraform_version_constraints(constraint, version, ok):
    assert admits(constraint, version) is ok


def test_lowest_admitted_is_the_lower_bound():
    assert lowest_admitted("~> 20.24") == "20.24.0"
    assert lowest_admitted(">= 5.95, < 6.0.0") == "5.95.0"
    assert lowest_admitted("19.21.0") == "19.21.0"


MODULE = '''module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "19.21.0"

  create_irsa            = false
  iam_role_name          = "karpenter-node"
  iam_role_additional_policies = {
    SSM = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }
}
'''


def hcl_edit(**fields) -> FileEdit:
    return FileEdit(cluster="c", from_version="0.37.8", to_version="1.0.14", file="k.tf", format="hcl",
                    document={"module": "karpenter"}, **fields)  # fmt: skip


def test_hcl_module_bump_renames_and_adds_inputs_and_stays_valid():
    edits = [
        hcl_edit(purpose="module-version", action="set", line=3, path=["version"], old="19.21.0", new="20.37.2"),
        hcl_edit(purpose="module-input", action="rename-key", line=5, path=["create_irsa"],
                 new_path=["create_iam_role"]),
        hcl_edit(purpose="module-input", action="rename-key", line=6, path=["iam_role_name"],
                 new_path=["node_iam_role_name"]),
        hcl_edit(purpose="module-input", action="rename-key", line=7, path=["iam_role_additional_policies"],
                 new_path=["node_iam_role_additional_policies"]),
        hcl_edit(purpose="module-input", action="set", line=3, path=["enable_v1_permissions"], old="", new="true"),
    ]  # fmt: skip
    text = apply_edits({"k.tf": MODULE}, edits)["k.tf"]
    body = hcl2.load(io.StringIO(text))["module"][0]['"karpenter"']
    assert body["version"] == '"20.37.2"' and body["create_iam_role"] is False
    assert body["node_iam_role_name"] == '"karpenter-node"' and "iam_role_name" not in body
    assert "node_iam_role_additional_policies" in body and body["enable_v1_permissions"] is True
    assert "create_irsa" not in body
    assert describe(edits[1]) == "k.tf:5: module karpenter: rename input create_irsa -> create_iam_role"
    assert describe(edits[4]) == "k.tf:3: module karpenter: add `enable_v1_permissions = true`"


def test_hcl_edits_refuse_a_file_that_changed():
    with pytest.raises(EditError, match="already set"):
        already = MODULE.replace('version = "19.21.0"', 'version = "19.21.0"\n  enable_v1_permissions = true')
        apply_edits({"k.tf": already},
                    [hcl_edit(purpose="module-input", action="set", line=3, path=["enable_v1_permissions"], old="",
                              new="true")])  # fmt: skip
    with pytest.raises(EditError, match="no `create_irsa =`"):
        apply_edits({"k.tf": MODULE.replace("create_irsa", "create_iam_role")},
                    [hcl_edit(purpose="module-input", action="rename-key", line=5, path=["create_irsa"],
                              new_path=["create_iam_role"])])  # fmt: skip
