import pytest

from upgradectl.agents.request import RequestError, classify_trigger, find_target_version, find_tools, parse_request


@pytest.mark.parametrize(
    ("text", "tool", "trigger"),
    [
        ("Karpenter needs upgrade for better bin packing and cost optimization", "karpenter", "cost"),
        ("VictoriaMetrics has new features we need for monitoring", "victoriametrics", "feature"),
        ("ArgoCD upgrade required for security patches", "argocd", "security"),
        ("Flux upgrade needed for GitOps improvements", "flux", "feature"),
        ("Cilium upgrade for better network performance", "cilium", "performance"),
        ("upgrade victoria metrics, we are out of compliance", "victoriametrics", "compliance"),
        ("vm needs the CVE-2024-1234 fix", "victoriametrics", "security"),
        ("Argo CD to 3.0 please", "argocd", "feature"),
        ("argo-cd spot nodes cost too much", "argocd", "cost"),
        ("fluxcd 2.4", "flux", "feature"),
    ],
)
def test_seed_triggers_and_aliases(text, tool, trigger):
    request = parse_request(text)
    assert request.tool == tool
    assert request.trigger == trigger
    assert any(trigger in r for r in request.trigger_reasons)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("upgrade karpenter to v0.37", "0.37"),
        ("karpenter 0.37.x", "0.37"),
        ("karpenter -> 1.0", "1.0"),
        ("Karpenter from v0.31 to 1.0.10", "1.0.10"),
        ("Karpenter on Kubernetes 1.29 needs upgrade", None),
        ("we save 30% with karpenter", None),
    ],
)
def test_target_version_spellings(text, version):
    assert find_target_version(text)[0] == version


def test_argo_workflows_is_not_argocd():
    assert [m.tool for m in find_tools("Argo Workflows upgrade and Cilium")] == ["cilium"]


def test_unknown_tool_gets_did_you_mean():
    with pytest.raises(RequestError, match="unknown tool 'karpentr': did you mean 'karpenter'"):
        parse_request("karpentr needs an upgrade")
    with pytest.raises(RequestError, match="did you mean 'cilium'"):
        parse_request("", tool="cillium")
    with pytest.raises(RequestError, match="names no tool"):
        parse_request("please upgrade the thing")


def test_flags_override_text():
    request = parse_request(
        "Karpenter to 0.37 for cost",
        tool="flux",
        to="2.4",
        trigger="security",
        clusters=["keystone"],
        environments=["prod"],
    )
    assert (request.tool, request.target_version, request.trigger) == ("flux", "2.4", "security")
    assert request.clusters == ["keystone"] and request.environments == ["prod"]


def test_bad_flag_values_are_clear():
    with pytest.raises(RequestError, match="--to 'banana'"):
        parse_request("karpenter", to="banana")
    with pytest.raises(RequestError, match="--env 'qa'"):
        parse_request("karpenter", environments=["qa"])


def test_cluster_names_in_text():
    request = parse_request("upgrade karpenter on ravan only", known_clusters=["ravan", "dev-apps"])
    assert request.clusters == ["ravan"]


def test_no_trigger_words_is_standard_feature():
    trigger, reasons = classify_trigger("karpenter upgrade")
    assert trigger == "feature" and "standard" in reasons[0]


@pytest.mark.parametrize(
    ("text", "envs"),
    [
        ("upgrade cilium on staging to 1.16", ["staging"]),
        ("Argo CD security patch for prod only", ["prod"]),
        ("flux: only dev and staging for now", ["dev", "staging"]),
        ("flux upgrade on the production clusters", ["prod"]),
        ("cilium on dev/staging", ["dev", "staging"]),
        # incidents and rollout order name environments without scoping the plan
        ("incident in prod: cilium drops packets, upgrade it", []),
        ("roll karpenter out to staging, then prod", []),
        ("Upgrade Karpenter on dev-apps first", []),  # a cluster name, not an environment
        ("the product team wants flux 2.4", []),
    ],
)
def test_environment_scope_only_from_explicit_words(text, envs):
    request = parse_request(text)
    assert request.environments == envs
    assert any("environments" in r for r in request.trigger_reasons) == bool(envs)


def test_env_flag_and_named_clusters_win_over_environment_words():
    assert parse_request("cilium on staging", environments=["prod"]).environments == ["prod"]
    named = parse_request("cilium on staging: ravan", known_clusters=["ravan", "keystone"])
    assert named.clusters == ["ravan"] and named.environments == []


def test_lts_channel_from_words_or_flag_and_an_explicit_version_wins():
    assert parse_request("victoriametrics to the latest LTS").channel == "lts"
    assert parse_request("vm long-term support line please").channel == "lts"
    assert parse_request("", tool="vm", to="lts").channel == "lts"
    pinned = parse_request("victoriametrics LTS 1.122")
    assert pinned.channel == "latest" and pinned.target_version == "1.122"
    assert parse_request("flux upgrade for GitOps improvements").channel == "latest"
