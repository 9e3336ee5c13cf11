"""Upgrade-path planner: rule semantics on hand-made knowledge, and a property test that every
produced path obeys every rule, on generated rule sets."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upgradectl.tools.analysis.paths import PathError, hop_violations, latest_compatible, plan_path, resolve_target
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.versions import Version

TODAY = date(2026, 12, 5)


def knowledge(lines: list[tuple[str, str, str, str]], rules: list[dict]) -> ToolKnowledge:
    """lines: (line, latest_patch, kube_min, kube_max)."""
    return ToolKnowledge.model_validate(
        {
            "tool": "cilium",
            "display_name": "Tool",
            "summary": "a tool for the path tests",
            "finding_prefix": "TOOL",
            "namespace": "ns",
            "release_name": "tool",
            "install_markers": ["tool"],
            "sources": ["test"],
            "chart": {"name": "tool", "repository": "https://example.test", "source": "test"},
            "releases": [
                {"line": ln, "latest_patch": p, "kubernetes": {"min": lo, "max": hi}, "source": "test"}
                for ln, p, lo, hi in lines
            ],
            "path_rules": rules,
            "procedure": {"upgrade": [{"title": "up"}], "rollback": [{"title": "down"}]},
        }
    )


ONE_MINOR = {
    "id": "R-ONE",
    "kind": "max_minor_step",
    "max_minor_step": 1,
    "from_latest_patch": True,
    "reason": "one minor at a time, latest patch first",
    "source": "test",
}


def test_one_minor_at_a_time_with_patch_first():
    k = knowledge(
        [("1.14", "1.14.19", "1.19", "1.27"), ("1.15", "1.15.9", "1.26", "1.29"), ("1.16", "1.16.9", "1.27", "1.30")],
        [ONE_MINOR],
    )
    path = plan_path(k, "1.14.5", "1.16.9", {"a": "1.27.3"})
    assert [(h.from_version, h.to_version, h.kind) for h in path.hops] == [
        ("1.14.5", "1.14.19", "patch-first"),
        ("1.14.19", "1.15.9", "one-minor"),
        ("1.15.9", "1.16.9", "target"),
    ]
    assert "one minor" in path.hops[0].reason


def test_required_intermediate_and_reason():
    rule = {
        "id": "R-VIA",
        "kind": "entry",
        "crossing": "0.33.0",
        "from_min": "0.32.0",
        "from_max": "0.32",
        "reason": "0.33 only from 0.32",
        "source": "test",
    }
    k = knowledge(
        [
            ("0.31", "0.31.5", "1.23", "1.28"),
            ("0.32", "0.32.10", "1.23", "1.28"),
            ("0.33", "0.33.12", "1.23", "1.28"),
            ("0.37", "0.37.8", "1.23", "1.30"),
        ],
        [rule],
    )
    path = plan_path(k, "0.31.5", "0.37.8", {"a": "1.28.1"})
    assert [h.to_version for h in path.hops] == ["0.32.10", "0.37.8"]
    assert path.hops[0].kind == "required-intermediate" and path.hops[0].reason == "0.33 only from 0.32"


def test_unsupported_target_is_not_feasible_and_says_what_kubernetes_is_needed():
    k = knowledge(
        [("1.16", "1.16.9", "1.27", "1.30"), ("1.17", "1.17.9", "1.29", "1.32"), ("1.18", "1.18.6", "1.30", "1.33")],
        [ONE_MINOR],
    )
    path = plan_path(k, "1.16.9", "1.18.6", {"old": "1.27.4"})
    assert not path.feasible
    assert "upgrade Kubernetes on old from 1.27 to at least 1.30 before Tool 1.18.6" in path.blockers[0]


def test_latest_compatible_and_target_resolution():
    k = knowledge(
        [("1.0", "1.0.3", "1.25", "1.28"), ("1.1", "1.1.4", "1.26", "1.30"), ("1.2", "1.2.1", "1.29", "1.31")], []
    )
    assert latest_compatible(k, {"a": "1.28.2", "b": "1.29.0"}, TODAY)[0] == "1.1.4"
    assert resolve_target(k, "1.1") == "1.1.4"
    with pytest.raises(PathError, match="not a known release"):
        resolve_target(k, "9.9")
    with pytest.raises(PathError, match="newer than the newest known"):
        resolve_target(k, "1.1.9")


def test_no_release_fits_the_kubernetes_version_plans_the_least_kubernetes_change():
    """Nothing supports clusters on Kubernetes 1.21 and 1.22: the target is the release needing the fewest
    Kubernetes minors in all (1.0 needs 2 + 1, 1.1 needs 3 + 2); the path is blocked on the Kubernetes upgrade."""
    lines = [("1.0", "1.0.3", "1.23", "1.26"), ("1.1", "1.1.4", "1.24", "1.27"), ("1.2", "1.2.1", "1.26", "1.30")]
    k = knowledge(lines, [])
    target, why = latest_compatible(k, {"a": "1.21.4", "b": "1.22.0"}, TODAY)
    assert target == "1.0.3" and "upgrade Kubernetes first" in why
    assert latest_compatible(k, {"a": "1.23.0", "b": "1.21.0"}, TODAY)[0] == "1.0.3"  # 2 beats 1.1's 1 + 3
    path = plan_path(k, "1.0.1", target, {"a": "1.21.4", "b": "1.22.0"}, why)
    assert not path.feasible and path.hops[-1].unsupported_on == ["a", "b"]
    assert path.blockers[0].startswith("upgrade Kubernetes on a from 1.21 to at least 1.23 before Tool 1.0.3")
    # too new for every release: 1.2 (up to 1.30) is one minor away, 1.1 four, 1.0 five
    assert latest_compatible(k, {"a": "1.31.0"}, TODAY)[0] == "1.2.1"


def test_a_version_older_than_the_knowledge_base_is_a_blocked_path_not_an_error():
    k = knowledge([("1.0", "1.0.3", "1.23", "1.26"), ("1.1", "1.1.4", "1.24", "1.27")], [])
    path = plan_path(k, "0.41.2", "1.1.4", {"a": "1.25.0"})
    assert (path.feasible, path.hops, path.from_version) == (False, [], "0.41.2")
    assert path.blockers == [
        "Tool 0.41.2 on a is older than the releases the knowledge base covers (1.0 to 1.1.4): "
        "upgrade it to 1.0.3 by that release's own upgrade notes first, then plan again"
    ]


@st.composite
def rule_sets(draw):
    n = draw(st.integers(min_value=3, max_value=9))
    lines = [(f"1.{i}", f"1.{i}.{draw(st.integers(1, 12))}", "1.20", "1.40") for i in range(n)]
    rules = []
    if draw(st.booleans()):
        rules.append({**ONE_MINOR, "max_minor_step": draw(st.integers(1, 3)), "from_latest_patch": draw(st.booleans())})
    for j in range(draw(st.integers(0, 3))):
        crossing = draw(st.integers(1, n - 1))
        low = draw(st.integers(0, crossing - 1))
        rules.append(
            {
                "id": f"R-{j}",
                "kind": "entry",
                "crossing": f"1.{crossing}.0",
                "from_min": f"1.{low}.0",
                "from_max": f"1.{crossing - 1}",
                "from_latest_patch": draw(st.booleans()),
                "reason": "generated",
                "source": "test",
            }
        )
    start = draw(st.integers(0, n - 2))
    end = draw(st.integers(start + 1, n - 1))
    current = f"1.{start}.0"
    target = lines[end][1]
    return knowledge(lines, rules), current, target


@settings(max_examples=300, deadline=None)
@given(rule_sets())
def test_every_produced_path_obeys_every_rule(case):
    k, current, target = case
    try:
        path = plan_path(k, current, target, {"c": "1.30.0"})
    except PathError:
        return  # no rule-abiding path exists; the planner said so instead of guessing
    versions = [path.from_version, *[h.to_version for h in path.hops]]
    assert versions[0] == current and versions[-1] == target
    assert all(Version.parse(a) < Version.parse(b) for a, b in zip(versions, versions[1:], strict=False))
    for hop in path.hops:
        assert hop_violations(k, hop.from_version, hop.to_version) == [], (hop, k.path_rules)
        assert hop.reason


def test_security_target_is_the_running_lines_newest_patch_only_while_that_line_is_supported():
    from upgradectl.tools.analysis.paths import security_target
    from upgradectl.tools.knowledge.loader import SupportPolicy

    lines = [("1.0", "1.0.3", "1.25", "1.28"), ("1.1", "1.1.4", "1.26", "1.30"), ("1.2", "1.2.1", "1.29", "1.31")]
    k = knowledge(lines, [])
    assert security_target(k, {"1.1"}, {"a": "1.29.0"}, TODAY) is None  # no support policy known: not guessed
    k = k.model_copy(update={"support": SupportPolicy(newest_lines=2, summary="the newest two", source="test")})
    target, why = security_target(k, {"1.1"}, {"a": "1.29.0"}, TODAY)
    assert target == "1.1.4" and "one of the newest 2 line(s) (1.2, 1.1)" in why
    assert security_target(k, {"1.0"}, {"a": "1.27.0"}, TODAY) is None  # 1.0 is no longer patched
    assert security_target(k, {"1.1", "1.2"}, {"a": "1.29.0"}, TODAY) is None  # two lines running: no single answer
    assert security_target(k, {"1.1"}, {"a": "1.31.0"}, TODAY) is None  # 1.1.4 does not support Kubernetes 1.31


def test_default_target_prefers_a_supported_lts_line_and_skips_unreviewed_lines():
    """Karpenter's policy shape: only the newest regular minor is supported, LTS minors for 12 months."""
    from upgradectl.tools.knowledge.loader import Release, SupportPolicy, SupportWindow

    lines = [("1.8", "1.8.8", "1.26", "1.34"), ("1.9", "1.9.2", "1.26", "1.35"), ("1.10", "1.10.2", "1.26", "1.35"),
             ("1.11", "1.11.3", "1.30", "1.36")]
    k = knowledge(lines, [])
    releases = list(k.releases)
    releases[1] = releases[1].model_copy(update={"lts": True, "released": "2026-02-06",
                                                 "support": SupportWindow(until="2027-02", source="test")})
    releases.append(Release(line="1.12", latest_patch="1.12.0", notes_reviewed=False, source="refresh"))
    policy = SupportPolicy(newest_lines=1, lts_months=12, summary="until the next minor", source="test")
    k = k.model_copy(update={"releases": releases, "support": policy})
    target, why = latest_compatible(k, {"a": "1.29.0"}, TODAY)  # 1.11 needs 1.30; 1.10 fits but is unsupported
    assert target == "1.9.2"
    assert "preferred over 1.10.2 because line 1.9 still receives fixes" in why
    assert "1.12 found upstream but their upgrade notes are not reviewed" in why
    after_lts = date(2027, 3, 1)  # 1.9's window has closed: no supported line fits, the newest fitting one is used
    target, why = latest_compatible(k, {"a": "1.29.0"}, after_lts)
    assert target == "1.10.2" and "NO line that still receives fixes fits these clusters" in why
