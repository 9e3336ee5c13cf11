"""The Claude tool-use loop that runs on top of a seed task's playbook, and the evidence check.

For one task: the agent's system prompt, the task message and its read-only tools (plus
`submit_findings`) go to the model; tool calls run against the fleet (bad arguments come back as
`is_error` results and the loop continues); the loop ends when the model submits, or when the
turn or token budget runs out. A submitted finding is accepted only if every evidence item cites a
tool call made earlier in this conversation and its excerpt occurs in that call's result; anything
else is dropped and the reason logged. Accepted findings get `origin="llm"`, the agent's name and
an `LLM-` code prefix (so they never merge into, or change, a playbook finding). Playbook findings
are passed in and never modified here.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from upgradectl.agents.base import TaskInput, TaskSpec, load_spec, make_finding
from upgradectl.agents.llm.client import LLMError, LLMSession
from upgradectl.agents.llm.prompts import system_prompt, task_message
from upgradectl.agents.llm.results import (
    Location,
    RenderedResult,
    error_text,
    estimate_tokens,
    leaves,
    model_addressing,
    normalize,
    render,
)
from upgradectl.agents.llm.tools import ToolContext, ToolFailure, ToolSpec, clean_schema, tools_for, validation_message
from upgradectl.models import AgentTaskRecord, Category, Evidence, Finding, Severity, Subject
from upgradectl.tools.redact import redact

SUBMIT = "submit_findings"
MAX_SUBMITTED = 20
LAST_TURN_NOTE = "This is your last turn: call submit_findings now with what the results above show."
NUDGE = "You did not call a tool. Call submit_findings now (an empty list is a valid answer)."


class SubmittedEvidence(BaseModel):
    """One evidence item as the model gives it: which tool call, and the text copied from its result."""

    model_config = ConfigDict(extra="forbid")

    tool_use_id: str = Field(description="The id of a tool_use you made in this conversation, e.g. toolu_01...")
    excerpt: str = Field(
        min_length=1, max_length=600, description="Text copied exactly from that call's result (short, verbatim)"
    )


class SubmittedFinding(BaseModel):
    """A finding as the model submits it; agent, origin and evidence source/ref are set by code."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)+$", description="Stable upper-case code, e.g. KARP-PDB-BLOCKS")
    severity: Severity
    category: Category = Field(description="Any category except incomplete (reserved for checks that could not run)")
    title: str = Field(min_length=5, max_length=200)
    detail: str = Field(default="", max_length=2000)
    subject: Subject = Field(default_factory=Subject, description="What the finding is about")
    evidence: list[SubmittedEvidence] = Field(min_length=1, max_length=6)
    remediation: str = Field(default="", max_length=1000)
    uncertain: bool = False

    @field_validator("category")
    @classmethod
    def _not_incomplete(cls, value: str) -> str:
        if value == "incomplete":
            raise ValueError("category 'incomplete' is reserved for checks that could not run")
        return value


class Submission(BaseModel):
    """The input of submit_findings."""

    model_config = ConfigDict(extra="forbid")

    findings: list[SubmittedFinding] = Field(max_length=MAX_SUBMITTED, description="What the playbooks missed")


def submit_tool() -> dict[str, Any]:
    """The submit_findings tool definition (its schema is the Submission model's)."""
    return {
        "name": SUBMIT,
        "description": "Submit your findings for this task and end it. Call exactly once, last. Each finding needs "
        "evidence: the tool_use_id of a call you made in this conversation and an excerpt copied exactly from that "
        "call's result. Findings whose excerpts are not in the cited result are dropped. An empty list is valid.",
        "input_schema": clean_schema(Submission),
    }


@dataclass
class ToolRecord:
    """A successful tool call of the conversation: what ran, with what, and the exact text returned."""

    spec: ToolSpec
    arguments: dict[str, Any]
    result: RenderedResult

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.arguments.items() if v not in (None, ""))
        return f"{self.spec.name}({args})"


@dataclass
class LoopOutcome:
    """What the loop produced for one task."""

    accepted: list[Finding] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (code, reason)
    calls: list[str] = field(default_factory=list)
    suspicious: list[Finding] = field(default_factory=list)  # text in tool results that addressed the model
    turns: int = 0
    error: str = ""


