"""`plan --llm off|auto|on`: open the model session, read requests the rules cannot, report degradation.

`auto` turns the model on when the environment holds an Anthropic credential. With the model on,
a request whose tool the rules cannot find (or whose trigger they cannot tell) is read by the model
as validated structured output; the plan says so in its trigger reasons. When the model fails
during the run the plan still holds every playbook finding, `plan.llm.error` says why, a warning
goes to stderr, and the exit code is 5 unless blockers (1) or an incomplete plan (3) come first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from upgradectl.agents.registry import TASKS
from upgradectl.agents.request import RequestError, parse_request
from upgradectl.cli.output import err, fail
from upgradectl.models import Plan, UpgradeRequest
from upgradectl.settings import LLMSettings, api_key_configured

if TYPE_CHECKING:  # the anthropic SDK is imported only when the model is on
    from upgradectl.agents.llm.client import LLMSession
    from upgradectl.agents.llm.request_reader import RequestReading

NO_TRIGGER = "no trigger words found"


def open_llm_session(mode: str, model: str | None, run_log: Path | None, out: Path | None) -> LLMSession | None:
    """The session for `--llm MODE` (None when the model stays off); usage errors exit 2."""
    if mode not in ("off", "auto", "on"):
        raise fail(f"--llm {mode!r} is not one of off, auto, on")
    if mode == "off" or (mode == "auto" and not api_key_configured()):
        return None
    from upgradectl.agents.llm.client import LLMError, LLMSession, deprecation_notice
    from upgradectl.agents.llm.run_log import RunLog

    try:
        settings = LLMSettings(**({"model": model} if model else {}))
    except ValueError as exc:
        raise fail(f"LLM settings from the environment are invalid: {exc}") from None
    unknown = [t for t in settings.llm_tasks.split(",") if settings.llm_tasks != "all" and t not in _task_ids()]
    if unknown:
        raise fail(f"UPGRADECTL_LLM_TASKS names unknown tasks {', '.join(unknown)}; known: {', '.join(_task_ids())}")
    log_path = run_log or (out / "run-log.jsonl" if out else None)
    try:
        session = LLMSession.open(settings, RunLog(log_path))
    except LLMError as exc:
        raise fail(f"--llm {mode}: {exc}") from None
    notice = deprecation_notice(session.model)
    if notice:
        err.print(f"warning: {notice}", highlight=False, markup=False)
    return session


def _task_ids() -> list[str]:
    return [t.id for t in TASKS]


def parse_request_with_model(session: LLMSession | None, text: str, **options) -> UpgradeRequest:
    """parse_request, with the model as fallback for the tool (rules find none) and the trigger (no words)."""
    try:
        upgrade = parse_request(text, **options)
    except RequestError as exc:
        if session is None or not text or "names no tool" not in str(exc):
            raise
        reading, problem = _read(session, text)
        if reading is None:
            raise RequestError(f"{exc} (the model could not read it: {problem})") from None
        if reading.tool == "none":
            raise RequestError(f"{exc} (the model found none either: {reading.reason})") from None
        trigger = options.get("trigger") or (reading.trigger if reading.trigger != "unknown" else None)
        upgrade = parse_request(text, **{**options, "tool": reading.tool, "trigger": trigger})
        return _credit_model(upgrade, reading, tool=True, trigger=trigger is not None and not options.get("trigger"))
    if session is None or not text or options.get("trigger"):
        return upgrade
    if not any(r.startswith(NO_TRIGGER) for r in upgrade.trigger_reasons):
        return upgrade
    reading, problem = _read(session, text)
    if reading is None:
        err.print(f"warning: the model could not read the trigger ({problem}); using the rules' default",
                  highlight=False, markup=False)
        return upgrade
    if reading.trigger == "unknown":
        return upgrade
    upgrade = upgrade.model_copy(update={"trigger": reading.trigger})
    return _credit_model(upgrade, reading, tool=False, trigger=True)


def _read(session: LLMSession, text: str) -> tuple[RequestReading | None, str]:
    """The model's reading of the request, or (None, why not)."""
    from upgradectl.agents.llm.client import LLMError
    from upgradectl.agents.llm.request_reader import read_request

    try:
        return read_request(session, text), ""
    except LLMError as exc:
        return None, str(exc)


def _credit_model(upgrade: UpgradeRequest, reading: RequestReading, *, tool: bool, trigger: bool) -> UpgradeRequest:
    """Say in the trigger reasons what the model, not the rules, decided."""
    reasons = []
    why = f": {reading.reason}" if reading.reason else ""
    for reason in upgrade.trigger_reasons:
        if tool and reason == f"tool '{upgrade.tool}' from --tool":
            reason = f"tool '{upgrade.tool}' read by the model (the request names no tool){why}"
        elif trigger and (reason.startswith(NO_TRIGGER) or reason == f"trigger '{upgrade.trigger}' from --trigger"):
            reason = f"trigger '{upgrade.trigger}' read by the model (no trigger words){why}"
        reasons.append(reason)
    return upgrade.model_copy(update={"trigger_reasons": reasons})


def report_llm(plan: Plan, session: LLMSession | None) -> None:
    """Close the session (totals to the run log) and tell stderr how the model did."""
    if session is None:
        return
    session.close()
    info = plan.llm
    cost = f", ~${info.cost_usd:.4f}" if info.cost_usd is not None else ""
    prompt = info.input_tokens + info.cache_creation_input_tokens + info.cache_read_input_tokens
    err.print(
        f"model {info.model}: {info.calls} call(s), {prompt} input / {info.output_tokens} output tokens{cost}; "
        f"findings added {info.findings_accepted}, "
        f"dropped {info.findings_dropped}",
        highlight=False,
        markup=False,
    )
    if info.degraded:
        err.print(
            f"warning: the model failed ({info.error}); the plan holds the playbook findings only where it did not run",
            highlight=False,
            markup=False,
        )
    if session.run_log.path:
        err.print(f"run log: {session.run_log.path}", highlight=False, markup=False)
