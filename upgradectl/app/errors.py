"""The one error a use case raises: what was wrong, how to fix it, and the exit code it means."""

from __future__ import annotations

from upgradectl.exit_codes import EXIT_USAGE


class UseCaseError(Exception):
    """A use case could not do what was asked. `message` names the bad value and the fix; `exit_code` is the
    process exit code (upgradectl/exit_codes.py); `details` are lines to show before the message (each
    unreadable cluster, say)."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.details = list(details or [])