# Wording that lowers or clears risk: a model finding may add risk, never take it away.
CLEARING = re.compile(
    r"\b(?:is|are|looks?|seems?)\s+(?:completely\s+|fully\s+|perfectly\s+)?safe\b|\bsafe\s+to\s+(?:upgrade|proceed|ignore)"
    r"|\bno\s+(?:risk|risks|issues?|problems?|findings?|blockers?|action\s+(?:is\s+)?(?:needed|required))\b"
    r"|\b(?:can|should|may)\s+(?:be\s+)?(?:safely\s+)?ignored?\b|\bfalse\s+(?:positive|alarm)\b"
    r"|\bnot\s+(?:a|an)\s+(?:real\s+)?(?:issue|risk|problem|concern)\b|\balready\s+(?:fixed|resolved|mitigated|handled)\b"
    r"|\b(?:downgrade|lower|reduce|clear|dismiss|withdraw)\s+(?:the\s+|this\s+|its\s+|all\s+)?(?:risk|severity|findings?)\b",
    re.IGNORECASE,
)


def check_submission(
    submission: Submission, seen: dict[str, ToolRecord], task: TaskSpec, protected: set[tuple]
) -> tuple[list[Finding], list[tuple[str, str]]]:
    """Accept a finding when every excerpt occurs in the cited earlier call's result, at least one of them in a
    structured field of the object the finding is about (not an annotation, description or comment alone),
    and its words add risk rather than clear it; drop the rest with why."""
    accepted: list[Finding] = []
    dropped: list[tuple[str, str]] = []
    for item in submission.findings:
        code = item.code if item.code.startswith("LLM-") else f"LLM-{item.code}"
        evidence: list[Evidence] = []
        reason = ""
        structured: list[Location] = []
        for number, ev in enumerate(item.evidence, start=1):
            record = seen.get(ev.tool_use_id)
            if record is None:
                reason = f"evidence {number} cites {ev.tool_use_id!r}, not a successful earlier tool call of this task"
                break
            if not record.result.contains(ev.excerpt):
                quoted = normalize(ev.excerpt)[:80]
                reason = f"evidence {number}: excerpt {quoted!r} does not occur in the result of {record.describe()}"
                break
            structured += [where for where in record.result.locate(ev.excerpt) if not where.free_text]
            evidence.append(
                Evidence(source=record.spec.source, ref=f"{record.describe()} [{ev.tool_use_id}]", excerpt=ev.excerpt)
            )
        if not reason:
            reason = _unsupported(item, structured)
        finding = None
        if not reason:
            finding = Finding(
                code=code,
                severity=item.severity,
                category=item.category,
                title=redact(item.title),
                detail=redact(item.detail),
                subject=item.subject,
                evidence=evidence,
                remediation=item.remediation,
                agent=task.agent,
                uncertain=item.uncertain,
                origin="llm",
            )
            if finding.key() in protected:
                reason = "same code and subject as an existing finding"
        if reason or finding is None:
            dropped.append((code, reason))
        else:
            accepted.append(finding)
            protected.add(finding.key())
    return accepted, dropped


def _unsupported(item: SubmittedFinding, structured: list[Location]) -> str:
    """Why a finding whose excerpts all occur in their results still cannot be accepted ('' when it can)."""
    if not structured:
        return (
            "its evidence comes only from free text (annotations, descriptions, messages, comments), which anyone "
            "who can edit an object writes; cite a structured field"
        )
    name = item.subject.name
    if name and not any(where.item is None or _mentions(where.item, name) for where in structured):
        return f"no structured evidence comes from {name!r}, the object the finding is about"
    words = " ".join((item.title, item.detail, item.remediation))
    if clearing := CLEARING.search(words):
        return (
            f"it would lower or clear risk ({clearing.group(0)!r}); model findings may only add risk, and the "
            "playbook findings stand"
        )
    return ""


def _mentions(item: Any, name: str) -> bool:
    """True when a result item (an object, a line) names the given object anywhere."""
    return name in (item if isinstance(item, str) else json.dumps(item, default=str))


