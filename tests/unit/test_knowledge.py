"""The knowledge base files load against the schema and keep the source-backed facts the planner relies on."""

from __future__ import annotations

import re

import pytest

from upgradectl.tools.knowledge.loader import (
    BreakingChange,
    ToolKnowledge,
    available_tools,
    load_kubernetes,
    load_tool,
)
from upgradectl.tools.versions import Version

PREFIX = {"karpenter": "KARP-", "flux": "FLUX-", "argocd": "ARGO-", "cilium": "CIL-", "victoriametrics": "VM-"}
TOOLS = tuple(PREFIX)  # the five products the bundled knowledge base covers
from upgradectl.agents.procedures import PLACEHOLDERS  # noqa: E402


@pytest.fixture(scope="module", params=TOOLS)
def tool(request) -> ToolKnowledge:
    return load_tool(request.param)


def change(knowledge: ToolKnowledge, change_id: str) -> BreakingChange:
    found = [c for c in knowledge.breaking_changes if c.id == change_id]
    assert found, f"{knowledge.tool} has no breaking change {change_id}"
    return found[0]


def rule(knowledge: ToolKnowledge, rule_id: str):
    found = [r for r in knowledge.path_rules if r.id == rule_id]
    assert found, f"{knowledge.tool} has no path rule {rule_id}"
    return found[0]


# --- every file -------------------------------------------------------------------------------------------------


def test_all_tools_have_a_knowledge_file():
    assert set(available_tools()) == set(TOOLS)


def test_every_entry_names_its_source(tool):
    assert tool.sources and all(tool.sources)
    assert tool.chart.source
    for group in (
        tool.releases,
        tool.breaking_changes,
        tool.path_rules,
        tool.rollback_limits,
        tool.metric_renames,
        tool.gates,
    ):
        for entry in group:
            assert entry.source.strip(), f"{tool.tool}: {entry} has no source"
    for release in tool.releases:
        for override in release.kubernetes_overrides:
            assert override.source.strip()


def test_ids_prefixed_and_versions_parse(tool):
    for c in tool.breaking_changes:
        assert c.id.startswith(PREFIX[tool.tool]), c.id
        assert c.title and (c.detail or c.remediation)
        if c.applies_below:
            Version.parse(c.applies_below)
    for r in tool.path_rules:
        assert r.id.startswith(PREFIX[tool.tool]), r.id
    for limit in tool.rollback_limits:
        Version.parse(limit.version)
        if limit.rollback_to_min:
            Version.parse(limit.rollback_to_min)
    for m in tool.metric_renames:
        Version.parse(m.version)
        assert m.old and m.old != m.new


def test_releases_are_consistent(tool):
    for r in tool.releases:
        assert r.latest_patch not in r.avoid, f"{tool.tool} {r.line}: latest patch is on the avoid list"
        if r.kubernetes is not None:
            assert Version.parse(r.kubernetes.min) <= Version.parse(r.kubernetes.max)
        for override in r.kubernetes_overrides:
            assert Version.parse(override.from_patch).line == r.line


def test_gates_are_well_formed(tool):
    assert tool.gates
    names = [g.name for g in tool.gates]
    assert len(names) == len(set(names))
    for g in tool.gates:
        assert g.metric_names, g.name
        for metric in g.metric_names:
            assert metric in g.promql, f"{g.name}: {metric} not in its query"
        for bound in (g.min_version, g.max_version):
            if bound:
                Version.parse(bound)


def test_step_templates_use_known_placeholders(tool):
    procedure = tool.procedure
    steps = [*procedure.pre_checks, *procedure.upgrade, *procedure.verify, *procedure.rollback, *procedure.restore]
    assert procedure.upgrade and procedure.rollback
    for step in steps:
        for text in (step.title, step.detail, *step.commands, *step.reads, *step.writes, *step.inputs.values()):
            used = set(re.findall(r"(?<!\$)\{([A-Za-z_]+)\}", text))
            assert used <= PLACEHOLDERS, f"{tool.tool} step '{step.title}' uses {used - PLACEHOLDERS}"


