"""Run one piece of a report's work in a forked process while this process goes on, and pick up its result later.

Writing a plan's files has pieces that do not depend on each other: drawing the cost plots, rendering the first
half of a big HTML page. On a second core they run at the same time as the rest. The child starts from a fork,
so it already has every module and the work's inputs; its result, or the exception that stopped it, comes back
pickled through a pipe. With one core, or without fork (not Linux), the work runs here, when it is started.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork_aside() -> bool:
    """Whether work started aside runs on another core: Linux (fork) with two or more cores to run on."""
    return sys.platform == "linux" and len(os.sched_getaffinity(0)) >= 2


def run_aside(work: Callable[..., T], *args: Any, name: str) -> Callable[[], T]:
    """Start `work(*args)` in a forked process named `name`; returns the call that waits for it and returns its
    result, or raises what it raised (a child that died without a word: RuntimeError with its exit code).
    Without a second core the work runs now, and the call returns its result."""
    if not can_fork_aside():
        result = work(*args)
        return lambda: result
    context = multiprocessing.get_context("fork")
    results, child_end = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(work, args, child_end), name=name, daemon=True)
    child.start()  # multiprocessing flushes stdout/stderr first: nothing buffered is written twice
    child_end.close()

    def wait() -> T:
        try:
            outcome = results.recv()  # before join: a big result fills the pipe until it is read
        except EOFError:  # it ended without a word: its exit code says how
            outcome = None
        child.join()
        results.close()
        if outcome is None:
            raise RuntimeError(f"{name} stopped (exit code {child.exitcode})")
        finished, value = outcome
        if not finished:
            raise value
        return value

    return wait


@contextmanager
def waited_on_error(*waits: Callable[[], object]) -> Iterator[None]:
    """When the block fails, wait for the work started aside (so no child is left blocked on a result nobody
    reads, e.g. in the long-running MCP server) and raise the block's own error, not the work's."""
    try:
        yield
    except BaseException:
        for wait in waits:
            with suppress(Exception):
                wait()
        raise


def _run(work: Callable[..., Any], args: tuple, results: Connection) -> None:
    """The child: (True, result), or (False, the exception that stopped the work, which the parent raises). Ctrl-C
    is the parent's to handle (it stops the run and, at its exit, this daemon child): the child ignores it rather
    than print a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        outcome = (True, work(*args))
    except Exception as exc:
        outcome = (False, exc)
    try:
        results.send(outcome)
    except Exception as exc:  # a result or an error that does not pickle: say so in words
        results.send((False, RuntimeError(f"its result could not be sent back ({type(exc).__name__}: {exc})")))
