"""YAML reading for every module, as Kubernetes controllers read it.

libyaml's C loader when PyYAML has it (about 10x faster on the large knowledge files and snapshots), the
pure-Python safe loader otherwise; same results either way. Two things differ from PyYAML's defaults
and follow the Go YAML libraries the controllers (and kustomize) use:

- an anchor defined twice is legal YAML: the later definition wins for the aliases after it (PyYAML
  refuses the file; the C composer cannot be taught otherwise, so such a file is re-read with the
  pure-Python composer);
- a tag PyYAML has no constructor for (an application's `!env_var X`, YAML 1.1's `=` value tag) is read
  as the plain scalar, list or mapping under it, as Go's decoder does for untyped values.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

YAMLError = yaml.YAMLError

_FastBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _untyped(loader: yaml.SafeLoader, _suffix: str, node: Node) -> Any:
    """A node whose tag has no constructor, read as what it holds (a string, a list or a mapping)."""
    if isinstance(node, ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, MappingNode):
        return loader.construct_mapping(node, deep=True)
    return None


class Loader(_FastBase):  # type: ignore[misc,valid-type]
    """The safe loader (C when available) that reads unknown tags as untyped values."""


class RedefiningLoader(yaml.SafeLoader):
    """The pure-Python safe loader that also accepts an anchor defined again (the later one wins)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if not self.check_event(AliasEvent):
            anchor = self.peek_event().anchor
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


for _loader in (Loader, RedefiningLoader):
    _loader.add_multi_constructor("", _untyped)  # any tag without a constructor of its own
    _loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def redefined_anchor(exc: ComposerError) -> bool:
    """True when the composer refused a stream only because it defines an anchor again."""
    return "duplicate anchor" in str(exc)


def load(text: str) -> Any:
    """One YAML document (safe types only)."""
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a safe loader
    except ComposerError as exc:
        if not redefined_anchor(exc):
            raise
        return yaml.load(text, Loader=RedefiningLoader)  # noqa: S506


def load_all(text: str) -> Iterator[Any]:
    """Every document of a multi-document YAML stream (safe types only)."""
    try:
        return iter(list(yaml.load_all(text, Loader=Loader)))  # noqa: S506
    except ComposerError as exc:
        if not redefined_anchor(exc):
            raise
        return iter(list(yaml.load_all(text, Loader=RedefiningLoader)))  # noqa: S506


def documents_with_nodes(text: str) -> list[tuple[Node, Any]]:
    """(node, document) for every document of a stream: the node keeps each value's line and column."""
    try:
        return _documents_with_nodes(text, Loader)
    except ComposerError as exc:
        if not redefined_anchor(exc):
            raise
        return _documents_with_nodes(text, RedefiningLoader)


def _documents_with_nodes(text: str, loader_class: type) -> list[tuple[Node, Any]]:
    loader = loader_class(text)
    found = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                found.append((node, loader.construct_document(node)))
    finally:
        loader.dispose()
    return found


Path = tuple[str | int, ...]


def value_lines(node: Node, base: Path = ()) -> dict[Path, int]:
    """Key path -> 1-based line of every key (and list item) under a node; merge keys (`<<`) are skipped:
    the values they bring in keep the line of the anchor they come from, seen where it is defined."""
    lines: dict[Path, int] = {}
    stack: list[tuple[Node, Path]] = [(node, base)]
    seen: set[int] = set()
    while stack:
        current, path = stack.pop()
        if id(current) in seen:  # an alias: its lines are where the anchor is defined
            continue
        seen.add(id(current))
        if isinstance(current, MappingNode):
            for key_node, value_node in current.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                child = (*path, key_node.value)
                lines.setdefault(child, key_node.start_mark.line + 1)
                stack.append((value_node, child))
        elif isinstance(current, SequenceNode):
            for index, item in enumerate(current.value):
                child = (*path, index)
                lines.setdefault(child, item.start_mark.line + 1)
                stack.append((item, child))
    return lines


def as_list(value: Any) -> list:
    """A YAML value expected to be a list, or [] when it is missing or something else (hand-written files)."""
    return value if isinstance(value, list) else []


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
