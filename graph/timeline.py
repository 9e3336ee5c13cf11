"""The rollout on the calendar: each change set's expected duration, soak and the people it waits for, in
execution order, with disruptive change sets placed inside their environment's maintenance windows.

Durations are estimates (RECONCILE_MINUTES per commit, BY_HAND_MINUTES per step a person does) until a run has
observed them: `observed` (change-set key -> minutes, from `upgradectl execute`) replaces the estimate of the
same hop and phase in later environments, so what dev took sizes staging's and prod's windows.

Gate values carry too: a gate that passed close to its bound (less than BORDERLINE_HEADROOM of the allowed distance
left, e.g. drops +17% where +20% is allowed) in one environment makes every later environment's run of the same hop
and phase soak BORDERLINE_SOAK_FACTOR times as long (`soak_lesson`): the executor waits that long, the timeline
shows it, and the reason is in the run. It only ever lengthens a soak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from upgradectl.models import SEVERITY_ORDER, Gate, Plan, Timeline, TimelineEntry
from upgradectl.tools.cluster.windows import WindowSpec, next_opening
from upgradectl.tools.gitops.changes import ChangeSet, change_sets
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.metrics.gates import headroom

RECONCILE_MINUTES = 15  # commit -> controllers report the new version (the executor's default wait is 15 min)
BY_HAND_MINUTES = 15  # one checklist step done by a person (a chart applied, a pod recycled, readers moved)
PAUSE_SEVERITIES = ("high", "critical")  # open findings of these severities stop `execute` until accepted
FLEET_WIDE = "(fleet-wide)"  # the cluster a finding about no one cluster is shown under when a run pauses for it
BORDERLINE_HEADROOM = 0.25  # a passed gate with less of its allowed distance left is borderline
BORDERLINE_SOAK_FACTOR = 2  # later environments soak a hop that was borderline this many times the plan's soak


def disruptive(plan: Plan, knowledge: ToolKnowledge) -> bool:
    """Whether the plan's change sets interrupt service: the tool's procedure says so, it replaces nodes, or the
    decision asks for a maintenance window."""
    return bool(knowledge.procedure.disruptive or knowledge.cycles_nodes or (
        plan.decision is not None and plan.decision.strategy.kind == "maintenance-window"))  # fmt: skip


def open_findings(plan: Plan, sets: list[ChangeSet], index: int) -> list[tuple[str, str, str]]:
    """(code, cluster, title) of the high and critical findings a change set must not start with unaccepted:
    those about its clusters, at the first change set that touches each cluster, and those about no one cluster
    (fleet-wide: the cluster is FLEET_WIDE) at the run's first change set."""
    earlier = {c for cs in sets[:index] for c in cs.clusters}
    fresh = [c for c in sets[index].clusters if c not in earlier]
    wanted = {s for s in SEVERITY_ORDER if SEVERITY_ORDER.index(s) <= SEVERITY_ORDER.index("high")}  # critical, high
    mine = {(f.code, f.subject.cluster, f.title) for f in plan.findings
            if f.severity in wanted and f.subject.cluster in fresh}  # fmt: skip
    if index == 0:
        mine |= {(f.code, FLEET_WIDE, f.title) for f in plan.findings if f.severity in wanted and not f.subject.cluster}
    return sorted(mine)


def observed_key(cs: ChangeSet) -> str:
    """What carries across environments: the hop and the phase (a later environment runs the same hop)."""
    return f"{cs.hop}/{cs.phase}"


def borderline_gates(judged: dict[str, list[dict]]) -> list[str]:
    """The passed gates of a judged change set that came close to their bound, as its run records them."""
    notes = []
    for cluster, records in judged.items():
        for record in records:
            try:
                gate = Gate.model_validate(record)
            except ValidationError:
                continue
            left = headroom(gate)
            if left is not None and left < BORDERLINE_HEADROOM:
                notes.append(f"{cluster}: {gate.name} passed with {left:.0%} of its margin left ({gate.message})")
    return notes


@dataclass(frozen=True)
class SoakLesson:
    """How much longer a change set soaks than its plan says, and why (what an earlier environment showed)."""

    factor: float
    reason: str


