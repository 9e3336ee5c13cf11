"""Stage 1's security research: the advisories OSV lists for the running and target versions, and the findings
that say what the upgrade fixes, what it leaves open and whether a patch of the running line is enough."""

from __future__ import annotations

from upgradectl.agents.base import make_finding
from upgradectl.models import Advisory, AdvisoryReport, Evidence, Finding, Subject
from upgradectl.tools.knowledge.loader import ToolKnowledge

AGENT = "flux-navigator"


def _evidence(report: AdvisoryReport, advisories: list[Advisory]) -> list[Evidence]:
    when = f" ({'cached ' if report.status == 'cached' else ''}answer of {report.fetched_at or 'unknown date'})"
    return [
        Evidence(source="advisories", ref=f"OSV {a.id}{when}",
                 excerpt=f"{a.id} ({a.severity}) affects {', '.join(a.affects) or '-'}; fixed in "
                 f"{', '.join(a.fixed) or 'no release yet'}: {a.summary[:200]}")  # fmt: skip
        for a in advisories[:8]
    ]


def describe(a: Advisory) -> str:
    """'GHSA-9766-5277-j5hr (critical, CVE-2024-31989): summary; fixed in 2.8.19, 2.9.15, 2.10.10'."""
    cve = next((x for x in a.aliases if x.startswith("CVE-")), "")
    return f"{a.id} ({a.severity}{', ' + cve if cve else ''}): {a.summary}; fixed in {', '.join(a.fixed) or 'none yet'}"


def advisory_findings(knowledge: ToolKnowledge, report: AdvisoryReport | None, security: bool) -> list[Finding]:
    """What the plan must say about vulnerabilities: not checked (security requests), fixed by the target,
    still open at the target, and a patch of the running line that does not suffice."""
    if report is None:
        return []
    subject = Subject(tool=knowledge.tool, version=report.target)
    if report.status == "not-checked":
        if not security:
            return []
        return [
            make_finding(
                code=f"{knowledge.prefix}-ADVISORIES-NOT-CHECKED",
                severity="medium",
                category="incomplete",
                title=f"Security request, but the advisories of {knowledge.display_name} could not be checked: the "
                "target was chosen without knowing what it fixes",
                agent=AGENT,
                subject=subject,
                evidence=[Evidence(source="advisories", ref=report.source or "OSV", excerpt=report.reason[:500])],
                remediation="Let upgradectl reach OSV (or `--osv-url` a mirror), or plan once online so the answers "
                "are cached for offline use; then plan again. Read the project's security advisories before "
                "approving.",
            )  # fmt: skip
        ]
    findings = []
    running = [a for a in report.advisories if set(a.affects) - {report.target}]
    fixed = [a for a in running if a.id in report.fixed_by_target]
    if fixed:
        serious = [a for a in fixed if a.serious]
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-ADVISORIES-FIXED",
                severity="info",
                category="security",
                title=f"{knowledge.display_name} {report.target} fixes {len(fixed)} advisory(ies) of the running "
                      "version(s)"
                + (f", {len(serious)} of them high or critical" if serious else ""),
                agent=AGENT,
                subject=subject,
                evidence=_evidence(report, serious or fixed),
                detail="; ".join(describe(a) for a in (serious or fixed)[:10]),
            )  # fmt: skip
        )
    open_at_target = [a for a in report.advisories if a.id in report.at_target]
    if open_at_target:
        serious = [a for a in open_at_target if a.serious]
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-TARGET-VULNERABLE",
                severity=("high" if security else "medium") if serious else "low",
                category="security",
                title=f"{knowledge.display_name} {report.target} is still affected by {len(open_at_target)} "
                      "advisory(ies)"
                + (f", {len(serious)} high or critical" if serious else ""),
                agent=AGENT,
                subject=subject,
                evidence=_evidence(report, serious or open_at_target),
                detail="; ".join(describe(a) for a in (serious or open_at_target)[:10]),
                remediation="Target a version the advisories name as fixed"
                + (
                    f" (smallest that fixes every high/critical one: {report.minimal_target})"
                    if report.minimal_target and report.minimal_target != report.target
                    else ""
                )
                + ", or accept the exposure in the change record.",
            )  # fmt: skip
        )
    if report.patch_suffices is False and security:
        findings.append(
            make_finding(
                code=f"{knowledge.prefix}-SECURITY-PATCH-INSUFFICIENT", severity="medium", category="security",
                title=f"A patch of the running {knowledge.display_name} line does not fix every high/critical advisory",
                agent=AGENT, subject=subject,
                evidence=_evidence(report, [a for a in report.advisories if a.serious and a.id not in report.at_target]
                                   or report.advisories),
                detail=report.patch_note,
                remediation=f"Plan the minor upgrade to {report.minimal_target or 'a fixed line'} "
                "(this plan's target) rather than a patch; its path and breaking changes are below.",
            )  # fmt: skip
        )
    return findings


def advisory_summary(report: AdvisoryReport) -> str:
    """The plan summary's sentence on vulnerabilities: what the target fixes and leaves, whether a patch suffices,
    and how current the answers are; never 'none' when they could not be checked."""
    if report.status == "not-checked":
        return f"Vulnerabilities: not checked ({report.reason[:200]})."
    running = {i for ids in report.running.values() for i in ids}
    serious = [a for a in report.advisories if a.id in running and a.serious]
    text = (f"Vulnerabilities (OSV, {'cached snapshot of ' if report.status == 'cached' else ''}"
            f"{report.fetched_at or 'unknown date'}): {len(running)} affect the running version(s)"
            f" ({len(serious)} high/critical); {report.target} fixes {len(report.fixed_by_target)}, "
            f"{len(report.at_target)} still affect it.")
    if report.minimal_target:
        text += f" Smallest target fixing every high/critical one: {report.minimal_target}."
    if report.patch_note:
        text += f" {report.patch_note[0].upper()}{report.patch_note[1:]}."
    return text
