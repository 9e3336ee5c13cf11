"""How long a plan's rollout takes: environment -> hops -> soak -> total, and the approvals it waits for.

The one place the rollout's duration is computed: the terminal summary, plan.md, the HTML report and the PR
descriptions all read `rollout_timeline`. `upgradectl execute` commits one change set per environment and hop,
then soaks that environment's `soak_minutes` before judging the gates (graph/execute.py), so an environment
takes at least (distinct hops x soak); reconciliation and approval waits come on top and are not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from upgradectl.models import Plan, RolloutStage


@dataclass(frozen=True)
class StageTime:
    """One environment of the rollout: its clusters, the hops it applies and the soak after each."""

    environment: str
    clusters: list[str]
    hops: list[str]  # distinct 'a -> b', in plan order; one commit and one soak each
    soak_minutes: int  # after each hop
    approval_required: bool
    approval_reasons: list[str] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        """The least time this environment takes: every hop soaks before the next."""
        return len(self.hops) * self.soak_minutes


@dataclass(frozen=True)
class Timeline:
    """The rollout in order, with the least total time and the approvals on the way."""

    stages: list[StageTime]

    @property
    def total_minutes(self) -> int:
        return sum(stage.minutes for stage in self.stages)

    @property
    def approvals(self) -> int:
        return sum(1 for stage in self.stages if stage.approval_required)


def stage_hops(stage: RolloutStage) -> list[str]:
    """The distinct hops of a stage ('cluster: a -> b' entries share one commit per 'a -> b')."""
    return list(dict.fromkeys(hop.split(": ", 1)[-1] for hop in stage.hops))


def rollout_timeline(plan: Plan) -> Timeline:
    """The plan's rollout as a timeline, in the order execute runs it (the plan's rollout order)."""
    return Timeline(
        stages=[
            StageTime(
                environment=stage.environment,
                clusters=list(stage.clusters),
                hops=stage_hops(stage),
                soak_minutes=stage.soak_minutes,
                approval_required=stage.approval_required,
                approval_reasons=list(stage.approval_reasons),
            )
            for stage in plan.rollout
        ]
    )


def duration(minutes: int) -> str:
    """45 min, 3 h, 1 d 6 h: how long, as people say it."""
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    text = f"{hours} h" if not rest else f"{hours} h {rest} min"
    if hours >= 24:
        days, hours = divmod(hours, 24)
        text = f"{days} d" + (f" {hours} h" if hours else "") + (f" {rest} min" if rest else "")
    return text
