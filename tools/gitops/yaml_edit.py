"""Edit YAML files the way a careful person would: only the intended characters change.

ruamel.yaml's round-trip loader finds every key and value with its line and column. Scalar changes (a
chart version, an apiVersion, a key renamed in place, a label key) are spliced into the original text at
those positions, so comments, quoting, key order and indentation stay exactly as they were. Structural
changes (a Helm value moved to another parent, a key removed) go through ruamel's round-trip dump, with
the indentation detected from the file: the file must dump back byte-identical before the edit, or the
edit is refused (EditError) rather than reformatting someone's file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

Path = list[str | int]
INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 2, 0), (2, 3, 1), (4, 6, 4))


class EditError(ValueError):
    """An edit that cannot be made as planned (file changed, value not there); the message says why."""


def _yaml(mapping: int = 2, sequence: int = 2, offset: int = 0, explicit_start: bool = False) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    y.explicit_start = explicit_start
    return y


def load_documents(text: str, where: str = "") -> list[Any]:
    """Every document of a YAML stream, round-trip (with line/column marks)."""
    try:
        return list(_yaml().load_all(text))
    except YAMLError as exc:
        raise EditError(f"{where or 'file'} is not valid YAML: {str(exc).splitlines()[0]}") from exc


def _matches(doc: Any, selector: dict[str, str]) -> bool:
    if not isinstance(doc, dict):
        return False
    if not selector:
        return True
    meta = doc.get("metadata") or {}
    return (
        doc.get("kind") == selector.get("kind")
        and meta.get("name") == selector.get("name")
        and (not selector.get("namespace") or meta.get("namespace", "") == selector.get("namespace"))
    )


def select(docs: list[Any], selector: dict[str, str], where: str = "") -> Any:
    """The document a selector names (kind/name/namespace), or the first mapping when it names none."""
    for doc in docs:
        if _matches(doc, selector):
            return doc
    what = "/".join(selector.get(k, "") for k in ("kind", "namespace", "name") if selector.get(k)) or "a mapping"
    raise EditError(f"{where}: no document {what}")


def describe_path(path: Path) -> str:
    return ".".join(str(p) for p in path)


def parent_of(doc: Any, path: Path, where: str = "") -> tuple[Any, str | int]:
    """(container, last key) for a path; EditError naming the first missing key."""
    node = doc
    for i, key in enumerate(path[:-1]):
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise EditError(f"{where}: {describe_path(path[: i + 1])} not found") from None
    if not isinstance(node, (CommentedMap, CommentedSeq)):
        raise EditError(f"{where}: {describe_path(path[:-1])} is not a mapping or list")
    last = path[-1]
    present = last in node if isinstance(node, CommentedMap) else isinstance(last, int) and last < len(node)
    if not present:
        raise EditError(f"{where}: {describe_path(path)} not found")
    return node, last


# ---------------------------------------------------------------- scalar splices


def _token_end(line: str, col: int) -> int:
    """End column of the scalar token starting at col (quoted, or plain up to a comment or line end)."""
    if col >= len(line):
        return col
    quote = line[col]
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'" and i + 1 < len(line) and line[i + 1] == "'":
                i += 2
                continue
            if line[i] == "'":
                return i + 1
            i += 1
        raise EditError(f"unterminated quoted scalar: {line.strip()}")
    if quote == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        raise EditError(f"unterminated quoted scalar: {line.strip()}")
    if quote in "|>":
        raise EditError(f"block scalar at {line.strip()!r}: edit it by hand")
    rest = line[col:]
    comment = re.search(r"\s#", rest)
    token = rest[: comment.start()] if comment else rest
    token = token.rstrip("\r\n")
    # a plain key ends at ': '
    colon = re.search(r":(\s|$)", token)
    if colon:
        token = token[: colon.start()]
    return col + len(token.rstrip())


def _is_plain_string(value: str) -> bool:
    """True when `value` written unquoted still reads back as this same string."""
    if not value or value != value.strip() or re.search(r"[:#]\s|\s#|^[-?:,\[\]{}#&*!|>'\"%@`]", value):
        return False
    try:
        loaded = YAML(typ="safe").load(f"k: {value}\n")
    except YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k") == value


def _render(token: str, value: str) -> str:
    """The new token in the old token's quoting style (plain only when it stays a string)."""
    if token.startswith("'"):
        return "'" + value.replace("'", "''") + "'"
    if token.startswith('"'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value if _is_plain_string(value) else "'" + value.replace("'", "''") + "'"


def _unquote(token: str) -> str:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token.startswith('"'):
        return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return token


# line, start col, end col, expected old value, new value, and whether `new` is a YAML scalar written as given
Splice = tuple[int, int, int, str, str] | tuple[int, int, int, str, str, bool]


def apply_splices(text: str, splices: list[Splice], where: str = "") -> str:
    """Replace scalar tokens at (line, col) positions; each must still read as its expected old value."""
    lines = text.splitlines(keepends=True)
    for splice in sorted(splices, key=lambda s: (s[0], s[1]), reverse=True):
        line, start, end, old, new = splice[:5]
        raw = len(splice) > 5 and bool(splice[5])
        row = lines[line]
        token = row[start:end]
        if scalar_text(_plain_value(token)) != old:
            raise EditError(f"{where}:{line + 1}: expected {old!r}, found {token!r}")
        lines[line] = row[:start] + (new if raw else _render(token, new)) + row[end:]
    return "".join(lines)


def _plain_value(token: str) -> Any:
    """A token as YAML reads it when unquoted (so `true` compares as 'true'), else its unquoted text."""
    if token[:1] in "'\"":
        return _unquote(token)
    try:
        return YAML(typ="safe").load(f"k: {token}\n")["k"]
    except (YAMLError, TypeError, KeyError):
        return token


def scalar_text(value: Any) -> str:
    """How a plan names a scalar value: booleans in YAML's spelling (true/false), everything else as str()."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def value_splice(
    doc: Any, lines: list[str], path: Path, old: str, new: str, where: str = "", raw: bool = False
) -> Splice:
    """The splice that sets the scalar at path from old to new (`lines`: the file's source lines); `raw`: new is
    a YAML scalar written as given (true, 443, 'quoted')."""
    parent, key = parent_of(doc, path, where)
    current = parent[key]
    if isinstance(current, (CommentedMap, CommentedSeq)):
        raise EditError(f"{where}: {describe_path(path)} is not a single value")
    if scalar_text(current) != old:
        raise EditError(f"{where}: {describe_path(path)} is {current!r}, expected {old!r} (edited since the plan?)")
    line, col = parent.lc.value(key) if isinstance(parent, CommentedMap) else parent.lc.item(key)
    return line, col, _token_end(lines[line], col), old, new, raw


def key_splice(parent: CommentedMap, lines: list[str], key: str, new_key: str) -> Splice:
    """The splice that renames a mapping key in place (same parent, same position)."""
    line, col = parent.lc.key(key)
    return line, col, _token_end(lines[line], col), key, new_key


# ---------------------------------------------------------------- whole-document edits


def faithful_yaml(text: str, where: str = "", docs: list[Any] | None = None) -> YAML:
    """A ruamel YAML whose round trip reproduces this file byte for byte (indentation detected).

    `docs`: the file's documents as load_documents read them, when the caller has them: each indentation is then
    tried by dumping them (loading does not depend on it), which saves a parse per indentation tried."""
    start = text.lstrip().startswith("---")
    for mapping, sequence, offset in INDENTS:
        y = _yaml(mapping, sequence, offset, start)
        try:
            out = io.StringIO()
            y.dump_all(list(y.load_all(text)) if docs is None else docs, out)
        except YAMLError:
            continue
        if out.getvalue() == text:
            return y
    raise EditError(
        f"{where}: its layout cannot be kept through a YAML rewrite (unusual indentation or markers); "
        "make this change by hand"
    )


def rewrite(text: str, change: Callable[[list[Any]], None], where: str = "", docs: list[Any] | None = None) -> str:
    """Apply a structural change to the documents and dump them in the file's own layout.

    `docs`: the text's documents as load_documents read them (changed in place), when the caller has them."""
    try:
        y = faithful_yaml(text, where, docs)
    except EditError:
        if docs is None:
            raise
        y, docs = faithful_yaml(text, where), None  # each indentation with its own parse before refusing the edit
    if docs is None:
        docs = list(y.load_all(text))
    change(docs)
    out = io.StringIO()
    y.dump_all(docs, out)
    return out.getvalue()


def scalar(text: str) -> Any:
    """A YAML scalar given as text (`native`, `true`, `'true'`) as ruamel keeps it (quotes preserved)."""
    return _yaml().load(f"v: {text}\n")["v"]


def drop_empty_parents(doc: Any, path: Path, stop: int) -> None:
    """Remove mappings left empty along path (deepest first), never above `stop` keys deep."""
    for depth in range(len(path) - 1, stop, -1):
        node = doc
        for key in path[: depth - 1]:
            node = node[key]
        key = path[depth - 1]
        if isinstance(node, CommentedMap) and isinstance(node.get(key), CommentedMap) and not node[key]:
            del node[key]


def locate(text: str, line: int, where: str = "") -> tuple[dict[str, str], Path]:
    """The document (by kind/name/namespace) and key path of the scalar value on a 1-based line."""
    docs = load_documents(text, where)
    starts = [d.lc.line if hasattr(d, "lc") else 0 for d in docs]
    for index, doc in enumerate(docs):
        end = starts[index + 1] if index + 1 < len(docs) else 10**9
        if not isinstance(doc, CommentedMap) or not starts[index] <= line - 1 < end:
            continue
        found = _find_line(doc, line - 1, [])
        if found is not None:
            meta = doc.get("metadata") or {}
            selector = {"kind": str(doc.get("kind", "")), "name": str(meta.get("name", "")),
                        "namespace": str(meta.get("namespace", ""))}  # fmt: skip
            return ({k: v for k, v in selector.items() if v} if "kind" in doc else {}), found
    raise EditError(f"{where}:{line}: no YAML value on this line")


def _find_line(node: Any, line: int, path: Path) -> Path | None:
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if isinstance(value, (CommentedMap, CommentedSeq)):
                found = _find_line(value, line, [*path, key])
                if found is not None:
                    return found
            elif node.lc.key(key)[0] == line:
                return [*path, key]
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            if isinstance(value, (CommentedMap, CommentedSeq)):
                found = _find_line(value, line, [*path, index])
                if found is not None:
                    return found
            elif node.lc.item(index)[0] == line:
                return [*path, index]
    return None