def soak_lesson(sets: list[ChangeSet], steps: dict[str, dict], index: int) -> SoakLesson | None:
    """What earlier environments' runs of the same hop and phase teach change set `index` about its soak: a
    borderline gate there multiplies its soak by BORDERLINE_SOAK_FACTOR (None: the plan's soak stands)."""
    cs = sets[index]
    notes = []
    for earlier in sets[:index]:
        if earlier.environment != cs.environment and observed_key(earlier) == observed_key(cs):
            seen = (steps.get(earlier.key) or {}).get("observed") or {}
            notes += [f"in {earlier.environment} {note}" for note in seen.get("borderline") or []]
    if not notes:
        return None
    return SoakLesson(BORDERLINE_SOAK_FACTOR, f"{BORDERLINE_SOAK_FACTOR}x the plan's soak: the same hop was "
                      f"borderline earlier: {'; '.join(notes)}")  # fmt: skip


def build_timeline(plan: Plan, knowledge: ToolKnowledge, windows: dict[str, list[WindowSpec]], start: datetime,
                   observed: dict[str, float] | None = None, done: set[str] | None = None,
                   steps: dict[str, dict] | None = None) -> Timeline:  # fmt: skip
    """Place every change set of the plan (but those `done`, by key) on the calendar from `start`; `steps` (a
    run's step records) lengthen later environments' soaks where an earlier one was borderline."""
    observed = observed or {}
    sets = change_sets(plan)
    soak_of = {s.environment: s.soak_minutes for s in plan.rollout}
    approval = {s.environment: s.approval_required for s in plan.rollout}
    heavy = disruptive(plan, knowledge)
    start = start.astimezone(UTC)
    cursor = start
    entries: list[TimelineEntry] = []
    notes: list[str] = []
    for index, cs in enumerate(sets):
        if done and cs.key in done:
            continue
        people = []
        if approval.get(cs.environment) and (index == 0 or sets[index - 1].environment != cs.environment):
            people.append(f"approval for {cs.environment}")
        by_hand = len(cs.before) + len(cs.after) + (1 if cs.manual else 0)
        if by_hand:
            people.append(f"{by_hand} step(s) by hand")
        findings = open_findings(plan, sets, index)
        if findings:
            people.append(f"accept {len(findings)} open high/critical finding(s): "
                          f"{', '.join(sorted({code for code, _, _ in findings}))}")  # fmt: skip
        seen = observed.get(observed_key(cs))
        change = round(seen) if seen is not None else RECONCILE_MINUTES + BY_HAND_MINUTES * by_hand
        soak = cs.soak_minutes or soak_of.get(cs.environment, 0)
        lesson = soak_lesson(sets, steps or {}, index)
        if lesson is not None:
            soak = round(soak * lesson.factor)
        begin, window = cursor, ""
        env_windows = windows.get(cs.environment, [])
        if heavy and env_windows:
            opening = next_opening(env_windows, cursor, change)
            if opening is None:
                notes.append(f"{cs.key}: no maintenance window of {cs.environment} within a year fits its "
                             f"{change} min change")  # fmt: skip
            else:
                begin, window = max(cursor, opening.start.astimezone(UTC)), opening.describe()
        end = begin + timedelta(minutes=change + soak)
        entries.append(TimelineEntry(
            key=cs.key, environment=cs.environment, clusters=cs.clusters, hop=f"{cs.from_version} -> {cs.to_version}",
            phase=cs.phase, disruptive=heavy, people=people, start=begin, change_minutes=change, soak_minutes=soak,
            end=end, window=window, basis="observed" if seen is not None else "estimate",
            soak_reason=lesson.reason if lesson else "",
        ))  # fmt: skip
        cursor = end
    if not any(windows.values()) and heavy:
        notes.append("the fleet file declares no maintenance_windows: disruptive change sets are placed back to back")
    notes.append(f"durations: {RECONCILE_MINUTES} min per commit to reconcile and {BY_HAND_MINUTES} min per step by "
                 "hand unless observed by a run; waits for approval are not sized")  # fmt: skip
    finish = entries[-1].end if entries else start
    return Timeline(
        start=start, end=finish, total_minutes=int((finish - start).total_seconds() // 60), entries=entries,
        windows={env: [w.describe() for w in specs] for env, specs in windows.items() if specs}, notes=notes,
    )  # fmt: skip