# --- Karpenter ---------------------------------------------------------------------------------------------------


def test_karpenter_releases_and_kubernetes_ranges():
    k = load_tool("karpenter")
    lines = [r.line for r in k.releases]
    assert lines[0] == "0.21" and lines[-1] == "1.15"
    assert [f"0.{m}" for m in range(21, 38)] + [f"1.{m}" for m in range(16)] == lines
    # 1.15 is the newest line upstream names, but its notes were not reviewed: never a default target
    assert not k.release("1.15.0").notes_reviewed and k.release("1.15.0").kubernetes is None
    assert str(k.kube_range("0.31.5")) == "1.23-1.28"
    assert str(k.kube_range("0.24.0")) == "1.21-1.24"
    assert str(k.kube_range("0.37.8")) == "1.23-1.30"
    assert str(k.kube_range("1.0.4")) == "1.25-1.30"
    assert str(k.kube_range("1.0.5")) == "1.25-1.31"
    assert str(k.kube_range("1.5.0")) == "1.26-1.33"
    assert str(k.kube_range("1.14.1")) == "1.26-1.36"
    assert str(k.kube_range("0.28.0")) == "1.23-1.25"  # 0.28.0 misbehaves on 1.26+
    assert str(k.kube_range("0.28.1")) == "1.23-1.27"
    assert k.latest_patch("0.37.0") == "0.37.8"
    assert k.latest_patch("0.31.0") == "0.31.5"
    assert k.latest_patch("0.36.1") == "0.36.9"
    assert k.latest_patch("0.33.0") == "0.33.12"
    assert k.latest_patch("1.0.0") == "1.0.14"  # tag v1.0.14 (2026-07-15) beyond the v1-migration guide's 1.0.11
    assert k.release("1.14.0").lts and k.release("1.9.0").lts  # upstream's LTS releases, with their end dates
    assert (k.release("1.9.0").support.until, k.release("1.14.0").support.until) == ("2027-02", "2027-07")
    assert "0.29.1" in k.release("0.29.0").avoid
    assert "1.8.4" in k.release("1.8.0").avoid


def test_karpenter_chart():
    k = load_tool("karpenter")
    assert k.chart.repository == "oci://public.ecr.aws/karpenter/karpenter"
    assert k.chart.crd_chart == "oci://public.ecr.aws/karpenter/karpenter-crd"
    assert k.chart.app_version_mapping == "same"
    assert k.chart_version_for("1.14.1") == "1.14.1"
    assert any("v0.31.3" in note for note in k.chart.notes)
    assert k.install_markers == ["karpenter"] and k.image_markers == ["karpenter/controller"]


def test_karpenter_path_rules():
    k = load_tool("karpenter")
    r033 = rule(k, "KARP-RULE-033-VIA-032")
    assert r033.kind == "entry" and r033.crossing == "0.33.0" and r033.from_latest_patch
    assert r033.from_ok("0.32.10") and not r033.from_ok("0.31.5") and not r033.from_ok("0.33.1")
    r032 = rule(k, "KARP-RULE-032-FROM-0314")
    assert r032.crossed_by("0.31.5", "0.32.10")
    assert r032.from_ok("0.31.4") and not r032.from_ok("0.31.3") and not r032.from_ok("0.30.0")
    r100 = rule(k, "KARP-RULE-100-FROM-033-037")
    assert r100.crossing == "1.0.0" and r100.from_latest_patch
    assert r100.from_ok("0.33.0") and r100.from_ok("0.37.8") and not r100.from_ok("0.32.10")
    r110 = rule(k, "KARP-RULE-110-FROM-106")
    assert r110.from_ok("1.0.6") and not r110.from_ok("1.0.5")