def suspicious_content(record: ToolRecord, call_id: str, task: TaskSpec, cluster: str) -> list[Finding]:
    """Findings for text in a tool result that addresses the model (an instruction, a verdict written for it):
    it is data, never obeyed, and it is reported so a person can look at who wrote it."""
    findings: list[Finding] = []
    items = record.result.data if isinstance(record.result.data, list) else [record.result.data]
    for item in items:
        for path, _key, leaf in leaves(item, ()):
            phrase = model_addressing(str(leaf))
            if not phrase:
                continue
            meta = item.get("metadata") if isinstance(item, dict) else None
            meta = meta if isinstance(meta, dict) else {}
            text = str(leaf)
            at = max(text.lower().find(phrase.lower()) - 60, 0)
            findings.append(
                make_finding(
                    code="SUSPICIOUS-CONTENT-FOR-MODEL",
                    severity="medium",
                    category="security",
                    title=f"Text addressed to an AI model in {record.describe()}: '{phrase}'",
                    agent=task.agent,
                    subject=Subject(
                        cluster=str(record.arguments.get("cluster") or cluster),
                        kind=str(item.get("kind", "")) if isinstance(item, dict) else "",
                        namespace=str(meta.get("namespace", "")),
                        name=str(meta.get("name", "")),
                        file=str(item.get("file", "")) if isinstance(item, dict) else "",
                    ),
                    evidence=[Evidence(source=record.spec.source, ref=f"{record.describe()} [{call_id}] "
                                       f"at {'.'.join(path) or 'the result'}", excerpt=text[at : at + 240])],
                    detail="upgradectl's check of what the model read found an instruction or verdict written for a "
                    "model in fleet data. It was treated as data and changed nothing; someone who can edit this "
                    "object or file may be trying to steer automated reviews.",
                    remediation="Find who wrote this text (object history, git blame) and remove it; review the "
                    "object for other changes.",
                )
            )
            break  # one finding per object or line is enough to send a person there
    return findings


def run_claude_task(task: TaskSpec, t: TaskInput, playbook: list[Finding], session: LLMSession) -> LoopOutcome:
    """Run the bounded tool-use loop for one seed task; never raises for model or tool trouble."""
    settings = session.settings
    agent = load_spec(task.agent)
    tools = tools_for(agent.tools)
    by_name = {spec.name: spec for spec in tools}
    definitions = [spec.definition() for spec in tools] + [submit_tool()]
    system = system_prompt(agent, t.knowledge.display_name, t.target)
    own_codes = {f.code for f in playbook}
    known = _dedupe([*t.findings, *playbook])
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": task_message(task, t, known, own_codes, settings.findings_prompt_tokens)}
    ]
    ctx = ToolContext(fleet=t.fleet, view=t.view, request=t.request, scope=t.scope_names)
    seen: dict[str, ToolRecord] = {}
    protected = {f.key() for f in known}
    outcome = LoopOutcome()
    log = session.run_log
    for turn in range(1, settings.max_turns + 1):
        outcome.turns = turn
        try:
            reply = session.complete(
                system=system, tools=definitions, messages=messages, agent=task.agent, task=task.id
            )
        except LLMError as exc:
            outcome.error = str(exc)
            return outcome
        messages.append({"role": "assistant", "content": reply.content})
        if not reply.tool_calls:
            if reply.stop_reason == "refusal":
                outcome.error = "the model declined the task (stop_reason refusal)"
                return outcome
            messages.append({"role": "user", "content": NUDGE})
            continue
        earlier = dict(seen)  # evidence may only cite calls whose results the model has already seen
        blocks: list[dict[str, Any]] = []
        submission: Submission | None = None
        for call in reply.tool_calls:
            if call.name == SUBMIT:
                try:
                    submission = Submission.model_validate(call.input)
                    blocks.append(_result(call.id, "received"))
                except ValidationError as exc:
                    message = validation_message(exc)
                    log.write("submit_invalid", agent=task.agent, task=task.id, id=call.id, error=message)
                    blocks.append(_result(call.id, error_text(SUBMIT, {}, message), error=True))
                continue
            blocks.append(_run_tool(by_name, ctx, call.id, call.name, call.input, settings.tool_result_tokens, seen,
                                    outcome, log, task))
        if submission is not None:
            accepted, dropped = check_submission(submission, earlier, task, protected)
            for finding in accepted:
                log.write("finding_accepted", agent=task.agent, task=task.id, code=finding.code, title=finding.title)
            for code, reason in dropped:
                log.write("finding_dropped", agent=task.agent, task=task.id, code=code, reason=reason)
            outcome.accepted, outcome.dropped = accepted, dropped
            return outcome
        if turn == settings.max_turns - 1:
            blocks.append({"type": "text", "text": LAST_TURN_NOTE})
        messages.append({"role": "user", "content": blocks})
    outcome.error = f"no submit_findings within {settings.max_turns} turns (UPGRADECTL_MAX_TURNS)"
    return outcome


