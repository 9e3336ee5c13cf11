"""Which release a tool must reach before a Kubernetes upgrade, and how requests name several tools or Kubernetes.

Expected releases come from the upstream compatibility pages the knowledge files cite: Cilium's Kubernetes
compatibility (1.17 supports 1.29-1.32; 1.16 stops at 1.30), Flux's supported Kubernetes versions (2.4: 1.29-1.31;
2.5 starts at 1.30), Argo CD's tested versions (3.0: 1.29-1.32; 3.1 starts at 1.30), Karpenter's compatibility
matrix (0.31 stops at 1.28).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from upgradectl.agents.kubernetes_readiness import control_plane_steps, covering_release, minors_between
from upgradectl.agents.request import KUBERNETES, RequestError, requested_tools
from upgradectl.models import ClusterInfo, ControlPlaneHop
from upgradectl.tools.knowledge.loader import load_kubernetes, load_tool


def test_minors_between_counts_every_minor_one_at_a_time():
    assert minors_between("1.29.6", "1.31") == ["1.29", "1.30", "1.31"]
    assert minors_between("1.30.5", "1.31") == ["1.30", "1.31"]


@pytest.mark.parametrize(
    ("tool", "running", "line"),
    [("cilium", "1.14.5", "1.17"), ("flux", "2.2.3", "2.4"), ("argocd", "2.10.7", "3.0")],
)
def test_the_release_to_reach_supports_every_minor_from_1_29_to_1_31(tool, running, line):
    release = covering_release(load_tool(tool), running, ["1.29", "1.30", "1.31"])
    assert release is not None and release.line == line


def test_no_release_older_than_the_running_one_is_chosen():
    # Karpenter 0.31 supports only up to 1.28; every release chosen must be at or above the running 0.31.3
    release = covering_release(load_tool("karpenter"), "0.31.3", ["1.29", "1.30", "1.31"])
    assert release is not None and release.kube_range_for(release.latest_patch).contains("1.29")
    assert covering_release(load_tool("cilium"), "1.18.0", ["1.29", "1.30"]) is None  # 1.18+ starts at 1.30


def test_requests_naming_several_tools_or_kubernetes():
    assert requested_tools("upgrade Cilium and Karpenter") == ["cilium", "karpenter"]
    assert requested_tools("", "cilium, karpenter") == ["cilium", "karpenter"]
    assert requested_tools("upgrade kubernetes to 1.31") == [KUBERNETES]
    assert requested_tools("", "k8s") == [KUBERNETES]
    # a product named beside Kubernetes is the product (Kubernetes is the context there)
    assert requested_tools("Cilium upgrade on Kubernetes 1.29") == ["cilium"]
    with pytest.raises(RequestError, match="more than once"):
        requested_tools("", "cilium,cilium")
    with pytest.raises(RequestError, match="--tool kubernetes alone"):
        requested_tools("", "kubernetes,cilium")
    with pytest.raises(RequestError, match="did you mean 'karpenter'"):
        requested_tools("", "cilium,karpentr")


@pytest.mark.parametrize(("provider", "region", "expected"), [
    # gcloud reference (container clusters upgrade): NAME --master --cluster-version --location; a 1.X version picks
    # the newest patch of that minor (UpdateMasterRequest.masterVersion aliases)
    ("gke", "asia-south1",
     "gcloud container clusters upgrade <GKE_CLUSTER_NAME> --master --cluster-version 1.31 --location asia-south1"),
    # learn.microsoft.com/azure/aks/upgrade-aks-control-plane, 'Upgrade the AKS control plane only'
    ("aks", "westeurope",
     "az aks upgrade --resource-group <AKS_RESOURCE_GROUP> --name <AKS_CLUSTER_NAME> --kubernetes-version "
     "<AKS_PATCH_VERSION> --control-plane-only"),
])
def test_gke_and_aks_control_plane_commands_are_the_documented_ones(provider, region, expected):
    info = ClusterInfo(name="c1", environment="prod", provider=provider, region=region, kubernetes_version="1.30.4",
                       source="test")
    hop = ControlPlaneHop(cluster="c1", provider=provider, from_version="1.30", to_version="1.31")
    steps = control_plane_steps(load_kubernetes(), SimpleNamespace(info=info), hop)
    (step,) = [s for s in steps if s.kind == "upgrade"]
    assert step.commands == [expected]
    assert "not re-checked" not in step.detail and step.source
    if provider == "aks":
        how = step.inputs["AKS_PATCH_VERSION"]
        assert "1.31.x" in how and "az aks get-upgrades" in how
