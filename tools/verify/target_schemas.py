"""Which objects would stop validating when the control plane moves: each GitOps manifest and each recorded
cluster object of a built-in kind is validated (kubernetes-validate's bundled schemas, offline) at the Kubernetes
minor(s) it runs on now and at the target. An object that passes now and fails at the target is a break; one that
already fails now is reported apart (the upgrade is not what breaks it); a kind with no bundled schema (a custom
resource) is counted as not checked, never as passed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from upgradectl.tools.verify.manifests import ManifestValidator, builtin_kind
from upgradectl.tools.versions import kube_minor

# never validated: their data would reach error messages, and the upgrade does not change their schema
SKIPPED_KINDS = frozenset({"Secret"})


@dataclass(frozen=True)
class SchemaSubject:
    """One object to check: its document, where it was read, and the Kubernetes minors it runs on now."""

    doc: dict[str, Any]
    source: str  # "gitops" or "cluster"
    ref: str  # file:line, or cluster/namespace/name
    current: tuple[str, ...]  # minors of the clusters it runs on now, e.g. ("1.29",)
    cluster: str = ""
    file: str = ""
    line: int = 0

    @property
    def api_version(self) -> str:
        return str(self.doc.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))


@dataclass(frozen=True)
class SchemaBreak:
    """An object valid at `passes_at` that does not validate at the target: `error` is the validator's message."""

    subject: SchemaSubject
    passes_at: str
    error: str


@dataclass
class SchemaReport:
    """Breaks, objects already invalid now, and what could not be checked (kind apiVersion -> count, and why)."""

    target: str
    checked: int = 0
    breaks: list[SchemaBreak] = field(default_factory=list)
    already_invalid: list[tuple[SchemaSubject, str]] = field(default_factory=list)
    not_checked: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, str] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """One line per group of objects the report could not vouch for (never silently passed)."""
        lines = []
        if self.not_checked:
            kinds = ", ".join(f"{what} ({count})" for what, count in sorted(self.not_checked.items()))
            lines.append(f"{sum(self.not_checked.values())} object(s) not validated against Kubernetes "
                         f"{self.target} schemas (no built-in schema: custom resources or unknown kinds): {kinds}")
        for subject, error in self.already_invalid:
            lines.append(f"{subject.kind} {subject.ref} already fails validation at Kubernetes "
                         f"{', '.join(subject.current)} ({error}): not counted as broken by the upgrade")
        return lines


def check_for_target(subjects: list[SchemaSubject], target: str,
                     validator: ManifestValidator | None = None) -> SchemaReport:
    """Validate every subject now and at `target` (a minor such as '1.31')."""
    validator = validator or ManifestValidator()
    report = SchemaReport(target=target)
    for subject in subjects:
        if subject.kind in SKIPPED_KINDS:
            continue
        what = f"{subject.kind} {subject.api_version}"
        if not builtin_kind(subject.kind):
            report.not_checked[what] += 1
            report.reasons[what] = "no built-in schema"
            continue
        error, note = validator.validate(subject.doc, target, subject.cluster)
        if note:
            report.not_checked[what] += 1
            report.reasons[what] = note
            continue
        report.checked += 1
        if not error:
            continue
        verdicts = {minor: validator.validate(subject.doc, minor, subject.cluster)
                    for minor in sorted(set(subject.current), key=kube_minor)}
        passing = [minor for minor, (err, note) in verdicts.items() if not err and not note]
        if passing:
            report.breaks.append(SchemaBreak(subject=subject, passes_at=passing[-1], error=error))
        elif all(err for err, _ in verdicts.values()):
            report.already_invalid.append((subject, next(iter(verdicts.values()))[0]))
        else:  # the current version has no bundled schemas: whether the upgrade breaks it is unknown
            report.not_checked[what] += 1
            report.reasons[what] = next(note for _, note in verdicts.values() if note)
    return report