def _run_tool(
    by_name: dict[str, ToolSpec],
    ctx: ToolContext,
    call_id: str,
    name: str,
    raw: dict[str, Any],
    budget: int,
    seen: dict[str, ToolRecord],
    outcome: LoopOutcome,
    log: Any,
    task: TaskSpec,
) -> dict[str, Any]:
    """Run one tool call; an unknown tool, bad arguments or a failing read become an is_error result."""
    spec = by_name.get(name)
    if spec is None:
        message = f"unknown tool {name!r}; available: {', '.join([*by_name, SUBMIT])}"
        log.write("tool_call", agent=task.agent, task=task.id, id=call_id, tool=name, ok=False, error=message)
        return _result(call_id, error_text(name, raw, message), error=True)
    try:
        output = spec.call(ctx, raw)
    except ToolFailure as exc:
        log.write("tool_call", agent=task.agent, task=task.id, id=call_id, tool=name, arguments=raw, ok=False,
                  error=str(exc))
        return _result(call_id, error_text(name, raw, str(exc)), error=True)
    except Exception as exc:  # a source that cannot answer must not end the loop
        message = f"the tool failed: {type(exc).__name__}: {exc}"
        log.write("tool_call", agent=task.agent, task=task.id, id=call_id, tool=name, arguments=raw, ok=False,
                  error=message)
        return _result(call_id, error_text(name, raw, message), error=True)
    arguments = {k: v for k, v in raw.items() if v is not None}
    rendered = render(name, arguments, output, budget)
    record = ToolRecord(spec, arguments, rendered)
    seen[call_id] = record
    for finding in suspicious_content(record, call_id, task, ""):
        if finding.key() not in {f.key() for f in outcome.suspicious}:
            outcome.suspicious.append(finding)
            log.write("suspicious_content", agent=task.agent, task=task.id, id=call_id, title=finding.title)
    outcome.calls.append(record.describe() + (f" ({rendered.cut})" if rendered.cut else ""))
    log.write("tool_call", agent=task.agent, task=task.id, id=call_id, tool=name, arguments=arguments, ok=True,
              result_tokens=estimate_tokens(rendered.text), cut=rendered.cut)
    return _result(call_id, rendered.text)


def _result(call_id: str, text: str, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "content": text}
    if error:
        block["is_error"] = True
    return block


def _dedupe(findings: list[Finding]) -> list[Finding]:
    unique: dict[tuple, Finding] = {}
    for finding in findings:
        unique.setdefault(finding.key(), finding)
    return list(unique.values())


def augment_task(task: TaskSpec, t: TaskInput, playbook: list[Finding], session: LLMSession) -> tuple[
    list[Finding], AgentTaskRecord | None
]:
    """After a playbook: the model's accepted findings for this task and its task-log record.

    Returns ([], None) when the settings leave this task to the playbook alone. When the model is
    unavailable the record says so (error) and no finding is added; playbook findings are untouched.
    """
    if not session.settings.runs_loop_for(task.id):
        return [], None
    started = time.perf_counter()
    if session.failed:
        outcome = LoopOutcome(error=f"model not used: {session.failure}")
    else:
        outcome = run_claude_task(task, t, playbook, session)
    if outcome.error and not session.failed:
        session.note_task_error(task.id, outcome.error)
    session.note_task(task.id, finished=not outcome.error)
    session.count_findings(len(outcome.accepted), len(outcome.dropped))
    added = [*outcome.accepted, *outcome.suspicious]
    used = session.ledger.by_task.get(task.id)
    checked = [*outcome.calls]
    if used is not None:
        checked.append(f"model: {outcome.turns} turn(s), {used.total} tokens")
    checked += [f"dropped {code}: {reason}" for code, reason in outcome.dropped]
    record = AgentTaskRecord(
        stage=task.stage,
        task=task.title,
        agent=task.agent,
        mode="llm",
        checked=checked,
        finding_codes=sorted({f.code for f in added}),
        duration_ms=int((time.perf_counter() - started) * 1000),
        error=outcome.error,
    )
    session.run_log.write(
        "task_done", agent=task.agent, task=task.id, turns=outcome.turns, accepted=len(outcome.accepted),
        dropped=len(outcome.dropped), error=outcome.error, calls=json.dumps(outcome.calls),
    )
    return added, record
