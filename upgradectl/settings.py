"""Run settings for the Claude layer: model, budgets, retries and timeouts, read from the environment.

Every knob has a safe default and an `UPGRADECTL_` environment variable (`UPGRADECTL_MODEL`,
`UPGRADECTL_LLM_TASKS`, ...). Credentials and the API address are *not* settings here: the anthropic
SDK reads `ANTHROPIC_API_KEY` / `ANTHROPIC_AUTH_TOKEN` and `ANTHROPIC_BASE_URL` itself, exactly as it
documents, so upgradectl never handles the key. The price table below turns token counts into cost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A current model id from the installed SDK's `ModelParam` list that the SDK does not list as deprecated
# (tests/test_llm_settings.py checks both). Sonnet: the cost/quality point for bounded tool-use loops.
DEFAULT_MODEL = "claude-sonnet-5-5"

# Short names a user may type in UPGRADECTL_MODEL / --model; resolved in agents/llm/client.py only.
MODEL_ALIASES: dict[str, str] = {
    "sonnet": "claude-sonnet-5-5",
    "opus": "claude-opus-5-5",
    "haiku": "claude-haiku-5-5",
}

LLMMode = Literal["off", "auto", "on"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens: plain input, output, 5-minute cache write, cache read."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# Per model family, matched by the longest prefix of the model id (dated ids match their alias).
# Retired models leave the table (Sonnet 4.5: retired 2026-11-30); scripts/check_sdk_models.py, run by
# scripts/update-deps.sh, checks every row against the SDK's model list when the lock is refreshed.
# Checked 2026-11-26 against https://platform.claude.com/docs/en/about-claude/pricing and the model pages;
# Haiku 5.5 is the <=100k-token-prompt band. Models not listed get no cost (reported as unknown).
PRICES_AS_OF = "2026-11-26"
MODEL_PRICES: dict[str, Price] = {
    "claude-fable-5-1": Price(10.0, 50.0, 12.5, 0.25),
    "claude-mythos-5-1": Price(10.0, 50.0, 12.5, 0.25),
    "claude-fable-5": Price(10.0, 50.0, 12.5, 1.0),
    "claude-mythos-5": Price(10.0, 50.0, 12.5, 1.0),
    "claude-opus-5-5": Price(4.0, 20.0, 5.0, 0.20),
    "claude-opus-5": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-8": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-7": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-6": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-5": Price(5.0, 25.0, 6.25, 0.50),
    "claude-sonnet-5-5": Price(2.0, 10.0, 2.5, 0.10),
    "claude-sonnet-5": Price(2.0, 10.0, 2.5, 0.20),
    "claude-sonnet-4-6": Price(3.0, 15.0, 3.75, 0.30),
    "claude-haiku-5-5": Price(0.10, 0.50, 0.125, 0.01),
    "claude-haiku-4-5": Price(1.0, 5.0, 1.25, 0.10),
}



def price_for(model: str) -> Price | None:
    """The price of a model id: its family's row, or that row's dated snapshot; None when unknown.

    A newer sibling never borrows an older row ('claude-fable-5-2' is not 'claude-fable-5').
    """
    best = ""
    for prefix in MODEL_PRICES:
        rest = model[len(prefix) :]
        if model.startswith(prefix) and (rest == "" or _is_date_suffix(rest)) and len(prefix) > len(best):
            best = prefix
    return MODEL_PRICES.get(best)


def _is_date_suffix(rest: str) -> bool:
    """'-20251001' (a dated snapshot of the same model) but not '-2' (a newer minor version)."""
    return rest.startswith("-") and rest[1:].isdigit() and len(rest) == 9


def api_key_configured() -> bool:
    """True when the environment carries a credential the SDK will use (what `--llm auto` asks)."""
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


class LLMSettings(BaseSettings):
    """Model, budgets and retry policy for the Claude layer (env prefix UPGRADECTL_)."""

    model_config = SettingsConfigDict(env_prefix="UPGRADECTL_", extra="ignore", frozen=True)

    model: str = Field(default=DEFAULT_MODEL, description="Model id or alias (sonnet, opus, haiku)")
    max_tokens: int = Field(default=8192, ge=256, le=16384, description="Output tokens per model response")
    effort: Literal["", "low", "medium", "high", "xhigh", "max"] = Field(
        default="", description="output_config.effort; empty leaves the model's default"
    )
    max_turns: int = Field(default=8, ge=1, le=40, description="Model responses per agent task")
    task_token_budget: int = Field(default=150_000, ge=1_000, description="Input+output tokens per agent task")
    run_token_budget: int = Field(default=2_000_000, ge=1_000, description="Input+output tokens per run")
    tool_result_tokens: int = Field(default=3_000, ge=200, description="Cap on one tool result (chars/4)")
    findings_prompt_tokens: int = Field(
        default=2_500, ge=200, description="Cap on the playbook findings listed in a task prompt (chars/4)"
    )
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10, description="Tries per model request (1 + retries)")
    retry_initial_seconds: float = Field(default=1.0, ge=0)
    retry_max_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(default=60.0, ge=0, description="Longest retry-after we honour")
    max_concurrent_requests: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Model requests in flight at once; unset: as many as the widest stage runs tasks side by side, "
        "so no agent of a stage waits for another's request",
    )
    llm_tasks: str = Field(default="all", description="Comma-separated seed task ids that run the loop, or all")
    allow_model_requests: bool = Field(
        default=True, description="False (tests): refuse any API address that is not on loopback"
    )

    @field_validator("llm_tasks")
    @classmethod
    def _tasks(cls, value: str) -> str:
        return ",".join(t.strip() for t in value.split(",") if t.strip()) or "all"

    def runs_loop_for(self, task_id: str) -> bool:
        """Whether this seed task gets a Claude loop on top of its playbook."""
        return self.llm_tasks == "all" or task_id in self.llm_tasks.split(",")