KARPENTER_CHANGES = {
    "KARP-V1ALPHA5-PROVISIONER": ("0.33.0", "api_in_use"),
    "KARP-V1ALPHA1-AWSNODETEMPLATE": ("0.33.0", "api_in_use"),
    "KARP-V1ALPHA5-MACHINE": ("0.33.0", "api_in_use"),
    "KARP-HELM-VALUE-RENAMED": ("0.33.0", "helm_value"),
    "KARP-HELM-VALUE-REMOVED": ("0.33.0", "helm_value"),
    "KARP-GLOBAL-SETTINGS-CONFIGMAP": ("0.33.0", "object_present"),
    "KARP-PROVISIONER-NAME-SELECTOR": ("0.33.0", "label_selector_in_use"),
    "KARP-DO-NOT-EVICT-ANNOTATION": ("1.0.0", "annotation_in_use"),
    "KARP-DO-NOT-CONSOLIDATE-ANNOTATION": ("1.0.0", "annotation_in_use"),
    "KARP-V1BETA1-NODEPOOL": ("1.1.0", "api_in_use"),
    "KARP-V1BETA1-EC2NODECLASS": ("1.1.0", "api_in_use"),
    "KARP-V1BETA1-NODECLAIM": ("1.1.0", "api_in_use"),
    "KARP-STORED-VERSION-V1BETA1": ("1.1.0", "stored_version"),
    "KARP-STORED-VERSION-V1ALPHA5": ("0.33.0", "stored_version"),
    "KARP-METRICS-V1BETA1-RENAMES": ("0.32.0", "metric_used"),
    "KARP-METRICS-V1-RENAMES": ("1.0.0", "metric_used"),
    "KARP-036-PRICE-METRIC-RENAME": ("0.36.0", "metric_used"),
    "KARP-METRICS-IGNORED-POD-COUNT": ("1.3.0", "metric_used"),
    "KARP-METRICS-PODS-DRAINED-RENAME": ("1.7.0", "metric_used"),
    "KARP-METRICS-REASON-SNAKE-CASE": ("1.2.0", "metric_used"),
    "KARP-V1-AMISELECTORTERMS-REQUIRED": ("1.0.0", "field_value"),
    "KARP-034-UBUNTU-K8S-129": ("0.34.0", "field_value"),
    "KARP-033-COMMA-SELECTOR-TAGS": ("0.33.0", "field_value"),
    "KARP-V1-NODEPOOL-API-CHANGES": ("1.0.0", "field_value"),
    "KARP-V1-KUBELET-TO-EC2NODECLASS": ("1.0.0", "field_value"),
}
KARPENTER_NOTES = {  # procedure notes without a detector
    "KARP-028-MACHINE-CRD": "0.28.0",
    "KARP-034-DISRUPTION-BUDGETS-CRDS": "0.34.0",
    "KARP-037-EC2NODECLASS-READINESS": "0.37.0",
    "KARP-V1-MIGRATION-PROCEDURE": "1.0.0",
    "KARP-V1-EXPIRE-AFTER": "1.0.0",
    "KARP-033-IAM-CREATETAGS": "0.33.0",
    "KARP-V1-IAM-POLICY": "1.0.0",
    "KARP-ODCR-DEFAULT": "1.6.0",
    "KARP-IAM-LIST-INSTANCE-PROFILES": "1.7.0",
    "KARP-CA-BUNDLE-DRIFT": "1.12.0",
    "KARP-CAPACITY-BUFFERS-CRD": "1.14.0",
}


@pytest.mark.parametrize("change_id", sorted(KARPENTER_CHANGES))
def test_karpenter_detected_changes(change_id):
    version, kind = KARPENTER_CHANGES[change_id]
    c = change(load_tool("karpenter"), change_id)
    assert c.version == version
    assert c.detector is not None and c.detector.kind == kind


@pytest.mark.parametrize("change_id", sorted(KARPENTER_NOTES))
def test_karpenter_procedure_notes(change_id):
    c = change(load_tool("karpenter"), change_id)
    assert c.version == KARPENTER_NOTES[change_id] and c.detector is None


