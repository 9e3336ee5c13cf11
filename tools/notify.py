"""Chat notifications: a Markdown message POSTed to a Slack-compatible incoming webhook as `{"text": ...}`
(Slack's documented payload; Mattermost and Rocket.Chat accept the same). A timeout per attempt and bounded
retries on 429/5xx and connection errors; a message that cannot be delivered is reported to the caller and never
stops the rollout."""

from __future__ import annotations

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

RETRIED_STATUS = {429, 500, 502, 503, 504}


class NotifyError(RuntimeError):
    """The webhook did not take the message; the text says why."""


class _Retry(Exception):
    pass


def post_message(url: str, markdown: str, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.5) -> None:
    """POST one message; NotifyError when the webhook refuses it or cannot be reached after the retries."""

    def attempt() -> None:
        try:
            response = httpx.post(url, json={"text": markdown, "mrkdwn": True}, timeout=timeout)
        except httpx.HTTPError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in RETRIED_STATUS:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 300:
            raise NotifyError(f"the webhook answered HTTP {response.status_code}: {response.text[:200]}")

    try:
        for tried in Retrying(stop=stop_after_attempt(max(1, attempts)), retry=retry_if_exception_type(_Retry),
                              wait=wait_exponential(multiplier=backoff, max=4), reraise=False):  # fmt: skip
            with tried:
                attempt()
    except RetryError as exc:
        raise NotifyError(f"the webhook could not be reached: {exc.last_attempt.exception()}") from None


def check_url(url: str) -> str:
    """'' when `url` can be a webhook URL, else what is wrong with it."""
    return "" if url.startswith(("http://", "https://")) else f"--notify {url!r} must be an http:// or https:// URL"
