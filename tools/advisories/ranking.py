"""What an upgrade fixes: the advisories of the running versions, the smallest target that fixes every
high/critical one, whether a patch of the running line is enough, and what still affects the target.

OSV answers "which advisories affect package P at version V"; the candidates for a security target are the
versions the advisories name as fixed plus the newest patch of every known line above the running one, kept
only when the knowledge base knows them, they fit every cluster's Kubernetes and are not releases to avoid.
One `querybatch` asks about every candidate; the first that no serious advisory of the running versions affects
(lines that still receive fixes first) is confirmed with a full `query`, so an advisory introduced after the
running version counts too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from upgradectl.models import Advisory, AdvisoryReport
from upgradectl.tools.advisories.osv import OsvClient, OsvError, PackageQuery
from upgradectl.tools.advisories.records import merge_records
from upgradectl.tools.analysis.paths import unsupported_clusters
from upgradectl.tools.knowledge.loader import AdvisoryPackage, ToolKnowledge
from upgradectl.tools.knowledge.support import line_support
from upgradectl.tools.versions import Version

MAX_CONFIRMATIONS = 5  # full queries to confirm a candidate (each one an advisory introduced later can refuse)


def packages_for(knowledge: ToolKnowledge, version: str, images: set[str]) -> list[AdvisoryPackage]:
    """The packages OSV lists `version` under: Go modules covering it, and image packages a cluster runs."""
    return [p for p in knowledge.advisory_packages
            if p.covers(version) and (not p.image or any(p.image in image for image in images))]  # fmt: skip


def _advisories_at(
    knowledge: ToolKnowledge, client: OsvClient, version: str, images: set[str]
) -> tuple[list[Advisory], list[str]]:
    packages = packages_for(knowledge, version, images)
    records = [r for p in packages for r in client.query(PackageQuery(p.ecosystem, p.name, version))]
    found = merge_records(records, {(p.ecosystem, p.name) for p in packages})
    return [a.model_copy(update={"affects": [version]}) for a in found], [f"{p.label()}@{version}" for p in packages]


def _same(a: Advisory, ids: set[str]) -> bool:
    return bool(({a.id} | set(a.aliases)) & ids)


def _candidates(
    knowledge: ToolKnowledge, running: list[str], serious: list[Advisory], kube: Mapping[str, str]
) -> list[str]:
    """Versions above every running one that could be a target: fixed-in versions and newest patches of lines."""
    floor = max(Version.parse(v) for v in running)
    versions = {v for a in serious for v in a.fixed} | {
        r.latest_patch for r in knowledge.releases if Version.parse(r.latest_patch) > floor
    }
    kept = []
    for version in versions:
        release = knowledge.release(version)
        if (release is None or not release.notes_reviewed or version in release.avoid
                or Version.parse(version) <= floor or Version.parse(version) > Version.parse(release.latest_patch)
                or unsupported_clusters(knowledge, version, kube)):  # fmt: skip
            continue
        kept.append(version)
    return sorted(kept, key=Version.parse)


def _merge(known: dict[str, Advisory], found: list[Advisory]) -> None:
    for advisory in found:
        same = next((a for a in known.values() if _same(a, {advisory.id, *advisory.aliases})), None)
        if same is None:
            known[advisory.id] = advisory
        else:
            known[same.id] = same.model_copy(update={"affects": sorted({*same.affects, *advisory.affects},
                                                                       key=Version.parse)})  # fmt: skip


def assess(
    knowledge: ToolKnowledge,
    client: OsvClient,
    running: list[str],
    kube: Mapping[str, str],
    today: date,
    images: set[str] | None = None,
    target: str | None = None,
) -> AdvisoryReport:
    """The advisory report for these running versions: with `target` None, choose the smallest target that fixes
    every high/critical advisory (`minimal_target`); else judge the given target. Never raises for OSV trouble:
    a question neither OSV nor the cache can answer makes the report 'not-checked' with the reason."""
    images = images or set()
    running = sorted(set(running), key=Version.parse)
    try:
        return _assess(knowledge, client, running, kube, today, images, target)
    except OsvError as exc:
        return AdvisoryReport(status="not-checked", source=client.url, reason=str(exc))


def _assess(knowledge, client, running, kube, today, images, target) -> AdvisoryReport:
    known: dict[str, Advisory] = {}
    queried: list[str] = []
    by_version: dict[str, list[str]] = {}
    for version in running:
        found, labels = _advisories_at(knowledge, client, version, images)
        queried += labels
        _merge(known, found)
        by_version[version] = [a.id for a in found]
    if not queried:
        return AdvisoryReport(status="not-checked", source=client.url,
                              reason=f"the knowledge base names no OSV package for {knowledge.display_name} "
                              f"{', '.join(running)}")  # fmt: skip
    serious = [a for a in known.values() if a.serious and a.affects]
    minimal, minimal_reason, patch_suffices, patch_note = "", "", None, ""
    if target is None and serious:
        minimal, minimal_reason, patch_suffices, patch_note, confirmed = _choose(
            knowledge, client, running, serious, kube, today, images, known
        )
        target = minimal or None
    elif target is None:
        patch_note = "no high or critical advisory affects the running version(s): a patch is not needed for them"
    at_target: list[str] = []
    if target:
        found, labels = _advisories_at(knowledge, client, target, images)
        queried += labels
        _merge(known, found)
        at_target = sorted({next(a.id for a in known.values() if _same(a, {f.id, *f.aliases})) for f in found})
    fixed_by_target = sorted(i for ids in by_version.values() for i in ids if target and i not in at_target)
    status, fetched = client.snapshot_date()
    cached_note = f"OSV unreachable ({client.unreachable}): answers from the cache" if client.unreachable else (
        "offline: answers from the cache" if client.offline else "")
    return AdvisoryReport(
        status=status, source=client.url if status == "checked" else str(client.cache.path if client.cache else ""),
        fetched_at=fetched, reason=cached_note if status == "cached" else "", packages=list(dict.fromkeys(queried)),
        running=by_version, target=target or "", at_target=at_target, fixed_by_target=sorted(set(fixed_by_target)),
        minimal_target=minimal, minimal_target_reason=minimal_reason, patch_suffices=patch_suffices,
        patch_note=patch_note, advisories=sorted(known.values(), key=lambda a: (a.id not in at_target, a.id)),
    )  # fmt: skip


def _choose(knowledge, client, running, serious, kube, today, images, known):
    """(minimal target, its reason, patch suffices, patch note, confirmed): the smallest candidate no serious
    advisory affects, lines still receiving fixes first."""
    serious_ids = {i for a in serious for i in (a.id, *a.aliases)}
    names = ", ".join(a.id for a in serious)
    candidates = _candidates(knowledge, running, serious, kube)
    questions = [(c, p) for c in candidates for p in packages_for(knowledge, c, images)]
    answers = client.query_ids([PackageQuery(p.ecosystem, p.name, c) for c, p in questions]) if questions else []
    hit: dict[str, set[str]] = {c: set() for c in candidates}
    for (candidate, _), ids in zip(questions, answers, strict=True):
        hit[candidate] |= ids
    clearing = [c for c in candidates if not hit[c] & serious_ids]
    lines = {Version.parse(v).line for v in running}
    on_line = [c for c in clearing if Version.parse(c).line in lines]
    if len(lines) == 1:
        line = next(iter(lines))
        if on_line:
            patch_suffices = True
            patch_note = f"a patch of the running line {line} suffices: {on_line[0]} fixes {names}"
        else:
            patch_suffices = False
            unfixed = [a for a in serious if not any(Version.parse(v).line == line for v in a.fixed)]
            patch_note = (f"a patch of the running line {line} does not suffice: "
                          + "; ".join(f"{a.id} ({a.severity}) is fixed only in "
                                      f"{', '.join(a.fixed) or 'no release yet'}" for a in unfixed or serious))
    else:
        patch_suffices, patch_note = None, f"several lines run ({', '.join(sorted(lines))}): no single patch"
    supported = [c for c in clearing if line_support(knowledge, c, today).status != "ended"]
    order = supported + [c for c in clearing if c not in supported]
    for candidate in order[:MAX_CONFIRMATIONS]:
        found, _ = _advisories_at(knowledge, client, candidate, images)
        new = [a for a in found if a.serious and not _same(a, serious_ids)]
        if new:
            continue  # an advisory introduced after the running version: the next candidate
        why = f"the smallest version that fixes every high/critical advisory of {', '.join(running)} ({names})"
        if candidate not in supported:
            why += f"; line {Version.parse(candidate).line} no longer receives fixes and no supported line fits"
        elif on_line and Version.parse(candidate).line not in lines:
            old_line = Version.parse(on_line[0]).line
            why += f"; preferred over {on_line[0]} because line {old_line} no longer receives fixes"
        return candidate, why, patch_suffices, patch_note, True
    return "", (f"no known {knowledge.display_name} version that fits the clusters fixes every high/critical advisory "
                f"({names})"), patch_suffices, patch_note, False