def test_karpenter_detector_details():
    k = load_tool("karpenter")
    prov = change(k, "KARP-V1ALPHA5-PROVISIONER").detector
    assert (prov.api_version, prov.resource_kind) == ("karpenter.sh/v1alpha5", "Provisioner")
    assert change(k, "KARP-V1ALPHA5-PROVISIONER").severity in ("high", "critical")
    assert "karpenter-convert" in change(k, "KARP-V1ALPHA5-PROVISIONER").remediation
    renames = change(k, "KARP-HELM-VALUE-RENAMED").detector.renames
    for key in (
        "clusterName",
        "clusterEndpoint",
        "clusterCABundle",
        "isolatedVPC",
        "vmMemoryOverheadPercent",
        "reservedENIs",
        "assumeRoleARN",
    ):
        assert renames[f"settings.aws.{key}"] == f"settings.{key}"
    assert renames["settings.aws.interruptionQueueName"] == "settings.interruptionQueue"
    assert renames["settings.featureGates.driftEnabled"] == "settings.featureGates.drift"
    assert renames["logEncoding"] == "logConfig.logEncoding"
    removed = change(k, "KARP-HELM-VALUE-REMOVED").detector.renames
    assert removed == {
        f"settings.aws.{key}": ""
        for key in ("defaultInstanceProfile", "enablePodENI", "enableENILimitedPodDensity", "tags")
    }
    cm = change(k, "KARP-GLOBAL-SETTINGS-CONFIGMAP").detector
    assert (cm.resource_kind, cm.name) == ("ConfigMap", "karpenter-global-settings")
    assert change(k, "KARP-PROVISIONER-NAME-SELECTOR").detector.label == "karpenter.sh/provisioner-name"
    assert change(k, "KARP-DO-NOT-EVICT-ANNOTATION").detector.annotation == "karpenter.sh/do-not-evict"
    stored = change(k, "KARP-STORED-VERSION-V1BETA1").detector
    assert (stored.crd, stored.stored_version) == ("nodepools.karpenter.sh", "v1beta1")
    alpha = change(k, "KARP-STORED-VERSION-V1ALPHA5").detector
    assert (alpha.crd, alpha.stored_version) == ("provisioners.karpenter.sh", "v1alpha5")
    v1 = change(k, "KARP-METRICS-V1-RENAMES").detector.renames
    assert v1["karpenter_pods_startup_time_seconds"] == "karpenter_pods_startup_duration_seconds"
    assert v1["karpenter_disruption_actions_performed_total"] == "karpenter_voluntary_disruption_decisions_total"
    assert v1["karpenter_interruption_message_latency_time_seconds"] == (
        "karpenter_interruption_message_queue_duration_seconds"
    )
    assert v1["karpenter_disruption_budgets_allowed_disruptions"] == "karpenter_nodepools_allowed_disruptions"
    beta = change(k, "KARP-METRICS-V1BETA1-RENAMES").detector.renames
    assert beta["karpenter_machines_created"] == "karpenter_nodeclaims_created"
    assert beta["karpenter_provisioners_usage"] == "karpenter_nodepools_usage"
    assert beta["karpenter_deprovisioning_actions_performed"] == "karpenter_disruption_actions_performed_total"


def test_karpenter_changes_crossed_follow_the_path():
    k = load_tool("karpenter")
    hop = {c.id for c in k.changes_crossed("0.32.10", "0.33.12")}
    assert {"KARP-V1ALPHA5-PROVISIONER", "KARP-HELM-VALUE-RENAMED", "KARP-GLOBAL-SETTINGS-CONFIGMAP"} <= hop
    assert "KARP-DO-NOT-EVICT-ANNOTATION" not in hop
    assert "KARP-STORED-VERSION-V1BETA1" in {c.id for c in k.changes_crossed("1.0.10", "1.1.9")}


