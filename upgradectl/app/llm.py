"""`--llm off|auto|on`: open the model session a run uses, or none.

`auto` turns the model on when the environment holds an Anthropic credential. With the model on, a request
the rules cannot read is read by the model, each agent runs its Claude loop on top of its playbook and the
plan gets a narrative; when the model fails mid-run the plan still holds every playbook finding and
`plan.llm.error` says why (exit 5 unless blockers or an incomplete plan come first).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from upgradectl.agents.registry import TASKS
from upgradectl.app.errors import UseCaseError
from upgradectl.settings import LLMSettings, api_key_configured

if TYPE_CHECKING:  # the anthropic SDK is imported only when the model is on
    from upgradectl.agents.llm.client import LLMSession

LLMMode = Literal["off", "auto", "on"]
LLM_MODES: tuple[LLMMode, ...] = ("off", "auto", "on")


def open_llm_session(
    mode: str, model: str | None, run_log: Path | None, out: Path | None
) -> tuple[LLMSession | None, list[str]]:
    """The session for `--llm MODE` (None when the model stays off) and warnings about it (a model that is
    being retired); bad settings raise UseCaseError (exit 2)."""
    if mode not in LLM_MODES:
        raise UseCaseError(f"--llm {mode!r} is not one of off, auto, on")
    if mode == "off" or (mode == "auto" and not api_key_configured()):
        return None, []
    from upgradectl.agents.llm.client import (  # the anthropic SDK: LLM mode only
        LLMError,
        LLMSession,
        deprecation_notice,
    )
    from upgradectl.agents.llm.run_log import RunLog

    try:
        settings = LLMSettings(**({"model": model} if model else {}))
    except ValueError as exc:
        raise UseCaseError(f"LLM settings from the environment are invalid: {exc}") from None
    known = [task.id for task in TASKS]
    unknown = [name for name in settings.llm_tasks.split(",") if settings.llm_tasks != "all" and name not in known]
    if unknown:
        raise UseCaseError(f"UPGRADECTL_LLM_TASKS names unknown tasks {', '.join(unknown)}; known: {', '.join(known)}")
    log_path = run_log or (out / "run-log.jsonl" if out else None)
    try:
        session = LLMSession.open(settings, RunLog(log_path))
    except LLMError as exc:
        raise UseCaseError(f"--llm {mode}: {exc}") from None
    notice = deprecation_notice(session.model)
    return session, [notice] if notice else []
