"""Targets a chart install can reach: the target and every stop are application versions a chart ships.

Rule semantics on hand-made knowledge (a chart table unlike the application's versions), then the real Argo CD
knowledge, whose expectations come from argoproj/argo-helm itself: charts/argo-cd/Chart.yaml `appVersion` at the
chart tags argo-cd-6.7.18 (b9e4a3fd, v2.10.9), argo-cd-7.9.1 (4721d030, v2.14.11), argo-cd-8.0.0 (v3.0.0),
argo-cd-8.2.7 (b52fe780, v3.0.12), argo-cd-8.3.0 (v3.1.0), argo-cd-9.5.11 (a855fda3, v3.3.9); no tag up to
argo-cd-10.1.1 (af0a9310, 2026-07-02) ships v2.10.10+, v2.14.12+, v3.0.13+ or v3.3.10+.
"""

from test_paths import ONE_MINOR, knowledge

from upgradectl.agents import chart_targets
from upgradectl.models import Evidence
from upgradectl.tools.analysis.charted import newest_shipped_patch, ships
from upgradectl.tools.analysis.inventory import Installation
from upgradectl.tools.analysis.paths import charted_target, plan_path
from upgradectl.tools.knowledge.loader import load_tool


def charted(lines, rules, table: dict[str, str]):
    """Hand-made knowledge whose chart has its own version line (`table`: chart version -> app version)."""
    k = knowledge(lines, rules)
    chart = k.chart.model_copy(update={"app_version_mapping": "table", "chart_to_app": table,
                                       "table_source": "test index.yaml"})  # fmt: skip
    return k.model_copy(update={"chart": chart})


LINES = [("1.14", "1.14.19", "1.19", "1.27"), ("1.15", "1.15.9", "1.26", "1.29"), ("1.16", "1.16.9", "1.27", "1.30")]
TABLE = {"5.0.0": "1.14.5", "5.1.0": "1.14.12", "6.0.0": "1.15.7", "7.0.0": "1.16.4", "7.0.1": "1.16.6"}


def test_the_target_is_the_newest_version_a_chart_ships():
    k = charted(LINES, [], TABLE)
    assert not ships(k, "1.16.9") and ships(k, "1.16.6")
    chosen = charted_target(k, "1.16.9", "1.14.5", {"a": "1.27.0"})
    assert (chosen.version, chosen.chart_version, chosen.changed) == ("1.16.6", "7.0.1", True)
    assert not chosen.missing_fix
    kept = charted_target(k, "1.15.7", "1.14.5", {"a": "1.27.0"})
    assert (kept.version, kept.changed) == ("1.15.7", False)  # a shipped version stays as asked
    assert charted_target(k, "1.14.19", "1.14.13", {"a": "1.27.0"}) is None  # nothing shipped in between


def test_a_line_without_a_chart_falls_back_to_the_newest_shipped_line_that_fits():
    k = charted(LINES, [], {k: v for k, v in TABLE.items() if not v.startswith("1.16")})
    assert newest_shipped_patch(k, "1.16") == ""
    assert charted_target(k, "1.16.9", "1.14.5", {"a": "1.27.0"}).version == "1.15.7"
    # 1.15.7 does not run on Kubernetes 1.30 while the asked 1.16.9 does: the chart cannot go there
    assert charted_target(k, "1.16.9", "1.14.5", {"a": "1.30.0"}) is None


def test_every_stop_of_a_chart_install_is_a_shipped_version():
    k = charted(LINES, [ONE_MINOR], TABLE)
    plain = plan_path(k, "1.14.5", "1.16.6", {"a": "1.27.3"})
    assert [h.to_version for h in plain.hops] == ["1.14.19", "1.15.9", "1.16.6"]
    path = plan_path(k, "1.14.5", "1.16.6", {"a": "1.27.3"}, charted=True)
    # the one-minor rule's "latest patch first" means the newest patch a chart ships
    assert [(h.to_version, h.kind) for h in path.hops] == [("1.14.12", "patch-first"), ("1.15.7", "one-minor"),
                                                           ("1.16.6", "target")]  # fmt: skip


def test_a_security_target_takes_a_later_charted_patch_of_its_line_or_says_the_fix_ships_in_no_chart():
    k = charted(LINES, [], {**TABLE, "7.0.2": "1.16.8"})
    later = charted_target(k, "1.16.7", "1.16.4", {"a": "1.27.0"}, security=True)
    assert (later.version, later.missing_fix) == ("1.16.8", False)  # a later patch carries the fix
    older = charted_target(k, "1.15.9", "1.14.5", {"a": "1.27.0"}, security=True)
    assert (older.version, older.missing_fix) == ("1.15.7", True)  # never another line: a patch request stays a patch


