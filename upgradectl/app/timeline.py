"""How long a plan's rollout takes: environment -> hops -> soak -> total, and the approvals it waits for.

The one place the summary's rollout duration is computed: the terminal summary, plan.md and the PR descriptions
read `rollout_timeline`. `upgradectl execute` commits one change set per environment and hop, then soaks that
environment's `soak_minutes` before judging the gates (graph/execute.py), so an environment takes at least
(distinct hops x soak). When the plan carries its calendar (`plan.timeline`, graph/timeline.py: change times,
maintenance windows), each environment's time is its span on that calendar instead, and the total is the
calendar's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from upgradectl.models import CombinedPlan, Plan, RolloutStage


@dataclass(frozen=True)
class StageTime:
    """One environment of the rollout: its clusters, the hops it applies and the soak after each."""

    environment: str
    clusters: list[str]
    hops: list[str]  # distinct 'a -> b', in plan order; one commit and one soak each
    soak_minutes: int  # after each hop
    approval_required: bool
    approval_reasons: list[str] = field(default_factory=list)
    calendar_minutes: int | None = None  # first change to last soak on the plan's calendar, windows included

    @property
    def soak_total(self) -> int:
        """The least time this environment takes: every hop soaks before the next."""
        return len(self.hops) * self.soak_minutes

    @property
    def minutes(self) -> int:
        """The environment's time: its calendar span when the plan has a calendar, else the least (soak only)."""
        return self.calendar_minutes if self.calendar_minutes is not None else self.soak_total


@dataclass(frozen=True)
class Timeline:
    """The rollout in order, with the least total time and the approvals on the way."""

    stages: list[StageTime]
    calendar_total: int | None = None  # the plan's calendar total (waits for windows and approvals included)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def on_calendar(self) -> bool:
        return self.calendar_total is not None

    @property
    def total_minutes(self) -> int:
        if self.calendar_total is not None:
            return self.calendar_total
        return sum(stage.minutes for stage in self.stages)

    @property
    def approvals(self) -> int:
        return sum(1 for stage in self.stages if stage.approval_required)


def stage_hops(stage: RolloutStage) -> list[str]:
    """The distinct hops of a stage ('cluster: a -> b' entries share one commit per 'a -> b')."""
    return list(dict.fromkeys(hop.split(": ", 1)[-1] for hop in stage.hops))


def rollout_timeline(plan: Plan | CombinedPlan) -> Timeline:
    """The plan's rollout as a timeline, in the order execute runs it (the plan's rollout order)."""
    calendar = getattr(plan, "timeline", None)
    stages = []
    for stage in plan.rollout:
        entries = [e for e in calendar.entries if e.environment == stage.environment] if calendar else []
        span = int((max(e.end for e in entries) - min(e.start for e in entries)).total_seconds() // 60) \
            if entries else None  # fmt: skip
        stages.append(StageTime(
            environment=stage.environment, clusters=list(stage.clusters), hops=stage_hops(stage),
            soak_minutes=stage.soak_minutes, approval_required=stage.approval_required,
            approval_reasons=list(stage.approval_reasons), calendar_minutes=span,
        ))  # fmt: skip
    if calendar is None:
        return Timeline(stages=stages)
    return Timeline(stages=stages, calendar_total=calendar.total_minutes, start=calendar.start, end=calendar.end)


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
