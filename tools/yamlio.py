"""YAML reading for every module: libyaml's C loader when PyYAML has it (about 10x faster on the
large knowledge files and snapshots), the pure-Python safe loader otherwise. Same results either way."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


def load(text: str) -> Any:
    """One YAML document (safe types only)."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a safe loader


def load_all(text: str) -> Iterator[Any]:
    """Every document of a multi-document YAML stream (safe types only)."""
    return yaml.load_all(text, Loader=Loader)  # noqa: S506


_pauses = 0
_pause_lock = threading.Lock()


@contextmanager
def bulk_parse() -> Iterator[None]:
    """Build a large parsed document without the cyclic garbage collector, then take what was built out of its
    reach (gc.freeze). Parsed YAML and JSON hold no reference cycles, yet the collector re-walks every container
    built so far each time it runs: most of the time a big snapshot list took to parse. Nests across threads."""
    global _pauses
    with _pause_lock:
        _pauses += 1
        if _pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0:
                gc.freeze()
                gc.enable()