def test_karpenter_rollback_limits_and_renames():
    k = load_tool("karpenter")
    limits = {r.version: r for r in k.rollback_limits}
    assert limits["0.32.0"].rollback_to_min == "0.31.4"
    assert limits["0.36.0"].rollback_to_min == "0.32.9"
    assert "0.33.4" in limits["0.36.0"].description and "0.35.4" in limits["0.36.0"].description
    assert limits["1.0.0"].rollback_to_min == "0.33.12"
    assert "0.37.7" in limits["1.0.0"].description and "webhooks" in limits["1.0.0"].description
    assert limits["1.1.0"].rollback_to_min == "1.0.0"
    renames = {(m.version, m.old): m.new for m in k.metric_renames}
    assert renames[("1.0.0", "karpenter_nodes_created")] == "karpenter_nodes_created_total"
    assert renames[("0.36.0", "karpenter_cloudprovider_instance_type_price_estimate")] == (
        "karpenter_cloudprovider_instance_type_offering_price_estimate"
    )
    assert renames[("1.7.0", "karpenter_pods_pods_drained_total")] == "karpenter_pods_drained_total"
    assert renames[("0.32.0", "karpenter_machines_created")] == "karpenter_nodeclaims_created"
    assert [m for m in k.metric_renames if m.version == "1.3.0"][0].uncertain


def test_karpenter_gates_by_version():
    k = load_tool("karpenter")
    old = {g.name: g for g in k.gates_for("0.37.8")}
    new = {g.name: g for g in k.gates_for("1.14.1")}
    old_metrics = {m for g in old.values() for m in g.metric_names}
    new_metrics = {m for g in new.values() for m in g.metric_names}
    pre_v1, v1 = "karpenter_pods_startup_time_seconds", "karpenter_pods_startup_duration_seconds"
    assert pre_v1 in old_metrics and v1 not in old_metrics
    assert v1 in new_metrics and pre_v1 not in new_metrics
    assert "karpenter_nodes_created" in old_metrics and "karpenter_nodes_created_total" in new_metrics
    assert "karpenter_deprovisioning_actions_performed" in {m for g in k.gates_for("0.31.5") for m in g.metric_names}
    for version, gates in (("0.37.8", old), ("1.14.1", new)):
        seeds = {g.seed_test for g in gates.values()}
        assert {"scaling_performance", "spot_interruption_handling", "mixed_workload_packing"} <= seeds, version
    startup = [g for g in new.values() if g.seed_test == "scaling_performance"][0]
    assert 'quantile="0.99"' in startup.promql and startup.relative_to_baseline
    cloud = new["karpenter-cloudprovider-errors"]
    assert cloud.relative_to_baseline and cloud.threshold == pytest.approx(0.2)  # allowed relative change


def test_relative_thresholds_are_relative_changes(tool):
    for g in tool.gates:
        if g.relative_to_baseline:
            assert -1 <= g.threshold <= 1, f"{g.name}: {g.threshold} is not a relative change"
            assert g.comparison in ("<", "<=", ">", ">=")


def test_karpenter_iam_and_chart_spelling():
    k = load_tool("karpenter")
    assert k.cycles_nodes and k.prefix == "KARP"
    assert k.chart.spell("0.34.13") == "v0.34.13" and k.chart.spell("0.35.12") == "0.35.12"
    actions = {a: r.version for r in k.iam_requirements for a in r.actions}
    assert actions["ec2:CreateTags"] == "0.33.0"
    assert actions["iam:ListInstanceProfiles"] == "1.7.0"
    assert actions["ec2:DescribeInstanceStatus"] == "1.12.0"
    assert [r.version for r in k.iam_crossed("1.6.4", "1.12.2")] == ["1.7.0", "1.11.0", "1.12.0"]


def test_karpenter_procedure_commands():
    k = load_tool("karpenter")
    commands = " ".join(c for s in k.procedure.upgrade for c in s.commands)
    crd = "helm upgrade --install karpenter-crd oci://public.ecr.aws/karpenter/karpenter-crd --version {to}"
    assert crd in commands
    assert "oci://public.ecr.aws/karpenter/karpenter --version {to}" in commands
    checks = " ".join(c for s in k.procedure.pre_checks for c in s.commands)
    assert "storedVersions" in checks and "helm get values" in checks and "karpenter-convert" in checks
    assert k.procedure.disruptive is False


