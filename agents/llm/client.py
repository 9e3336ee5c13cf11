"""The one module that talks to Anthropic: requests built, responses converted, retries, budgets, accounting.

Everything else (the agent loop, the narrative, the request reader) calls `LLMSession.complete` with
plain dicts and gets a `ModelReply` back; none of them imports the SDK. Here:

- the client comes from the installed `anthropic` SDK, which reads `ANTHROPIC_API_KEY` /
  `ANTHROPIC_AUTH_TOKEN` / `ANTHROPIC_BASE_URL` itself; its own retries are off (`max_retries=0`) so
  that only the tenacity policy below retries: exponential backoff with full jitter on 429, 5xx (500,
  502, 503, 504, 529) and connection errors, honouring `retry-after`, bounded by `max_attempts`;
- the system prompt, the tool definitions and the conversation so far carry `cache_control`
  breakpoints, so a task's later turns and an agent's later tasks read the prefix from the cache;
- every call's usage is added to a thread-safe ledger (per call, per agent, per task, per run) and
  written to the run log with its cost from the dated price table in upgradectl/settings.py;
- budgets are checked before each call, and a failure that will not heal (the API unreachable after
  the bounded retries, the key rejected, the run budget spent) trips the session so later tasks skip
  the model quickly and the run degrades to playbook findings instead of dying.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import anthropic
import httpx2
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from upgradectl.agents.llm.run_log import RunLog
from upgradectl.agents.registry import widest_stage
from upgradectl.models import LLMInfo
from upgradectl.settings import MODEL_ALIASES, PRICES_AS_OF, LLMSettings, price_for
from upgradectl.tools.deadline import DeadlineExceeded, call_with_deadline

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ErrorKind = Literal["config", "refused", "unavailable", "rejected", "budget", "task-budget", "bad-response"]


class LLMError(RuntimeError):
    """The model could not be used; `kind` says why and whether the whole session is affected."""

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status

    @property
    def ends_session(self) -> bool:
        """True when no later call can succeed either (so the run stops asking and degrades):
        unreachable after the retries, bad key or model (401/403/404), run budget spent."""
        return self.kind in ("config", "refused", "unavailable", "budget") or self.status in (401, 403, 404)


@dataclass(frozen=True)
class ToolCall:
    """One tool_use block of a reply: the id the model will cite, the tool and its raw input."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Tokens one call used, as the API reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total(self) -> int:
        """Every token the call consumed: fresh, cache-written and cache-read input plus output."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    def cost(self, model: str) -> float | None:
        """USD for these tokens at the model family's list price; None when the model has no price on file."""
        price = price_for(model)
        if price is None:
            return None
        return round(
            (
                self.input_tokens * price.input
                + self.output_tokens * price.output
                + self.cache_creation_input_tokens * price.cache_write
                + self.cache_read_input_tokens * price.cache_read
            )
            / 1_000_000,
            6,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass(frozen=True)
class ModelReply:
    """A converted response: the assistant blocks to send back verbatim, its text and its tool calls."""

    content: list[dict[str, Any]]
    text: str
    tool_calls: list[ToolCall]
    stop_reason: str
    usage: Usage
    model: str


@dataclass
class Ledger:
    """Token totals per run, per agent and per task (thread-safe: agent tasks run in parallel)."""

    run: Usage = field(default_factory=Usage)
    by_agent: dict[str, Usage] = field(default_factory=lambda: defaultdict(Usage))
    by_task: dict[str, Usage] = field(default_factory=lambda: defaultdict(Usage))
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, agent: str, task: str, usage: Usage) -> None:
        with self._lock:
            self.run = self.run + usage
            self.by_agent[agent] = self.by_agent[agent] + usage
            self.by_task[task] = self.by_task[task] + usage
            self.calls += 1

    def task_total(self, task: str) -> int:
        with self._lock:
            return self.by_task[task].total if task in self.by_task else 0


def resolve_model(name: str) -> str:
    """An alias (sonnet, opus, haiku) -> its model id; ids pass through unchanged."""
    return MODEL_ALIASES.get(name.strip().lower(), name.strip())


