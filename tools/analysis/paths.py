"""Upgrade-path planner: current -> target as the shortest sequence of hops that obeys every rule.

Nodes are the current version, the newest patch of every known line in between, and the target.
A hop is allowed when it satisfies every path rule of the tool's knowledge (required intermediate
versions, one minor at a time, patch first). Among paths with the fewest hops the planner prefers
the one whose versions stay inside each cluster's supported Kubernetes range. Each hop says why it
exists, which clusters its version does not support, which breaking changes it crosses and how far
back it can be rolled.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import date

from upgradectl.models import Hop, HopKind, UpgradePath
from upgradectl.tools.analysis.charted import ChartedTarget, newest_shipped_patch, shipped_versions, ships
from upgradectl.tools.knowledge.loader import KubeRange, PathRule, ToolKnowledge
from upgradectl.tools.knowledge.support import kubernetes_opening, line_support
from upgradectl.tools.versions import Version, kube_minor, minor_distance


class PathError(ValueError):
    """No path can be planned; the message says why and what to change."""


def hop_violations(knowledge: ToolKnowledge, a: str, b: str, charted: bool = False) -> list[PathRule]:
    """Rules that the hop a -> b breaks (empty when the hop is allowed). `charted`: the tool is installed from a
    chart, so a line's "latest patch" is the newest one a chart ships."""
    broken = []
    va = Version.parse(a)
    for rule in knowledge.path_rules:
        if rule.kind == "entry":
            if not (rule.crossed_by(a, b) and rule.applies(a)):
                continue
            if not rule.from_ok(a) or (rule.from_latest_patch and not _is_latest_patch(knowledge, a, charted)):
                broken.append(rule)
        elif rule.kind == "max_minor_step":
            vb = Version.parse(b)
            if (
                va.major != vb.major
                or minor_distance(a, b) > rule.max_minor_step
                or rule.from_latest_patch
                and va.line != vb.line
                and not _is_latest_patch(knowledge, a, charted)
            ):
                broken.append(rule)
    return broken


def _is_latest_patch(knowledge: ToolKnowledge, version: str, charted: bool = False) -> bool:
    release = knowledge.release(version)
    if release is None:
        return False
    latest = (newest_shipped_patch(knowledge, release.line) if charted else "") or release.latest_patch
    return Version.parse(latest) <= Version.parse(version)


def known_kubernetes(kubernetes_version: str) -> bool:
    """False for a cluster whose Kubernetes version is not known (a Git-only cluster without one given)."""
    return bool(kubernetes_version) and kubernetes_version != "0.0.0"


def unsupported_clusters(knowledge: ToolKnowledge, version: str, kube_versions: Mapping[str, str]) -> list[str]:
    """Clusters whose Kubernetes version lies outside the range this tool version supports. A cluster whose
    version is unknown is never listed: its compatibility is unknown, which the inventory reports."""
    kube_range = knowledge.kube_range(version)
    if kube_range is None:
        return []
    return sorted(c for c, kv in kube_versions.items() if known_kubernetes(kv) and not kube_range.contains(kv))


def latest_compatible(
    knowledge: ToolKnowledge, kube_versions: Mapping[str, str], today: date, lts: bool = False
) -> tuple[str, str]:
    """The newest release (or LTS release) whose Kubernetes range covers every cluster, with the reason.

    Lines that still receive fixes come first: an older supported line (an LTS line) beats a newer line whose
    support ended. Lines whose upgrade notes nobody reviewed (added by `knowledge refresh`) are never chosen
    here: their breaking changes and Kubernetes range are unknown, so they must be named explicitly."""
    if lts and not any(r.lts for r in knowledge.releases):
        raise PathError(f"{knowledge.display_name} publishes no long-term-support lines; drop 'LTS' or name a version")
    fitting = [
        release
        for release in reversed(knowledge.releases)
        if release.latest_patch not in release.avoid
        and (release.lts or not lts)
        and release.notes_reviewed
        and not unsupported_clusters(knowledge, release.latest_patch, kube_versions)
    ]
    if not fitting:
        return _least_kubernetes_change(knowledge, kube_versions, lts)
    supported = [r for r in fitting if line_support(knowledge, r.line, today).supported]
    release = (supported or fitting)[0]
    listed = ", ".join(f"{c} ({v if known_kubernetes(v) else 'Kubernetes unknown'})"
                       for c, v in sorted(kube_versions.items()))  # fmt: skip
    kube_range = knowledge.kube_range(release.latest_patch)
    compat = f"supports Kubernetes {kube_range}" if kube_range else "publishes no Kubernetes range"
    lts_note = next((n for n in release.notes if "LTS" in n), "") if lts else ""
    reason = (
        f"latest {knowledge.display_name} {'LTS ' if lts else ''}release compatible with every target cluster: "
        f"{release.latest_patch} {compat}; clusters: {listed}" + (f"; {lts_note}" if lts_note else "")
    )
    if supported and release is not fitting[0]:
        reason += (
            f"; preferred over {fitting[0].latest_patch} because line {release.line} still receives fixes and "
            f"{fitting[0].line} does not"
        )
    elif knowledge.support is not None and not supported:
        opening = kubernetes_opening(knowledge, kube_versions, today)
        reason += f"; NO line that still receives fixes fits these clusters: {release.line} is out of support" + (
            f" ({opening.describe(knowledge)})" if opening else ""
        )
    unreviewed = [r.line for r in knowledge.releases if not r.notes_reviewed]
    if unreviewed:
        reason += (
            f"; newer line(s) {', '.join(unreviewed)} found upstream but their upgrade notes are not reviewed: "
            "name one with --to to plan it anyway"
        )
    return release.latest_patch, reason


