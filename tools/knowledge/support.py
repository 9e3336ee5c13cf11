"""Support windows: which minor lines of a tool still receive fixes on a given day, and why.

A line is supported when upstream's own end date for it (`Release.support.until`) has not passed, or
it is one of the tool's newest `support.newest_lines` known lines, or it is an LTS line released less
than `support.lts_months` ago. Each answer carries the fact it rests on and that fact's source, so a
finding built on it can cite it. Dates are judged against `today` (see `freshness.today`).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from upgradectl.tools.knowledge.loader import KubeRange, Release, ToolKnowledge
from upgradectl.tools.versions import Version, kube_minor

SupportStatus = Literal["supported", "ended", "unknown"]


@dataclass(frozen=True)
class LineSupport:
    """Whether one minor line still gets fixes, with the reason in words and the source of that reason."""

    line: str
    status: SupportStatus
    reason: str
    source: str
    where: str = ""  # the knowledge entry the reason comes from, e.g. releases[1.9].support
    until: str = ""
    uncertain: bool = False

    @property
    def supported(self) -> bool:
        return self.status == "supported"


def parse_date(text: str, end_of_month: bool = False) -> date:
    """'2027-02' -> 2027-02-01 (or 2027-02-28 with end_of_month); '2027-02-13' -> that day."""
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 3:
        return date(parts[0], parts[1], parts[2])
    day = calendar.monthrange(parts[0], parts[1])[1] if end_of_month else 1
    return date(parts[0], parts[1], day)


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def line_support(knowledge: ToolKnowledge, line: str, today: date) -> LineSupport:
    """Whether `line` (a version or line of `k`) still receives fixes on `today`."""
    release = knowledge.release(line)
    policy = knowledge.support
    name = Version.parse(line).line
    if release is None:
        return LineSupport(name, "unknown", f"{knowledge.display_name} {name} is not a known line", "")
    where = f"releases[{release.line}]"
    if policy is None:
        return LineSupport(
            name, "unknown", f"which {knowledge.display_name} lines get fixes is not in the knowledge base", "", where
        )
    newest = newest_lines(knowledge)
    if release.support is not None:
        end = parse_date(release.support.until, end_of_month=True)
        ok = today <= end
        return LineSupport(
            name,
            "supported" if ok else "ended",
            f"{knowledge.display_name} {name} {'is supported until' if ok else 'stopped receiving fixes after'} "
            f"{release.support.until}",
            release.support.source,
            f"{where}.support",
            release.support.until,
            release.support.uncertain,
        )
    if release.line in newest:
        return LineSupport(
            name,
            "supported",
            f"{knowledge.display_name} {name} is one of the newest {policy.newest_lines} line(s) "
            f"({', '.join(newest)}): {policy.summary}",
            policy.source,
            "support",
            uncertain=policy.uncertain,
        )
    if release.lts and policy.lts_months and release.released:
        end = _add_months(parse_date(release.released), policy.lts_months)
        ok = today <= end
        return LineSupport(
            name,
            "supported" if ok else "ended",
            f"{knowledge.display_name} {name} is an LTS line released {release.released}: {policy.lts_months} months "
            f"of fixes {'run until' if ok else 'ended'} {end.isoformat()}",
            policy.source,
            "support",
            end.isoformat(),
            policy.uncertain or release.uncertain,
        )
    return LineSupport(
        name,
        "ended",
        f"{knowledge.display_name} {name} is not one of the newest {policy.newest_lines} line(s) ({', '.join(newest)})"
        + (" nor an LTS line still in its window" if policy.lts_months else "")
        + f": {policy.summary}",
        policy.source,
        "support",
        uncertain=policy.uncertain,
    )


def newest_lines(knowledge: ToolKnowledge) -> list[str]:
    """The newest `support.newest_lines` known lines, newest first (lines whose notes nobody reviewed count:
    upstream supports them whether or not this knowledge base has read them)."""
    count = knowledge.support.newest_lines if knowledge.support else 0
    return [r.line for r in reversed(knowledge.releases)][:count]


def supported_lines(knowledge: ToolKnowledge, today: date) -> list[Release] | None:
    """The lines that receive fixes on `today`, newest first; None when the policy is not known."""
    if knowledge.support is None:
        return None
    return [r for r in reversed(knowledge.releases) if line_support(knowledge, r.line, today).supported]


@dataclass(frozen=True)
class KubernetesOpening:
    """The Kubernetes upgrade that would let a supported line run on every cluster."""

    release: Release
    kube_range: KubeRange
    behind: dict[str, str]  # cluster -> its Kubernetes minor, for clusters below the range

    def describe(self, knowledge: ToolKnowledge) -> str:
        clusters = ", ".join(f"{c} ({v})" for c, v in sorted(self.behind.items()))
        return (
            f"upgrade Kubernetes on {clusters} to {self.kube_range.min} (one minor at a time) to open "
            f"{knowledge.display_name} {self.release.line} ({self.release.latest_patch}, supports Kubernetes "
            f"{self.kube_range})"
        )


def kubernetes_opening(
    knowledge: ToolKnowledge, kube_versions: Mapping[str, str], today: date
) -> KubernetesOpening | None:
    """The smallest Kubernetes upgrade after which a supported, reviewed line fits every cluster (None when no
    supported line has a known range that any Kubernetes upgrade could reach)."""
    best: KubernetesOpening | None = None
    for release in supported_lines(knowledge, today) or []:
        kube_range = release.kube_range_for(release.latest_patch)
        if kube_range is None or not release.notes_reviewed:
            continue
        if any(kube_minor(v) > kube_minor(kube_range.max) for v in kube_versions.values()):
            continue  # a cluster is already newer than this line supports: upgrading Kubernetes cannot help
        behind = {
            c: f"{kube_minor(v)[0]}.{kube_minor(v)[1]}"
            for c, v in kube_versions.items()
            if kube_minor(v) < kube_minor(kube_range.min)
        }
        if best is None or kube_minor(kube_range.min) < kube_minor(best.kube_range.min):
            best = KubernetesOpening(release, kube_range, behind)
    return best
