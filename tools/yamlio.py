"""YAML reading for every module: libyaml's C loader when PyYAML has it (about 10x faster on the
large knowledge files and snapshots), the pure-Python safe loader otherwise. Same results either way."""

from __future__ import annotations

from collections.abc import Iterator
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
