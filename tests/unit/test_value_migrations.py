"""Value-aware Helm value migrations, judged against Cilium's upgrade notes: tunnel=disabled became
routing-mode=native (tunnel=vxlan|geneve became tunnel-protocol), the string kube-proxy-replacement modes became
true/false, and native routing with IPv4 masquerading needs ipv4-native-routing-cidr unless the IPAM mode (eni,
alibabacloud) or ip-masq-agent provides it (the agent's checkIPv4NativeRoutingCIDR)."""

from __future__ import annotations

from upgradectl.agents.value_migrations import migration_edits, plan_migration, yq_expression
from upgradectl.tools.gitops.changes import apply_edits, describe
from upgradectl.tools.knowledge.loader import load_tool


def detector(change_id: str):
    return next(c.detector for c in load_tool("cilium").breaking_changes if c.id == change_id)


TUNNEL = detector("CIL-TUNNEL-REMOVED")
KPR = detector("CIL-KPR-STRING-MODES-REMOVED")
COMMON = {"cluster": "c1", "from_version": "1.14.19", "to_version": "1.15.19", "file": "hr.yaml", "format": "yaml",
          "values_root": ["spec", "values"]}  # fmt: skip


def test_tunnel_disabled_is_native_routing_and_keeps_no_tunnel_protocol():
    plan = plan_migration(TUNNEL, "tunnel", {"tunnel": "disabled", "enableIPv4Masquerade": False})
    assert plan.sets == {"routingMode": "native"} and plan.automatic and plan.missing == []
    text = "spec:\n  values:\n    tunnel: disabled  # datapath\n    enableIPv4Masquerade: false\n"
    after = apply_edits({"hr.yaml": text}, migration_edits(plan, COMMON, editable=True))["hr.yaml"]
    assert after == "spec:\n  values:\n    routingMode: native  # datapath\n    enableIPv4Masquerade: false\n"
    assert "tunnelProtocol" not in after


def test_native_routing_with_masquerade_needs_the_cidr_and_pauses_for_it():
    plan = plan_migration(TUNNEL, "tunnel", {"tunnel": "disabled"})  # masquerading is on by default
    assert [r.key for r in plan.missing] == ["ipv4NativeRoutingCIDR"] and not plan.automatic
    edits = migration_edits(plan, COMMON, editable=True)
    manual = [e for e in edits if e.action == "manual"]
    assert [e.path for e in manual] == [["ipv4NativeRoutingCIDR"]]
    assert "set ipv4NativeRoutingCIDR" in describe(manual[0])
    # already set, or provided by ENI IPAM: nothing more to do
    assert plan_migration(TUNNEL, "tunnel", {"tunnel": "disabled", "ipv4NativeRoutingCIDR": "10.0.0.0/8"}).automatic
    assert plan_migration(TUNNEL, "tunnel", {"tunnel": "disabled", "ipam": {"mode": "eni"}}).automatic


def test_tunnel_vxlan_moves_to_tunnel_protocol_with_the_same_value():
    plan = plan_migration(TUNNEL, "tunnel", {"tunnel": "vxlan"})
    assert plan.sets == {"tunnelProtocol": "vxlan"}
    text = "spec:\n  values:\n    tunnel: vxlan\n"
    after = apply_edits({"hr.yaml": text}, migration_edits(plan, COMMON, editable=True))["hr.yaml"]
    assert after == "spec:\n  values:\n    tunnelProtocol: vxlan\n"


def test_kube_proxy_replacement_modes_become_booleans_with_the_features_they_implied():
    strict = plan_migration(KPR, "kubeProxyReplacement", {"kubeProxyReplacement": "strict", "k8sServiceHost": "h"})
    assert strict.sets == {"kubeProxyReplacement": "'true'"} and strict.automatic
    disabled = plan_migration(KPR, "kubeProxyReplacement",
                              {"kubeProxyReplacement": "disabled", "nodePort": {"enabled": True}})
    assert disabled.sets == {"kubeProxyReplacement": "'false'"} and disabled.also_false == ["nodePort.enabled"]
    text = "kubeProxyReplacement: disabled\nnodePort:\n  enabled: true\n"
    common = {**COMMON, "values_root": []}
    after = apply_edits({"hr.yaml": text}, migration_edits(disabled, common, editable=True))["hr.yaml"]
    assert after == "kubeProxyReplacement: 'false'\nnodePort:\n  enabled: false\n"
    probe = plan_migration(KPR, "kubeProxyReplacement", {"kubeProxyReplacement": "probe"})
    assert probe.migration.manual and not probe.automatic
    assert [e.action for e in migration_edits(probe, common, editable=True)] == ["manual"]


def test_saved_values_file_gets_the_same_migration_as_a_yq_expression():
    plan = plan_migration(TUNNEL, "tunnel", {"tunnel": "disabled", "enableIPv4Masquerade": False})
    assert yq_expression(plan) == 'del(.tunnel) | .routingMode = "native"'
    strict = plan_migration(KPR, "kubeProxyReplacement", {"kubeProxyReplacement": "strict", "k8sServiceHost": "h"})
    assert yq_expression(strict) == '.kubeProxyReplacement = "true"'