# --- Flux --------------------------------------------------------------------------------------------------------


FLUX_REMOVALS = {
    ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease"): "2.7.0",
    ("helm.toolkit.fluxcd.io/v2beta2", "HelmRelease"): "2.8.0",
    ("kustomize.toolkit.fluxcd.io/v1beta1", "Kustomization"): "2.7.0",
    ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization"): "2.8.0",
    ("source.toolkit.fluxcd.io/v1beta1", "GitRepository"): "2.7.0",
    ("source.toolkit.fluxcd.io/v1beta2", "OCIRepository"): "2.8.0",
    ("source.toolkit.fluxcd.io/v1beta2", "HelmRepository"): "2.8.0",
    ("image.toolkit.fluxcd.io/v1beta1", "ImagePolicy"): "2.7.0",
    ("image.toolkit.fluxcd.io/v1beta2", "ImageUpdateAutomation"): "2.9.0",
    ("notification.toolkit.fluxcd.io/v1beta1", "Alert"): "2.7.0",
    ("notification.toolkit.fluxcd.io/v1beta2", "Provider"): "2.9.0",
}


def test_flux_api_removals():
    k = load_tool("flux")
    api = {
        (c.detector.api_version, c.detector.resource_kind): c
        for c in k.breaking_changes
        if c.detector and c.detector.kind == "api_in_use"
    }
    for key, version in FLUX_REMOVALS.items():
        assert api[key].version == version, key
    assert change(k, "FLUX-HELMRELEASE-V2BETA1-REMOVED").version == "2.7.0"
    stored = {
        (c.detector.crd, c.detector.stored_version): c.version
        for c in k.breaking_changes
        if c.detector and c.detector.kind == "stored_version"
    }
    assert stored[("helmreleases.helm.toolkit.fluxcd.io", "v2beta1")] == "2.7.0"
    assert stored[("kustomizations.kustomize.toolkit.fluxcd.io", "v1beta2")] == "2.8.0"
    assert len(stored) == len(api)


def test_flux_paths_procedure_and_chart():
    k = load_tool("flux")
    assert k.path_rules == []
    migrate = [s for s in k.procedure.pre_checks if any(c.startswith("flux migrate") for c in s.commands)]
    assert migrate and all(s.when == "crosses_minor" for s in migrate)
    assert str(k.kube_range("2.7.5")) == "1.32-1.34" and str(k.kube_range("2.0.1")) == "1.24-1.27"
    assert k.chart.name == "flux2" and k.chart.app_version_mapping == "table"
    assert any("no first-party" in n.lower() for n in k.chart.notes)
    fields = change(k, "FLUX-23-HELMRELEASE-V2-FIELDS").detector
    assert fields.kind == "field_value" and fields.resource_kind == "HelmRelease"
    assert "spec.chart.spec.valuesFile" in fields.field.split("|")
    limits = {r.version for r in k.rollback_limits}
    assert {"2.7.0", "2.8.0", "2.9.0"} <= limits


# --- Argo CD -----------------------------------------------------------------------------------------------------


def test_argocd_facts():
    k = load_tool("argocd")
    assert k.path_rules == []
    assert str(k.kube_range("2.8.21")) == "1.24-1.27" and str(k.kube_range("3.5.0")) == "1.33-1.36"
    assert "2.14.0" in k.release("2.14.1").avoid
    metrics = change(k, "ARGO-LEGACY-APP-METRICS-REMOVED")
    assert metrics.version == "3.0.0" and "argocd_app_sync_status" in metrics.detector.metrics
    repos = change(k, "ARGO-LEGACY-REPO-CONFIG").detector
    assert repos.kind == "config_key" and repos.name == "argocd-cm" and "repository.credentials" in repos.keys
    assert "configs.cm.repositories" in change(k, "ARGO-LEGACY-REPO-CONFIG-HELM-VALUES").detector.keys
    assert k.chart.app_version_mapping == "table"
    assert k.app_version_for_chart("10.1.1") == "3.4.4" and k.app_version_for_chart("8.0.0") == "3.0.0"
    # argo-helm's index.yaml: charts 8.0.0 and 8.0.1 both ship v3.0.0; the newer chart is the one to install
    assert k.chart_version_for("3.0.0") == "8.0.1"
    assert k.chart_version_for("3.0.23") == ""  # no argo-cd chart ships 3.0.23: unknown, never a guess
    assert all(r.uncertain for r in k.rollback_limits)
    seeds = {g.seed_test for g in k.gates}
    assert {"large_application_sync", "sync_performance"} <= seeds


