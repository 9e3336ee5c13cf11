"""The rollout timeline (environment -> hops -> soak -> total) and findings grouped into distinct problems."""

from __future__ import annotations

from upgradectl.app.problems import distinct_problems, problem_counts, shared_title
from upgradectl.app.timeline import duration, rollout_timeline
from upgradectl.models import Evidence, Finding, Plan, RolloutStage, Subject


def stage(environment: str, hops: list[str], soak: int, approval: bool = False) -> RolloutStage:
    return RolloutStage(environment=environment, clusters=sorted({h.split(": ")[0] for h in hops}), hops=hops,
                        steps=[], gates=[], rollback_steps=[], soak_minutes=soak, approval_required=approval)


def test_each_distinct_hop_soaks_once_per_environment_and_the_total_adds_up():
    plan = Plan.model_construct(rollout=[
        stage("dev", ["d1: 0.31.5 -> 0.32.10", "d1: 0.32.10 -> 0.37.8"], 45),
        # two clusters on the same hop are one commit and one soak (execute commits per environment and hop)
        stage("staging", ["s1: 0.31.3 -> 0.31.5", "s2: 0.31.3 -> 0.31.5", "s1: 0.31.5 -> 0.32.10"], 180),
        stage("prod", ["p1: 0.31.3 -> 0.31.5"], 360, approval=True),
    ])  # fmt: skip
    timeline = rollout_timeline(plan)
    assert [len(s.hops) for s in timeline.stages] == [2, 2, 1]
    assert [s.minutes for s in timeline.stages] == [90, 360, 360]
    assert timeline.total_minutes == 810 and timeline.approvals == 1


def test_durations_read_as_people_say_them():
    said = [duration(m) for m in (45, 60, 90, 1800, 1530)]
    assert said == ["45 min", "1 h", "1 h 30 min", "1 d 6 h", "1 d 1 h 30 min"]


def finding(code: str, severity: str, title: str, cluster: str, category: str = "crd") -> Finding:
    return Finding(code=code, severity=severity, category=category, title=title, subject=Subject(cluster=cluster),
                   evidence=[Evidence(source="cluster", ref=f"{cluster}/x", excerpt="x")], agent="flux-navigator")


def test_findings_of_one_code_are_one_problem_at_their_worst_severity():
    plan = Plan.model_construct(findings=[
        finding("A-ONE", "medium", "Provisioner no longer served: a (x)", "c1"),
        finding("A-ONE", "high", "Provisioner no longer served: b (y)", "c2"),
        finding("B-TWO", "high", "One thing", "c1"),
        finding("C-SETUP", "low", "no metrics yet", "c1", category="setup"),
    ])  # fmt: skip
    problems = distinct_problems(plan)
    assert [p.code for p in problems] == ["A-ONE", "B-TWO", "C-SETUP"]  # worst first, then most instances
    first = problems[0]
    assert first.severity == "high" and first.clusters == ["c1", "c2"] and len(first.instances) == 2
    assert first.title == "Provisioner no longer served"  # the subjects cut off
    assert problem_counts(problems) == {"high": 2, "low": 1}
    assert [p.code for p in problems if not p.blocking] == ["C-SETUP"]
    unlike = [finding("X-Y", "low", "abc", "c1"), finding("X-Y", "low", "xyz", "c2")]
    assert shared_title(unlike) == "abc (and 1 more like it)"
