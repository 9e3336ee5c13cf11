"""Detectors that read tool configuration and node facts: Argo CD's ConfigMaps (RBAC policy lines, Dex,
resource tracking), node kernels for Cilium 1.18, container flags for vmagent, node class fields for
Karpenter. Each runs end to end through `upgradectl plan` on a copy of the demo fleet with the one fact
changed, and is checked both ways: the changed fact is found with its evidence, the unchanged fleet is not."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from run_cli import upgradectl

from upgradectl.tools.analysis.detectors import field_values


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    demo = Path(str(resources.files("upgradectl") / "demo_fleet"))
    copy = tmp_path / "fleet"
    shutil.copytree(demo, copy)
    return copy


def edit_objects(fleet: Path, cluster: str, rel: str, name: str, change) -> None:
    """Apply `change` to the named object of one recorded list file (resources/<group>/<version>/<plural>)."""
    path = fleet / "clusters" / cluster / "resources" / rel
    doc = yaml.safe_load(path.read_text())
    hits = [o for o in doc["items"] if o["metadata"]["name"] == name]
    assert hits, f"{name} not in {path}"
    for obj in hits:
        change(obj)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def plan(fleet: Path, *args: str) -> dict[str, Any]:
    result = upgradectl("plan", *args, "--fleet", str(fleet), "--format", "json")
    assert result.returncode in (0, 1, 3), result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def found(p: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in p["findings"] if f["code"] == code]


def test_argocd_30_reads_rbac_policy_lines_dex_and_tracking_method(fleet):
    secret = "dex-literal-client-secret-9f2c"

    def rbac(obj):
        obj["data"]["policy.csv"] += "p, role:deployer, applications, update, */*, allow\n"

    def argocd_cm(obj):
        obj["data"]["dex.config"] = f"connectors:\n- type: github\n  config:\n    clientSecret: {secret}\n"

    before = plan(fleet, "--tool", "argocd", "--to", "3.0")
    assert not found(before, "ARGO-RBAC-FINE-GRAINED-SUBRESOURCES")  # the demo grants only sync
    assert not found(before, "ARGO-DEX-RBAC-SUBJECT")  # and has no Dex
    tracking = found(before, "ARGO-ANNOTATION-TRACKING-DEFAULT")
    assert [f["subject"]["cluster"] for f in tracking] == ["keystone"]
    assert "application.resourceTrackingMethod is not set" in tracking[0]["evidence"][0]["excerpt"]

    edit_objects(fleet, "keystone", "core/v1/configmaps.yaml", "argocd-rbac-cm", rbac)
    edit_objects(fleet, "keystone", "core/v1/configmaps.yaml", "argocd-cm", argocd_cm)
    after = plan(fleet, "--tool", "argocd", "--to", "3.0")
    grant = found(after, "ARGO-RBAC-FINE-GRAINED-SUBRESOURCES")
    assert len(grant) == 1
    assert grant[0]["evidence"][0]["excerpt"] == "policy.csv: p, role:deployer, applications, update, */*, allow"
    dex = found(after, "ARGO-DEX-RBAC-SUBJECT")
    assert len(dex) == 1 and dex[0]["evidence"][0]["excerpt"] == "dex.config: connectors:"
    assert secret not in json.dumps(after)  # the matched line is shown, never the rest of the value

    def annotation(obj):
        obj["data"]["application.resourceTrackingMethod"] = "annotation"

    edit_objects(fleet, "keystone", "core/v1/configmaps.yaml", "argocd-cm", annotation)
    assert not found(plan(fleet, "--tool", "argocd", "--to", "3.0"), "ARGO-ANNOTATION-TRACKING-DEFAULT")


def test_cilium_118_names_nodes_below_kernel_510_and_exempts_rhel_810(fleet):
    nodes = yaml.safe_load((fleet / "clusters/ravan/resources/core/v1/nodes.yaml").read_text())["items"]
    old, rhel = nodes[0]["metadata"]["name"], nodes[1]["metadata"]["name"]

    def kernel(version, image):
        def change(obj):
            obj["status"]["nodeInfo"].update({"kernelVersion": version, "osImage": image})

        return change

    assert not found(plan(fleet, "--tool", "cilium", "--to", "1.18", "--clusters", "ravan"), "CIL-118-KERNEL-510")
    edit_objects(fleet, "ravan", "core/v1/nodes.yaml", old, kernel("4.14.336-257.562.amzn2.x86_64", "Amazon Linux 2"))
    edit_objects(fleet, "ravan", "core/v1/nodes.yaml", rhel,
                 kernel("4.18.0-553.el8_10.x86_64", "Red Hat Enterprise Linux 8.10 (Ootpa)"))
    hit = found(plan(fleet, "--tool", "cilium", "--to", "1.18", "--clusters", "ravan"), "CIL-118-KERNEL-510")
    assert len(hit) == 1 and hit[0]["severity"] == "high"
    excerpt = hit[0]["evidence"][0]["excerpt"]
    assert excerpt.startswith("1 node(s) below kernel 5.10: ") and old in excerpt and "4.14.336" in excerpt
    assert rhel not in excerpt  # RHEL 8.10's 4.18 kernel is the documented exception


def test_vmagent_removed_flag_is_found_in_the_running_deployment(fleet):
    def flag(obj):
        obj["spec"]["template"]["spec"]["containers"][0].setdefault("args", []).append(
            "-remoteWrite.multitenantURL=http://vminsert:8480"
        )

    assert not found(plan(fleet, "--tool", "victoriametrics"), "VM-1102-FLAGS")
    edit_objects(fleet, "monitor", "apps/v1/deployments.yaml", "vmagent-victoria-metrics-k8s-stack", flag)
    hit = found(plan(fleet, "--tool", "victoriametrics"), "VM-1102-FLAGS")
    assert [(f["subject"]["cluster"], f["subject"]["name"]) for f in hit] == [
        ("monitor", "vmagent-victoria-metrics-k8s-stack")
    ]
    assert hit[0]["evidence"][0]["excerpt"].endswith("-remoteWrite.multitenantURL=http://vminsert:8480")


def test_field_paths_walk_lists_and_skip_missing_parts():
    obj = {"spec": {"template": {"spec": {"containers": [{"args": ["-a", "-b"]}, {"name": "x"}, {"args": ["-c"]}]}}}}
    assert field_values(obj, "spec.template.spec.containers[].args[]") == ["-a", "-b", "-c"]
    assert field_values(obj, "spec.missing[].x") == []
    assert field_values({"spec": {"amiFamily": "Ubuntu"}}, "spec.amiFamily") == ["Ubuntu"]
    terms = {"spec": {"terms": [{"tags": {"a": "x,y", "b": "z"}}, {"tags": "not-a-map"}]}}
    assert field_values(terms, "spec.terms[].tags{}") == ["x,y", "z"]


def test_karpenter_ubuntu_node_template_is_found_in_cluster_and_git_with_its_line(fleet):
    def ubuntu(obj):
        obj["spec"]["amiFamily"] = "Ubuntu"

    assert not found(plan(fleet, "--tool", "karpenter", "--clusters", "ravan"), "KARP-034-UBUNTU-K8S-129")
    edit_objects(fleet, "ravan", "karpenter.k8s.aws/v1alpha1/awsnodetemplates.yaml", "batch", ubuntu)
    git = fleet / "infra-flux/infrastructure/karpenter/ravan/awsnodetemplate-batch.yaml"
    git.write_text(git.read_text().replace("amiFamily: AL2", "amiFamily: Ubuntu"))
    hits = found(plan(fleet, "--tool", "karpenter", "--clusters", "ravan"), "KARP-034-UBUNTU-K8S-129")
    where = {(f["evidence"][0]["source"], f["evidence"][0]["ref"]) for f in hits}
    assert ("cluster", "ravan: karpenter.k8s.aws/v1alpha1 AWSNodeTemplate batch") in where
    assert ("gitops", "infrastructure/karpenter/ravan/awsnodetemplate-batch.yaml:11") in where
    assert all(f["evidence"][0]["excerpt"] == "spec.amiFamily: Ubuntu" for f in hits)


def test_flux_23_finds_helmrelease_fields_v2_drops_in_cluster_and_git(fleet):
    def post_renderer(obj):
        obj["spec"]["postRenderers"] = [{"kustomize": {"patchesStrategicMerge": [{"kind": "Deployment"}]}}]

    assert not found(plan(fleet, "--tool", "flux"), "FLUX-23-HELMRELEASE-V2-FIELDS")
    edit_objects(fleet, "keystone", "helm.toolkit.fluxcd.io/v2beta2/helmreleases.yaml", "argo-cd", post_renderer)
    git = fleet / "infra-flux/infrastructure/cilium/ravan/helmrelease.yaml"
    chart = "      chart: cilium\n"
    git.write_text(git.read_text().replace(chart, chart + "      valuesFile: prod.yaml\n"))
    hits = found(plan(fleet, "--tool", "flux"), "FLUX-23-HELMRELEASE-V2-FIELDS")
    excerpts = {f["evidence"][0]["ref"]: f["evidence"][0]["excerpt"] for f in hits}
    assert excerpts["infrastructure/cilium/ravan/helmrelease.yaml:14"] == "spec.chart.spec.valuesFile: prod.yaml"
    live = "keystone: helm.toolkit.fluxcd.io/v2beta2 HelmRelease flux-system/argo-cd"
    assert excerpts[live] == 'spec.postRenderers[].kustomize.patchesStrategicMerge: [{"kind":"Deployment"}]'


def test_karpenter_comma_selector_tags_in_an_ec2nodeclass_in_git(fleet):
    folder = fleet / "infra-flux/infrastructure/karpenter/ravan"
    (folder / "ec2nodeclass-default.yaml").write_text(
        "apiVersion: karpenter.k8s.aws/v1beta1\nkind: EC2NodeClass\nmetadata:\n  name: default\nspec:\n"
        "  amiFamily: AL2\n  role: KarpenterNodeRole-ravan\n  subnetSelectorTerms:\n"
        "  - tags:\n      karpenter.sh/discovery: ravan\n  securityGroupSelectorTerms:\n"
        "  - tags:\n      Name: ravan-node,ravan-shared\n"
    )
    kustomization = folder / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "- ec2nodeclass-default.yaml\n")
    p = plan(fleet, "--tool", "karpenter", "--clusters", "ravan")
    hits = found(p, "KARP-033-COMMA-SELECTOR-TAGS")
    assert [(f["evidence"][0]["ref"], f["evidence"][0]["excerpt"]) for f in hits] == [
        ("infrastructure/karpenter/ravan/ec2nodeclass-default.yaml:13",
         "spec.securityGroupSelectorTerms[].tags{}: ravan-node,ravan-shared")
    ]
    assert not found(p, "KARP-V1-AMISELECTORTERMS-REQUIRED")  # only the Ubuntu case upstream names is flagged
    node_class = folder / "ec2nodeclass-default.yaml"
    node_class.write_text(node_class.read_text().replace("amiFamily: AL2", "amiFamily: Ubuntu"))
    ubuntu = found(plan(fleet, "--tool", "karpenter", "--clusters", "ravan"), "KARP-V1-AMISELECTORTERMS-REQUIRED")
    assert [(f["evidence"][0]["ref"], f["evidence"][0]["excerpt"]) for f in ubuntu] == [
        ("infrastructure/karpenter/ravan/ec2nodeclass-default.yaml:6", "spec.amiFamily: Ubuntu")
    ]


def test_argocd_30_logs_rbac_only_without_a_readonly_or_admin_default(fleet):
    """The demo sets server.rbac.log.enforce.enable 'false' but policy.default role:readonly: unaffected.
    Without the default role, the same flag makes it affected."""
    assert not found(plan(fleet, "--tool", "argocd", "--to", "3.0"), "ARGO-LOGS-RBAC-ENFORCED")

    def no_default(obj):
        del obj["data"]["policy.default"]

    edit_objects(fleet, "keystone", "core/v1/configmaps.yaml", "argocd-rbac-cm", no_default)
    hit = found(plan(fleet, "--tool", "argocd", "--to", "3.0"), "ARGO-LOGS-RBAC-ENFORCED")
    assert [f["evidence"][0]["excerpt"] for f in hit] == ["server.rbac.log.enforce.enable: false"]


def test_karpenter_v1_nodepool_consolidation_policy_and_kubelet_in_git(fleet):
    folder = fleet / "infra-flux/infrastructure/karpenter/ravan"
    (folder / "nodepool-general.yaml").write_text(
        "apiVersion: karpenter.sh/v1beta1\nkind: NodePool\nmetadata:\n  name: general\nspec:\n"
        "  template:\n    spec:\n      nodeClassRef:\n        name: default\n      kubelet:\n        maxPods: 110\n"
        "  disruption:\n    consolidationPolicy: WhenUnderutilized\n"
    )
    kustomization = folder / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "- nodepool-general.yaml\n")
    p = plan(fleet, "--tool", "karpenter", "--clusters", "ravan")
    policy = found(p, "KARP-V1-NODEPOOL-API-CHANGES")
    assert [(f["evidence"][0]["ref"], f["evidence"][0]["excerpt"]) for f in policy] == [
        ("infrastructure/karpenter/ravan/nodepool-general.yaml:13",
         "spec.disruption.consolidationPolicy: WhenUnderutilized")
    ]
    kubelet = found(p, "KARP-V1-KUBELET-TO-EC2NODECLASS")
    assert [(f["evidence"][0]["ref"], f["evidence"][0]["excerpt"]) for f in kubelet] == [
        ("infrastructure/karpenter/ravan/nodepool-general.yaml:10", 'spec.template.spec.kubelet: {"maxPods":110}')
    ]