def _kubernetes_gap(knowledge: ToolKnowledge, version: str, kube_versions: Mapping[str, str]) -> int:
    """Kubernetes minors every cluster would have to move for `version` to support it (0: it fits)."""
    kube_range = knowledge.kube_range(version)
    if kube_range is None:
        return 0
    low, high = kube_minor(kube_range.min)[1], kube_minor(kube_range.max)[1]
    gap = 0
    for kubernetes in kube_versions.values():
        if known_kubernetes(kubernetes):
            minor = kube_minor(kubernetes)[1]
            gap += max(low - minor, minor - high, 0)
    return gap


def _least_kubernetes_change(knowledge: ToolKnowledge, kube_versions: Mapping[str, str], lts: bool) -> tuple[str, str]:
    """When no release supports every cluster's Kubernetes: the newest release that needs the least Kubernetes
    change, so the plan is written (not feasible, its blockers say which Kubernetes upgrade comes first)."""
    candidates = [r for r in reversed(knowledge.releases)
                  if r.latest_patch not in r.avoid and (r.lts or not lts) and r.notes_reviewed]  # fmt: skip
    listed = ", ".join(f"{c}={v}" for c, v in sorted(kube_versions.items()))
    if not candidates:
        raise PathError(f"no known {knowledge.display_name} release to plan for ({listed}); name a version with --to")
    release = min(
        candidates, key=lambda r: _kubernetes_gap(knowledge, r.latest_patch, kube_versions)
    )  # ties: the newest
    return release.latest_patch, (
        f"no known {knowledge.display_name} {'LTS ' if lts else ''}release supports every cluster's Kubernetes version "
        f"({listed}); {release.latest_patch} (supports Kubernetes {knowledge.kube_range(release.latest_patch)}) needs "
        "the least Kubernetes change: upgrade Kubernetes first (see the blockers)"
    )


def security_target(
    knowledge: ToolKnowledge, current_lines: set[str], kube_versions: Mapping[str, str], today: date
) -> tuple[str, str] | None:
    """For a security request without a version: the newest patch of the running line when that line still
    receives fixes and supports every cluster (the smallest change that carries the fixes), with the reason.
    None when that does not apply (several lines running, a line out of support, an unknown policy)."""
    if knowledge.support is None or len(current_lines) != 1:
        return None
    line = next(iter(current_lines))
    release = knowledge.release(line)
    support = line_support(knowledge, line, today)
    if release is None or not support.supported or release.latest_patch in release.avoid:
        return None
    if unsupported_clusters(knowledge, release.latest_patch, kube_versions):
        return None
    return release.latest_patch, (
        f"security fix with the smallest change: the newest patch of the running line {line}, which still "
        f"receives fixes ({support.reason})"
    )


def charted_target(
    knowledge: ToolKnowledge, wanted: str, current: str, kube_versions: Mapping[str, str], security: bool = False
) -> ChartedTarget | None:
    """For a chart install: the version planned instead of `wanted` (which no chart may ship). The newest shipped
    version from `current` up to `wanted` (fitting every cluster's Kubernetes when `wanted` does); for a security
    target the smallest shipped later patch of the same line first (it carries the fix), and when none exists
    the older shipped version with `missing_fix` set. None when no shipped version lies in between."""
    if ships(knowledge, wanted):
        return ChartedTarget(wanted, wanted, knowledge.chart_version_for(wanted), False)
    need_fit = not unsupported_clusters(knowledge, wanted, kube_versions)
    shipped = [
        v for v in shipped_versions(knowledge) if not need_fit or not unsupported_clusters(knowledge, v, kube_versions)
    ]
    floor, ceiling = Version.parse(current), Version.parse(wanted)
    if security:  # a later patch of the same line carries the fix; another line is not a security patch
        later = [v for v in shipped if Version.parse(v) > ceiling and Version.parse(v).line == ceiling.line]
        if later:
            return ChartedTarget(later[0], wanted, knowledge.chart_version_for(later[0]), False)
    below = [v for v in shipped if floor <= Version.parse(v) <= ceiling]
    if not below:
        return None
    chosen = below[-1]
    return ChartedTarget(chosen, wanted, knowledge.chart_version_for(chosen), security)