# --- Cilium ------------------------------------------------------------------------------------------------------


def test_cilium_facts():
    k = load_tool("cilium")
    (one,) = k.path_rules
    assert one.kind == "max_minor_step" and one.max_minor_step == 1 and one.from_latest_patch
    kpr = change(k, "CIL-KPR-STRING-MODES-REMOVED")
    assert kpr.version == "1.16.0" and kpr.detector.kind == "helm_value"
    assert kpr.detector.keys == ["kubeProxyReplacement"]
    assert "true/false" in kpr.detail
    tunnel = change(k, "CIL-TUNNEL-REMOVED")
    assert tunnel.version == "1.15.0" and "tunnel" in tunnel.detector.watched_keys()
    bgp = change(k, "CIL-BGPV1-REMOVED").detector
    assert (bgp.api_version, bgp.resource_kind) == ("cilium.io/v2alpha1", "CiliumBGPPeeringPolicy")
    assert change(k, "CIL-BGPV1-REMOVED").version == "1.19.0"
    assert change(k, "CIL-EXTERNAL-WORKLOADS-REMOVED").version == "1.18.0"
    assert k.chart.app_version_mapping == "same" and k.procedure.disruptive
    assert str(k.kube_range("1.16.19")) == "1.27-1.30"
    assert {"networking_impact", "network_performance"} <= {g.seed_test for g in k.gates}
    metric_changes = {c.id for c in k.breaking_changes if c.detector and c.detector.kind == "metric_used"}
    assert "CIL-METRICS-115-POLICY" in metric_changes


# --- VictoriaMetrics ---------------------------------------------------------------------------------------------


def test_victoriametrics_facts():
    k = load_tool("victoriametrics")
    assert all(r.kubernetes is None for r in k.releases)
    assert k.chart.kube_version == ">=1.25.0-0" and k.chart.app_version_mapping == "table"
    assert k.chart_version_for("1.150.0") == "0.91.2" and k.app_version_for_chart("0.25.17") == "1.102.1"
    (entry,) = k.path_rules
    assert entry.crossing == "1.85.0" and entry.applies_if_from_below == "1.28.0"
    assert entry.from_ok("1.84.0") and not entry.from_ok("1.83.0")
    assert entry.applies("1.27.5") and not entry.applies("1.50.0")
    below = {c.id for c in k.changes_crossed("1.84.0", "1.86.2", path_start="1.20.0")}
    above = {c.id for c in k.changes_crossed("1.84.0", "1.86.2", path_start="1.50.0")}
    assert "VM-185-FROM-BELOW-128" in below and "VM-185-FROM-BELOW-128" not in above
    limits = {r.version: r for r in k.rollback_limits}
    assert limits["1.90.0"].irreversible and {"1.92.0", "1.133.0"} <= set(limits)
    for cid in ("VM-STACK-029-VMAUTH-SPEC", "VM-STACK-035-EXTERNAL-VM", "VM-STACK-039-PROM-OPERATOR-CRDS"):
        assert change(k, cid).detector.kind == "helm_value"
    assert change(k, "VM-STACK-035-EXTERNAL-VM").detector.renames["externalVM"] == "external.vm"
    renames = {(m.version, m.old): m.new for m in k.metric_renames}
    assert renames[("1.114.0", "vm_mmaped_files")] == "vm_mmapped_files"
    assert any(v == "1.86.0" for v, _ in renames)
    seeds = {g.seed_test for g in k.gates}
    assert {"query_performance", "high_cardinality_metrics", "historical_data_integrity"} <= seeds