def deprecated_models() -> dict[str, str]:
    """Model id -> end-of-life date, as the installed SDK lists them (empty if the SDK stops shipping it)."""
    try:
        from anthropic._data import DEPRECATED_MODELS  # a private SDK module, so only where it is needed
    except ImportError:  # a private module: tolerate its disappearance
        return {}
    return dict(DEPRECATED_MODELS)


def deprecation_notice(model: str) -> str:
    """'model X is deprecated (end of life DATE)...' when the SDK lists it as deprecated, else ''."""
    end_of_life = deprecated_models().get(model)
    if not end_of_life:
        return ""
    return f"model {model} is deprecated (end of life {end_of_life}); choose another with --model or UPGRADECTL_MODEL"


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a 429/5xx response asks for (`retry-after-ms`, `retry-after` seconds or HTTP date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limits, overload, server errors and connection failures (incl. timeouts)."""
    if isinstance(exc, anthropic.APIConnectionError):
        return True
    return isinstance(exc, anthropic.APIStatusError) and exc.status_code in RETRY_STATUSES


def describe_api_error(exc: BaseException) -> str:
    """'529 overloaded_error: Overloaded' / 'connection error: ...' for messages and logs."""
    if isinstance(exc, anthropic.APIStatusError):
        kind = exc.type or "error"
        return f"{exc.status_code} {kind}: {exc.api_message or exc.message}"
    if isinstance(exc, anthropic.APITimeoutError):
        return "request timed out"
    if isinstance(exc, anthropic.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc.message}"
    return f"{type(exc).__name__}: {exc}"


def with_cache_breakpoints(
    system: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Copies of system, tools and messages with `cache_control` on the last tool, the system prompt and the
    last block of the conversation (three of the four breakpoints the API allows)."""
    marker = {"type": "ephemeral"}
    system_blocks = [{"type": "text", "text": system, "cache_control": marker}]
    cached_tools = [dict(t) for t in tools]
    if cached_tools:
        cached_tools[-1]["cache_control"] = marker
    cached_messages = [dict(m) for m in messages]
    if cached_messages:
        last = cached_messages[-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]
        if blocks and blocks[-1].get("type") in ("text", "tool_result"):
            blocks[-1]["cache_control"] = marker
        cached_messages[-1] = {**last, "content": blocks}
    return system_blocks, cached_tools, cached_messages


class LLMSession:
    """One run's access to the model: the client, the settings, the ledger, the run log and the breaker."""

    def __init__(self, settings: LLMSettings, client: anthropic.Anthropic, run_log: RunLog):
        self.settings = settings
        self.model = resolve_model(settings.model)
        self.client = client
        self.run_log = run_log
        self.ledger = Ledger()
        self.failure = ""
        self.task_errors: dict[str, str] = {}
        self.tasks_run: set[str] = set()  # agent tasks the model was asked to do
        self.tasks_done: set[str] = set()  # ... and the ones it finished (submitted, within its budgets)
        self.findings_accepted = 0
        self.findings_dropped = 0
        self._lock = threading.Lock()
        self.concurrency = settings.max_concurrent_requests or widest_stage()
        self._slots = threading.BoundedSemaphore(self.concurrency)

    @classmethod
    def open(
        cls,
        settings: LLMSettings | None = None,
        run_log: RunLog | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> LLMSession:
        """Build the client and check it may be used. Credentials and base URL come from the environment as
        the SDK resolves them, unless given here (evals replaying a recording, for instance)."""
        settings = settings or LLMSettings()
        timeout = httpx2.Timeout(settings.request_timeout_seconds, connect=settings.connect_timeout_seconds)
        explicit = {k: v for k, v in (("base_url", base_url), ("api_key", api_key)) if v is not None}
        try:
            client = anthropic.Anthropic(max_retries=0, timeout=timeout, **explicit)
        except (anthropic.AnthropicError, TypeError, ValueError) as exc:
            raise LLMError("config", f"cannot set up the Anthropic client: {exc}") from exc
        if not (client.api_key or client.auth_token or client.credentials):
            raise LLMError(
                "config", "no Anthropic credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN), or use --llm off"
            )
        host = urlsplit(str(client.base_url)).hostname or ""
        if not settings.allow_model_requests and host not in LOOPBACK_HOSTS:
            raise LLMError(
                "refused",
                f"model requests are disabled (UPGRADECTL_ALLOW_MODEL_REQUESTS=0) and the API address "
                f"{client.base_url} is not on loopback",
            )
        session = cls(settings, client, run_log or RunLog(None))
        session.run_log.write("llm_session", model=session.model, base_url=str(client.base_url))
        return session

    # -- state ---------------------------------------------------------------------------------------

    @property
    def failed(self) -> bool:
        return bool(self.failure)

    def trip(self, reason: str) -> None:
        """Stop using the model for the rest of the run (the first reason is kept)."""
        with self._lock:
            if not self.failure:
                self.failure = reason
                self.run_log.write("llm_disabled", reason=reason)

    def note_task_error(self, task: str, message: str) -> None:
        with self._lock:
            self.task_errors[task] = message

    def note_task(self, task: str, finished: bool) -> None:
        """Record that the model ran an agent task, and whether it finished it."""
        with self._lock:
            self.tasks_run.add(task)
            if finished:
                self.tasks_done.add(task)

    @property
    def contributed_nothing(self) -> bool:
        """True when the model ran agent tasks and finished none (e.g. it never called submit_findings)."""
        return bool(self.tasks_run) and not self.tasks_done

    def count_findings(self, accepted: int, dropped: int) -> None:
        with self._lock:
            self.findings_accepted += accepted
            self.findings_dropped += dropped

    # -- the call ------------------------------------------------------------------------------------

    def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        agent: str,
        task: str,
        tools: list[dict[str, Any]] | None = None,
        output_schema: dict[str, Any] | None = None,
    ) -> ModelReply:
        """Send one Messages API request (cached prefix, bounded retries) and account for it.

        Raises LLMError; the session trips itself when the error means no later call can succeed.
        """
        if self.failure:
            raise LLMError("unavailable", f"model not used: {self.failure}")
        self._check_budgets(task)
        system_blocks, cached_tools, cached_messages = with_cache_breakpoints(system, tools or [], messages)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.settings.max_tokens,
            "system": system_blocks,
            "messages": cached_messages,
        }
        if cached_tools:
            params["tools"] = cached_tools
        output_config: dict[str, Any] = {}
        if output_schema is not None:
            output_config["format"] = {"type": "json_schema", "schema": output_schema}
        if self.settings.effort:
            output_config["effort"] = self.settings.effort
        if output_config:
            params["output_config"] = output_config
        started = time.perf_counter()
        attempts = {"n": 0}
        try:
            message = self._send(params, agent, task, attempts)
        except anthropic.APIError as exc:
            error = self._failure_from(exc, attempts["n"])
            self.run_log.write("llm_error", agent=agent, task=task, kind=error.kind, error=str(error))
            if error.ends_session:
                self.trip(str(error))
            raise error from None
        reply = _convert(message)
        self.ledger.add(agent, task, reply.usage)
        self.run_log.write(
            "llm_call",
            agent=agent,
            task=task,
            model=reply.model,
            attempts=attempts["n"],
            stop_reason=reply.stop_reason,
            tool_calls=[c.name for c in reply.tool_calls],
            duration_ms=int((time.perf_counter() - started) * 1000),
            cost_usd=reply.usage.cost(reply.model),
            **reply.usage.as_dict(),
        )
        return reply

    def _check_budgets(self, task: str) -> None:
        if self.ledger.run.total >= self.settings.run_token_budget:
            reason = f"run token budget of {self.settings.run_token_budget} spent (UPGRADECTL_RUN_TOKEN_BUDGET)"
            self.trip(reason)
            raise LLMError("budget", reason)
        if self.ledger.task_total(task) >= self.settings.task_token_budget:
            raise LLMError(
                "task-budget",
                f"task token budget of {self.settings.task_token_budget} spent (UPGRADECTL_TASK_TOKEN_BUDGET)",
            )

    def _send(self, params: dict[str, Any], agent: str, task: str, attempts: dict[str, int]) -> Any:
        settings = self.settings
        jitter = wait_random_exponential(multiplier=settings.retry_initial_seconds, max=settings.retry_max_seconds)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = retry_after_seconds(exc) if exc else None
            return asked if asked is not None else jitter(state)

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            asked = retry_after_seconds(exc) if exc else None
            too_long = asked is not None and asked > settings.max_retry_after_seconds
            return too_long or stop_after_attempt(settings.max_attempts)(state)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.run_log.write(
                "llm_retry",
                agent=agent,
                task=task,
                attempt=state.attempt_number,
                error=describe_api_error(exc) if exc else "",
                wait_seconds=round(state.upcoming_sleep, 3),
            )

        for attempt in Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            reraise=True,
        ):
            with attempt:
                attempts["n"] = attempt.retry_state.attempt_number
                with self._slots:
                    return self._create_within_deadline(params)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _create_within_deadline(self, params: dict[str, Any]) -> Any:
        """One Messages API request that must finish, body included, within the request timeout: the SDK's
        timeout is per read, and a server trickling bytes would keep a plan waiting indefinitely. A request past
        its deadline is a timeout (retried like one)."""
        seconds = self.settings.request_timeout_seconds + self.settings.connect_timeout_seconds
        try:
            return call_with_deadline(lambda: self.client.messages.create(**params), seconds)
        except DeadlineExceeded:
            request = httpx2.Request("POST", f"{str(self.client.base_url).rstrip('/')}/v1/messages")
            raise anthropic.APITimeoutError(
                request=request, message=f"no complete answer within {seconds:g}s (the whole request's deadline)"
            ) from None

    def _failure_from(self, exc: anthropic.APIError, attempts: int) -> LLMError:
        what = describe_api_error(exc)
        if is_transient(exc):
            asked = retry_after_seconds(exc)
            if asked is not None and asked > self.settings.max_retry_after_seconds:
                return LLMError(
                    "unavailable",
                    f"model API unavailable: {what}; it asked to retry after {asked:.0f}s, more than "
                    f"UPGRADECTL_MAX_RETRY_AFTER_SECONDS={self.settings.max_retry_after_seconds:.0f}",
                )
            return LLMError("unavailable", f"model API unavailable after {attempts} attempt(s): {what}")
        status = exc.status_code if isinstance(exc, anthropic.APIStatusError) else None
        return LLMError("rejected", f"model request rejected: {what}", status)

    # -- reporting -----------------------------------------------------------------------------------

    def info(self) -> LLMInfo:
        """What the plan says about the model: which, how many tokens and dollars, and what went wrong."""
        run = self.ledger.run
        errors = [self.failure] if self.failure else []
        if self.contributed_nothing and not self.failure:
            errors.append(f"every model task failed ({len(self.tasks_run)}): the model contributed nothing")
        errors += [f"{task}: {message}" for task, message in sorted(self.task_errors.items())]
        return LLMInfo(
            mode="on",
            model=self.model,
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            cache_creation_input_tokens=run.cache_creation_input_tokens,
            cache_read_input_tokens=run.cache_read_input_tokens,
            cost_usd=run.cost(self.model),
            prices_as_of=PRICES_AS_OF,
            calls=self.ledger.calls,
            findings_accepted=self.findings_accepted,
            findings_dropped=self.findings_dropped,
            degraded=bool(self.failure) or self.contributed_nothing,
            error="; ".join(errors),
        )

    def close(self) -> None:
        """Write the run's totals (per agent, per task, overall) to the run log."""
        with self.ledger._lock:
            by_agent = {a: {**u.as_dict(), "cost_usd": u.cost(self.model)} for a, u in self.ledger.by_agent.items()}
            by_task = {t: u.as_dict() for t, u in self.ledger.by_task.items()}
            run = self.ledger.run
        self.run_log.write(
            "llm_totals",
            model=self.model,
            calls=self.ledger.calls,
            by_agent=by_agent,
            by_task=by_task,
            cost_usd=run.cost(self.model),
            failure=self.failure,
            **run.as_dict(),
        )
        self.client.close()


def _convert(message: Any) -> ModelReply:
    """SDK Message -> ModelReply; blocks are kept exactly as sent (thinking signatures must round-trip)."""
    content = [block.to_dict(mode="json") for block in message.content]
    calls = [ToolCall(b["id"], b["name"], dict(b.get("input") or {})) for b in content if b.get("type") == "tool_use"]
    text = "\n".join(b.get("text", "") for b in content if b.get("type") == "text").strip()
    usage = message.usage
    return ModelReply(
        content=content,
        text=text,
        tool_calls=calls,
        stop_reason=str(message.stop_reason or ""),
        usage=Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        ),
        model=str(message.model or ""),
    )