def resolve_target(knowledge: ToolKnowledge, requested: str) -> str:
    """'1.0' -> latest 1.0 patch; '1.0.10' stays; unknown lines fail with the known range."""
    version = Version.parse(requested)
    release = knowledge.release(requested)
    if release is None:
        raise PathError(
            f"{knowledge.display_name} {requested} is not a known release (known: {knowledge.releases[0].line} to "
            f"{knowledge.releases[-1].latest_patch}); pick a version in that range"
        )
    if version.is_line:
        return release.latest_patch
    if version > Version.parse(release.latest_patch):
        raise PathError(
            f"{knowledge.display_name} {requested} is newer than the newest known {release.line} patch "
            f"({release.latest_patch}); use {release.latest_patch} or a line name like {release.line}"
        )
    if str(version) in release.avoid:
        raise PathError(f"{knowledge.display_name} {requested} is a release to avoid; use {release.latest_patch}")
    return str(version)


def required_kubernetes(
    knowledge: ToolKnowledge, version: str, kube_versions: Mapping[str, str], route: list[str] | None = None
) -> list[str]:
    """For each cluster outside `version`'s range, what Kubernetes change it needs, and when on the
    route (the newest stop whose range covers both the cluster's Kubernetes and the one needed)."""
    kube_range = knowledge.kube_range(version)
    needs = []
    for cluster in unsupported_clusters(knowledge, version, kube_versions):
        current = kube_versions[cluster]
        assert kube_range is not None
        if kube_minor(current) < kube_minor(kube_range.min):
            text = (
                f"upgrade Kubernetes on {cluster} from {_minor(current)} to at least {kube_range.min} before "
                f"{knowledge.display_name} {version} (it supports {kube_range})"
            )
            bridge = [
                v
                for v in (route or [])[:-1]
                if (r := knowledge.kube_range(v)) and r.contains(current) and r.contains(kube_range.min)
            ]
            if bridge:
                text += (
                    f": go to {knowledge.display_name} {bridge[-1]} first (it supports "
                    f"{knowledge.kube_range(bridge[-1])}), upgrade Kubernetes there, then continue"
                )
            needs.append(text)
        else:
            needs.append(
                f"{cluster} runs Kubernetes {_minor(current)}, newer than {knowledge.display_name} {version} supports "
                f"({kube_range}); choose a newer {knowledge.display_name} target"
            )
    return needs


def unreviewed_lines_crossed(knowledge: ToolKnowledge, a: str, b: str) -> list[str]:
    """Lines whose upgrade notes nobody reviewed (added by `knowledge refresh`) that a -> b enters."""
    return [
        r.line
        for r in knowledge.releases
        if not r.notes_reviewed and Version.parse(a) < Version.parse(f"{r.line}.0") <= Version.parse(b)
    ]


def _minor(kubernetes_version: str) -> str:
    major, minor = kube_minor(kubernetes_version)
    return f"{major}.{minor}"


def _candidates(knowledge: ToolKnowledge, current: str, target: str, charted: bool = False) -> list[str]:
    """Stops between current and target: each line's newest patch (for a chart install, the newest a chart ships)."""
    lo, hi = Version.parse(current), Version.parse(target)
    nodes = {str(lo), str(hi)}
    for release in knowledge.releases:
        newest = newest_shipped_patch(knowledge, release.line) if charted else release.latest_patch
        if not newest:
            continue
        patch = Version.parse(newest)
        if lo < patch < hi and newest not in release.avoid:
            nodes.add(str(patch))
    return sorted(nodes, key=Version.parse)


def shortest_path(
    knowledge: ToolKnowledge, current: str, target: str, kube_versions: Mapping[str, str], charted: bool = False
) -> list[str]:
    """Versions from current to target (inclusive) with the fewest allowed hops; [] when none exists. `charted`:
    every stop after the start is a version a chart of the tool's repository ships."""
    nodes = _candidates(knowledge, current, target, charted)
    start, goal = str(Version.parse(current)), str(Version.parse(target))
    # priority: fewest hops, then fewest hops onto versions some cluster does not support, then the
    # route whose stops are highest (newer intermediates carry more fixes, e.g. the latest 0.37 before 1.0)
    def priority(route: list[str], bad: int) -> tuple:
        return (len(route) - 1, bad, [tuple(-x for x in Version.parse(v).key()) for v in route])

    queue: list[tuple[tuple, str, list[str], int]] = [(priority([start], 0), start, [start], 0)]
    best: dict[str, tuple] = {}
    while queue:
        rank, node, route, bad = heapq.heappop(queue)
        if node == goal:
            return route
        if node in best and best[node] <= rank:
            continue
        best[node] = rank
        for nxt in nodes:
            if Version.parse(nxt) <= Version.parse(node) or hop_violations(knowledge, node, nxt, charted):
                continue
            worse = bad + (1 if unsupported_clusters(knowledge, nxt, kube_versions) else 0)
            heapq.heappush(queue, (priority([*route, nxt], worse), nxt, [*route, nxt], worse))
    return []


