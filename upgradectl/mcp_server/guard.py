"""One guard around every MCP tool call: calls run one at a time, and every failure becomes a tool error.

Anticipated failures (a bad request, an unreadable fleet, an unknown code: the use cases' UseCaseError) carry
the message the CLI would print, which names the bad value and the fix. Anything else is a bug in upgradectl:
the model gets a tool error that says so (never a crashed server), and the traceback goes to stderr only with
UPGRADECTL_DEBUG=1. Calls are serialised because a plan is CPU-bound and runs share the process's caches.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from upgradectl.app.errors import UseCaseError
from upgradectl.exit_codes import bug_summary
from upgradectl.mcp_server.results import clip
from upgradectl.tools.knowledge.loader import KnowledgeError

_ONE_AT_A_TIME = threading.Lock()
ERROR_CAP = 2000  # characters of any tool error: results and errors are bounded, whatever the input


@contextmanager
def tool_call(name: str) -> Iterator[None]:
    """Run one tool body: serialised, with anticipated errors as ToolError and bugs reported as such."""
    with _ONE_AT_A_TIME:
        try:
            yield
        except ToolError as exc:
            message = str(exc)
            if len(message) <= ERROR_CAP:
                raise
            raise ToolError(clip(message, ERROR_CAP)) from None
        except UseCaseError as exc:
            raise ToolError(clip("\n".join([*exc.details, exc.message]), ERROR_CAP)) from None
        except KnowledgeError as exc:  # an edited knowledge directory (UPGRADECTL_KNOWLEDGE_DIR) that does not load
            raise ToolError(clip(str(exc), ERROR_CAP)) from None
        except Exception as exc:  # a bug must not take the server down or hide what went wrong
            if os.environ.get("UPGRADECTL_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            raise ToolError(
                f"internal error in upgradectl while running {name} ({bug_summary(exc)}). This is a bug, "
                "not a problem with your arguments; the server keeps serving. Set UPGRADECTL_DEBUG=1 on the server "
                "for the traceback."
            ) from exc