# --- uncertainty carried over from KNOWLEDGE.md (?) marks --------------------------------------------------------


def test_knowledge_question_marks_stay_uncertain():
    karp = load_tool("karpenter")
    assert all(r.uncertain for r in karp.releases if Version.parse(r.line) >= Version.parse("1.1"))  # K8s min for 1.1+
    assert change(karp, "KARP-METRICS-IGNORED-POD-COUNT").uncertain
    flux = load_tool("flux")
    assert change(flux, "FLUX-OBJECT-METRICS-REMOVED").uncertain
    assert all(m.uncertain for m in flux.metric_renames if m.old == "gotk_reconcile_condition")
    assert any(r.uncertain and "5689" in r.source for r in flux.rollback_limits)
    argocd = load_tool("argocd")
    assert argocd.rollback_limits and all(r.uncertain for r in argocd.rollback_limits)
    cilium = load_tool("cilium")
    assert cilium.release("1.19.0").uncertain
    vm = load_tool("victoriametrics")
    assert change(vm, "VM-189-ROLLUP-CACHE-PANIC").uncertain
    assert change(vm, "VM-1140-METRICSQL-BINOP-ORDER").uncertain


def test_uncertain_entries_explain_themselves(tool):
    for r in tool.releases:
        if r.uncertain:
            assert r.notes, f"{tool.tool} {r.line} is uncertain without a note"


# --- Kubernetes --------------------------------------------------------------------------------------------------


SECTION_0 = [
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", "1.22"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "1.22"),
    ("apiregistration.k8s.io/v1beta1", "APIService", "1.22"),
    ("authentication.k8s.io/v1beta1", "TokenReview", "1.22"),
    ("authorization.k8s.io/v1beta1", "SubjectAccessReview", "1.22"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest", "1.22"),
    ("coordination.k8s.io/v1beta1", "Lease", "1.22"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "1.22"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass", "1.22"),
    ("storage.k8s.io/v1beta1", "CSIDriver", "1.22"),
    ("storage.k8s.io/v1beta1", "CSINode", "1.22"),
    ("storage.k8s.io/v1beta1", "StorageClass", "1.22"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment", "1.22"),
    ("extensions/v1beta1", "Ingress", "1.22"),
    ("networking.k8s.io/v1beta1", "Ingress", "1.22"),
    ("networking.k8s.io/v1beta1", "IngressClass", "1.22"),
    ("batch/v1beta1", "CronJob", "1.25"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice", "1.25"),
    ("events.k8s.io/v1beta1", "Event", "1.25"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25"),
    ("policy/v1beta1", "PodDisruptionBudget", "1.25"),
    ("policy/v1beta1", "PodSecurityPolicy", "1.25"),
    ("node.k8s.io/v1beta1", "RuntimeClass", "1.25"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "1.26"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", "1.29"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32"),
]


def test_kubernetes_removals():
    kube = load_kubernetes()
    by_key = {(r.api_version, r.kind): r for r in kube.removals}
    assert len(by_key) == len(kube.removals), "one entry per (api_version, kind)"
    for api_version, kind, removed in SECTION_0:
        assert by_key[(api_version, kind)].removed_in == removed, (api_version, kind)
    assert by_key[("policy/v1beta1", "PodSecurityPolicy")].replacement == ""
    assert by_key[("batch/v1beta1", "CronJob")].replacement == "batch/v1"
    assert by_key[("extensions/v1beta1", "Deployment")].removed_in == "1.16"
    assert not [r for r in kube.removals if "cert-manager" in r.api_version or "istio" in r.api_version]
    assert all(r.source for r in kube.removals)
    assert any("FairwindsOps/pluto: versions.yaml @ v5.24.0" in r.source for r in kube.removals)
    for r in kube.removals:
        if r.deprecated_in:
            assert Version.parse(r.deprecated_in) <= Version.parse(r.removed_in)