def test_argocd_targets_are_versions_argo_helm_ships():
    k = load_tool("argocd")
    assert k.chart_version_for("3.0.12") == "8.2.7" and not ships(k, "3.0.23")
    assert newest_shipped_patch(k, "3.0") == "3.0.12" and newest_shipped_patch(k, "3.3") == "3.3.9"
    assert newest_shipped_patch(k, "2.10") == "2.10.9" and newest_shipped_patch(k, "2.14") == "2.14.11"
    assert charted_target(k, "3.0.23", "2.10.7", {"keystone": "1.29.8"}).version == "3.0.12"
    assert charted_target(k, "3.3.14", "2.10.6", {"in-cluster": "1.31"}).chart_version == "9.5.11"
    fix = charted_target(k, "2.10.18", "2.10.7", {"keystone": "1.29.8"}, security=True)
    assert (fix.version, fix.chart_version, fix.missing_fix) == ("2.10.9", "6.7.18", True)


def _install(version: str, chart_version: str, chart: str = "argo-cd") -> Installation:
    """A Git declaration of `chart` at `chart_version` (shipping `version`)."""
    evidence = (Evidence(source="gitops", ref="kustomization.yaml:12", excerpt=f"version: {chart_version}"),)
    return Installation("c", version, chart_version, None, evidence, chart=chart)


def test_the_choice_and_its_finding_for_argocd():
    k = load_tool("argocd")
    installs = {"keystone": _install("2.10.7", "6.7.11")}
    choice = chart_targets.choose(k, "3.0.23", "latest", installs, {"keystone": "1.29.8"}, security=False)
    assert (choice.target, choice.charted, choice.blocker) == ("3.0.12", True, "")
    assert "3.0.23 ships in no argo-cd chart" in choice.reason and "(chart 8.2.7)" in choice.reason
    path = plan_path(k, "2.10.7", choice.target, {"keystone": "1.29.8"}, choice.reason, choice.charted)
    (finding,) = chart_targets.findings(k, choice, [path], installs)
    assert (finding.code, finding.severity) == ("ARGO-PATCH-NOT-CHARTED", "low")
    assert "3.0: 3.0.23 exists upstream, the newest any argo-cd chart ships is 3.0.12 (chart 8.2.7)" in finding.detail
    refs = [e.ref for e in finding.evidence]
    assert any("chart.chart_to_app[3.0]" in r and "index.yaml @ c77d0b1727b5" in r for r in refs)
    assert any("releases[3.0].latest_patch" in r for r in refs)

    # mgmt runs 2.14.11 from chart 7.9.1, the last 2.14 chart: a security fix 2.14.21 ships in no chart, and a
    # fix beats a chart: it stays the target (feasible, no blocker) and its chart pin is a step by hand
    installs = {"mgmt": _install("2.14.11", "7.9.1")}
    kept = chart_targets.choose(k, "2.14.21", "asked", installs, {"mgmt": "1.30.0"}, security=True)
    assert (kept.target, kept.blocker) == ("2.14.21", "")
    assert "the fix 2.14.21 ships in no argo-cd chart" in kept.reason and "step by hand" in kept.reason
    path = plan_path(k, "2.14.11", "2.14.21", {"mgmt": "1.30.0"}, kept.reason, kept.charted)
    assert path.feasible and [h.to_version for h in path.hops] == ["2.14.21"]
    (finding,) = chart_targets.findings(k, kept, [path], installs)
    assert (finding.severity, finding.category) == ("high", "security") and finding.title.startswith("SECURITY")
    assert "keeps it as the target" in finding.title


def test_only_the_chart_of_the_table_is_constrained_by_it():
    """victoriametrics.yaml's table is the k8s-stack chart's; victoria-metrics-single has versions of its own."""
    k = load_tool("victoriametrics")
    assert k.chart.name == "victoria-metrics-k8s-stack" and not ships(k, "1.103.0")
    single = {"m": _install("1.102.1", "0.10.0", chart="victoria-metrics-single")}
    assert chart_targets.chart_installs(k, single) == []
    assert chart_targets.choose(k, "1.103.0", "asked", single, {"m": "1.30.0"}, security=False).target == "1.103.0"
    stack = {"m": _install("1.102.1", "0.26.0", chart="victoria-metrics-k8s-stack")}
    blocked = chart_targets.choose(k, "1.103.0", "asked", stack, {"m": "1.30.0"}, security=False)
    # k8s-stack 0.26.0 ships v1.102.1 and the next charts v1.104.0: nothing newer that a chart ships up to 1.103.0
    assert (blocked.target, blocked.charted) == ("1.103.0", False) and "no victoria-metrics-k8s-stack chart" in (
        blocked.blocker)


def test_charts_that_follow_the_application_change_nothing():
    k = load_tool("cilium")
    installs = {"ravan": _install("1.14.5", "1.14.5")}
    choice = chart_targets.choose(k, "1.17.18", "latest", installs, {"ravan": "1.29.6"}, security=False)
    assert (choice.target, choice.charted) == ("1.17.18", False)
    assert chart_targets.findings(k, choice, [], installs) == []
