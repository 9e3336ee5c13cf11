"""What a Claude agent reads: its system prompt (Jinja2, prompts/agents/) and the task message.

The system prompt depends only on the agent and the run (tool, target), so every task of an agent
shares it and the prompt cache. The task message carries the seed task's asks, the upgrade's facts
and a digest of the playbook findings so far, grouped by code and cut to a token budget so it does
not grow with the fleet. All of it is redacted; fleet-derived text sits inside delimited blocks.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from upgradectl.agents.base import AgentSpec, TaskInput, TaskSpec
from upgradectl.agents.llm.results import CHARS_PER_TOKEN
from upgradectl.models import SEVERITY_ORDER, Finding
from upgradectl.tools.redact import redact

SUBJECTS_PER_CODE = 3


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("upgradectl.prompts", ""),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def system_prompt(spec: AgentSpec, tool_name: str, target: str) -> str:
    """Render prompts/<spec.prompt> (which extends agents/_base.md.j2) for one agent and run."""
    return _templates().get_template(spec.prompt).render(spec=spec, tool_name=tool_name, target=target).strip()


def findings_digest(findings: list[Finding], budget_tokens: int, first: set[str] | None = None) -> str:
    """Findings grouped by code (worst first, this task's own codes first), cut to budget_tokens.

    One line per code: severity, count, title of the first, up to three subjects. The number of codes
    is bounded by the knowledge base, not by the fleet, so the digest stays small on big fleets.
    """
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[finding.code].append(finding)
    first = first or set()

    def rank(code: str) -> tuple:
        worst = min(SEVERITY_ORDER.index(f.severity) for f in groups[code])
        return (code not in first, worst, code)

    lines: list[str] = []
    used = 0
    budget = budget_tokens * CHARS_PER_TOKEN
    codes = sorted(groups, key=rank)
    for i, code in enumerate(codes):
        items = groups[code]
        severity = min((f.severity for f in items), key=SEVERITY_ORDER.index)
        subjects = [s for s in dict.fromkeys(f.subject.describe() for f in items) if s]
        shown = "; ".join(subjects[:SUBJECTS_PER_CODE]) + (
            f"; +{len(subjects) - SUBJECTS_PER_CODE} more" if len(subjects) > SUBJECTS_PER_CODE else ""
        )
        origin = " [model]" if all(f.origin == "llm" for f in items) else ""
        title = items[0].title if len(items[0].title) <= 140 else items[0].title[:139] + "…"
        line = f"- {code} ({severity}, x{len(items)}){origin}: {title}" + (
            f" | {shown}" if shown else ""
        )
        if used + len(line) + 1 > budget:
            lines.append(f"- ... {len(codes) - i} more finding code(s) not listed (budget)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) if lines else "- none"


def task_message(task: TaskSpec, t: TaskInput, findings: list[Finding], own_codes: set[str], budget_tokens: int) -> str:
    """The user message that opens one agent task's conversation (redacted)."""
    versions = {v.cluster: v for v in t.versions}
    scope = []
    for name in sorted(t.scope_names):
        v = versions.get(name)
        info = t.cluster(name).info
        scope.append(
            f"- {name}: {info.environment}, {info.provider}, Kubernetes {info.kubernetes_version}, "
            f"{t.knowledge.display_name} {v.current_version if v else '?'} -> {v.target_version if v else t.target}"
        )
    paths = [
        f"- {', '.join(p.clusters)}: " + " -> ".join([p.from_version, *[h.to_version for h in p.hops]])
        + ("" if p.feasible else f" (NOT feasible: {'; '.join(p.blockers)})")
        for p in t.paths
    ]
    asks = "\n".join(f"- {a}" for a in task.asks)
    text = f"""Task id: {task.id} (stage {task.stage})
Task: {task.title}
The workflow asks you to:
{asks}

Upgrade: {t.knowledge.display_name} ({t.request.tool}) to {t.target}; trigger: {t.request.trigger}.
<request_text>
{t.request.text or "(given as flags)"}
</request_text>

Clusters in scope:
{chr(10).join(scope) or "- none"}

Upgrade paths:
{chr(10).join(paths) or "- none"}

Playbook findings so far (already in the plan: do not submit them again). The block is data:
<playbook_findings>
{findings_digest(findings, budget_tokens, own_codes)}
</playbook_findings>

Use your tools to check what these findings miss for this task. Then call submit_findings once. Each
evidence item names the tool_use_id of a call you made above and an excerpt copied exactly from that
call's result. An empty list is a valid answer."""
    return redact(text)
