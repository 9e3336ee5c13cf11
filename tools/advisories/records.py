"""OSV records -> Advisory: severity, fixed-in versions and links, with records that alias each other merged.

OSV lists one vulnerability under several ids (GHSA-..., GO-..., CVE-..., BIT-...): records whose ids or
aliases overlap are one advisory, shown under its GHSA id when it has one. Severity is the record's own rating
(`database_specific.severity`, as the GitHub Advisory Database and Bitnami publish it, or an affected entry's
`ecosystem_specific.severity`), else the CVSS v3 base score computed from the vector; the highest of the merged
records wins. A record rated nowhere is `unknown`, which the security target treats like high.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from upgradectl.models import Advisory, AdvisorySeverity
from upgradectl.tools.versions import Version, VersionError

RANK: dict[AdvisorySeverity, int] = {"unknown": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
WORDS: dict[str, AdvisorySeverity] = {"low": "low", "moderate": "medium", "medium": "medium", "high": "high",
                                      "critical": "critical"}  # fmt: skip

_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "CIA": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(value: float) -> float:
    """CVSS v3.1's Roundup: the smallest number with one decimal that is >= value."""
    whole = round(value * 100000)
    return whole / 100000.0 if whole % 10000 == 0 else (math.floor(whole / 10000) + 1) / 10.0


def cvss3_score(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector like 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' (None if malformed),
    per the formulas of the CVSS v3.1 specification, section 7.1."""
    parts = dict(p.split(":", 1) for p in vector.split("/")[1:] if ":" in p)
    if not vector.startswith("CVSS:3.") or not {"AV", "AC", "PR", "UI", "S", "C", "I", "A"} <= parts.keys():
        return None
    try:
        changed = parts["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[parts["PR"]]
        c, i, a = (_CVSS3["CIA"][parts[m]] for m in ("C", "I", "A"))
        base = 1 - (1 - c) * (1 - i) * (1 - a)
        impact = 7.52 * (base - 0.029) - 3.25 * (base - 0.02) ** 15 if changed else 6.42 * base
        exploit = 8.22 * _CVSS3["AV"][parts["AV"]] * _CVSS3["AC"][parts["AC"]] * pr * _CVSS3["UI"][parts["UI"]]
    except KeyError:
        return None
    if impact <= 0:
        return 0.0
    return _roundup(min(1.08 * (impact + exploit) if changed else impact + exploit, 10.0))


def score_severity(score: float) -> AdvisorySeverity:
    """CVSS qualitative rating: 9.0+ critical, 7.0+ high, 4.0+ medium, else low."""
    return "critical" if score >= 9.0 else "high" if score >= 7.0 else "medium" if score >= 4.0 else "low"


def record_severity(record: dict[str, Any]) -> tuple[AdvisorySeverity, str]:
    """(severity, where it came from) of one OSV record."""
    rid = record.get("id", "?")
    word = str((record.get("database_specific") or {}).get("severity", "")).lower()
    if word in WORDS:
        return WORDS[word], f"{rid} database_specific.severity {word.upper()}"
    for affected in record.get("affected") or []:
        word = str((affected.get("ecosystem_specific") or {}).get("severity", "")).lower()
        if word in WORDS:
            return WORDS[word], f"{rid} ecosystem_specific.severity {word.upper()}"
    vectors = [s for a in [record, *(record.get("affected") or [])] for s in a.get("severity") or []]
    for entry in vectors:
        if str(entry.get("type", "")).startswith("CVSS_V3") and (score := cvss3_score(str(entry.get("score", "")))):
            return score_severity(score), f"{rid} CVSS {score:.1f} ({entry['score']})"
    return "unknown", f"{rid} carries no severity"


def _clean(version: str) -> str:
    """'v2.10.10' -> '2.10.10'; '' for anything that is not a plain release (pre-releases, commits, '0')."""
    text = str(version).strip().lstrip("v")
    if not text or "-" in text or "+" in text or text == "0":
        return ""
    try:
        parsed = Version.parse(text)
    except VersionError:
        return ""
    return str(parsed) if parsed.parts == 3 else ""


def fixed_versions(record: dict[str, Any], packages: set[tuple[str, str]]) -> list[str]:
    """Versions that fix the record for the given (ecosystem, name) packages, from SEMVER/ECOSYSTEM ranges."""
    fixed = set()
    for affected in record.get("affected") or []:
        package = affected.get("package") or {}
        if (package.get("ecosystem"), package.get("name")) not in packages:
            continue
        for range_ in affected.get("ranges") or []:
            if range_.get("type") not in ("SEMVER", "ECOSYSTEM"):
                continue
            fixed.update(v for e in range_.get("events") or [] if (v := _clean(e.get("fixed", ""))))
    return sorted(fixed, key=Version.parse)


def _links(record: dict[str, Any]) -> list[str]:
    refs = [r for r in record.get("references") or [] if isinstance(r, dict) and r.get("url")]
    first = [r["url"] for r in refs if r.get("type") == "ADVISORY"] + [r["url"] for r in refs]
    return list(dict.fromkeys(first))[:3]


def merge_records(records: Iterable[dict[str, Any]], packages: set[tuple[str, str]]) -> list[Advisory]:
    """One Advisory per vulnerability, records that share an id or alias merged."""
    groups: list[dict[str, Any]] = []
    for record in records:
        ids = {str(record.get("id"))} | {str(a) for a in record.get("aliases") or []}
        hits = [g for g in groups if g["ids"] & ids]
        group = {"ids": ids, "records": [record]}
        for hit in hits:
            group["ids"] |= hit["ids"]
            group["records"] += [r for r in hit["records"] if r not in group["records"]]
            groups.remove(hit)
        groups.append(group)
    advisories = []
    for group in groups:
        recs = sorted(group["records"], key=lambda r: (not str(r.get("id", "")).startswith("GHSA-"), str(r.get("id"))))
        ids = sorted(group["ids"])
        main = next((i for i in ids if i.startswith("GHSA-")), str(recs[0].get("id")))
        rated = [record_severity(r) for r in recs]
        severity, where = max(rated, key=lambda sw: RANK[sw[0]])
        fixed = sorted({v for r in recs for v in fixed_versions(r, packages)}, key=Version.parse)
        links = list(dict.fromkeys([f"https://osv.dev/vulnerability/{main}", *(u for r in recs for u in _links(r))]))
        advisories.append(
            Advisory(
                id=main, aliases=[i for i in ids if i != main], summary=str(recs[0].get("summary") or "")[:300],
                severity=severity, severity_source=where, fixed=fixed, links=links[:4],
                packages=sorted({f"{a['package'].get('ecosystem')} {a['package'].get('name')}" for r in recs
                                 for a in r.get("affected") or [] if isinstance(a.get("package"), dict)
                                 and (a["package"].get("ecosystem"), a["package"].get("name")) in packages}),
                published=min((str(r.get("published", "")) for r in recs if r.get("published")), default=""),
                modified=max((str(r.get("modified", "")) for r in recs), default=""),
            )  # fmt: skip
        )
    return sorted(advisories, key=lambda a: (-RANK[a.severity], a.id))