def _hop_reason(
    knowledge: ToolKnowledge, route: list[str], index: int, target_reason: str, charted: bool = False
) -> tuple[HopKind, str, bool]:
    a, b = route[index], route[index + 1]
    if index + 1 == len(route) - 1:
        return "target", target_reason, False
    c = route[index + 2]
    forcing = [
        r
        for r in knowledge.path_rules
        if not hop_violations_rule(knowledge, r, b, c, charted) and hop_violations_rule(knowledge, r, a, c, charted)
    ]
    if Version.parse(a).line == Version.parse(b).line:
        kind: HopKind = "patch-first"
    elif any(r.kind == "max_minor_step" for r in forcing):
        kind = "one-minor"
    else:
        kind = "required-intermediate"
    if forcing:
        return kind, "; ".join(r.reason for r in forcing), any(r.uncertain for r in forcing)
    return (
        kind,
        (f"{b} keeps the path inside the supported Kubernetes range where a direct hop to {c} would not"),
        False,
    )


def hop_violations_rule(knowledge: ToolKnowledge, rule: PathRule, a: str, b: str, charted: bool = False) -> bool:
    """True when the hop a -> b breaks this one rule."""
    return rule in hop_violations(knowledge, a, b, charted)


def plan_path(
    knowledge: ToolKnowledge,
    current: str,
    target: str,
    kube_versions: Mapping[str, str],
    target_reason: str = "requested target",
    charted: bool = False,
) -> UpgradePath:
    """Plan the path for the clusters in `kube_versions` (all at `current`). `charted`: the tool is installed from
    a chart, so every stop is a version a chart ships (the target must already be one: `charted_target`)."""
    clusters = sorted(kube_versions)
    if Version.parse(target) < Version.parse(current):
        raise PathError(
            f"{knowledge.display_name} target {target} is older than the current {current}; upgradectl plans "
            "upgrades only (a downgrade is a rollback: see the plan's rollback steps)"
        )
    if knowledge.release(current) is None:
        oldest = knowledge.releases[0].line
        if Version.parse(current) < Version.parse(oldest):  # a plan that says what must happen first, no hops
            blocker = (
                f"{knowledge.display_name} {current} on {', '.join(clusters)} is older than the releases the knowledge "
                f"base covers ({oldest} to {knowledge.newest()}): upgrade it to {knowledge.latest_patch(oldest)} by "
                "that release's own upgrade notes first, then plan again"
            )
            return UpgradePath(tool=knowledge.tool, clusters=clusters, from_version=current, to_version=target, hops=[],
                               feasible=False, blockers=[blocker])  # fmt: skip
        raise PathError(f"{knowledge.display_name} {current} is not in a known release line; cannot plan from it")
    route = shortest_path(knowledge, current, target, kube_versions, charted) if current != target else [current]
    if not route:
        raise PathError(f"no rule-abiding path from {knowledge.display_name} {current} to {target}")
    blockers = required_kubernetes(knowledge, target, kube_versions, route)
    hops = []
    for i in range(len(route) - 1):
        a, b = route[i], route[i + 1]
        kind, reason, uncertain = _hop_reason(knowledge, route, i, target_reason, charted)
        kube_range: KubeRange | None = knowledge.kube_range(b)
        changes = knowledge.changes_crossed(a, b, path_start=current)
        limits = knowledge.rollback_limits_crossed(a, b)
        unreviewed = unreviewed_lines_crossed(knowledge, a, b)
        hops.append(
            Hop(
                from_version=a,
                to_version=b,
                kind=kind,
                reason=reason,
                kubernetes_range=str(kube_range) if kube_range else "",
                unsupported_on=unsupported_clusters(knowledge, b, kube_versions),
                notes=[f"{c.version}: {c.title}" for c in changes]
                + [f"{line}: upgrade notes not reviewed (line added by knowledge refresh)" for line in unreviewed],
                rollback="; ".join(lim.description for lim in limits)
                or f"roll back to {a} with the previous chart version",
                uncertain=uncertain
                or bool(unreviewed)
                or any(c.uncertain for c in changes)
                or any(lim.uncertain for lim in limits),
            )
        )
    return UpgradePath(
        tool=knowledge.tool,
        clusters=clusters,
        from_version=current,
        to_version=target,
        hops=hops,
        feasible=not blockers,
        blockers=blockers,
    )
