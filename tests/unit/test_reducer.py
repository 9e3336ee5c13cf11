from upgradectl.graph.state import merge_findings
from upgradectl.models import Evidence, Finding, Subject


def f(code, cluster, severity="medium", excerpt="e1", agent="flux-navigator"):
    return Finding(
        code=code,
        severity=severity,
        category="crd",
        title=code,
        agent=agent,
        subject=Subject(cluster=cluster, kind="Provisioner", name="default"),
        evidence=[Evidence(source="cluster", ref=f"{cluster}", excerpt=excerpt)],
    )


def test_same_code_and_subject_merge_with_all_evidence_and_highest_severity():
    merged = merge_findings([f("A-B", "ravan", "medium", "one")], [f("A-B", "ravan", "high", "two")])
    assert len(merged) == 1
    assert [e.excerpt for e in merged[0].evidence] == ["one", "two"]
    assert merged[0].severity == "high"


def test_different_subject_or_code_stay_apart():
    merged = merge_findings([f("A-B", "ravan")], [f("A-B", "dev-apps"), f("A-C", "ravan")])
    assert len(merged) == 3


def test_identical_evidence_is_not_duplicated():
    merged = merge_findings([f("A-B", "ravan")], [f("A-B", "ravan")])
    assert len(merged[0].evidence) == 1
