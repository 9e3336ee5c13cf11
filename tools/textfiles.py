"""Reading files users point upgradectl at: UTF-8 text, YAML and JSON, with errors that name the file,
the place in it and the fix, and never quote what the file holds.

A path given by mistake (`--fleet /etc/shadow`) must not print its lines back, on the CLI or over MCP:
parser messages here keep the problem and its line and column, and drop any text they quoted. Each
reader raises the caller's own error type (FleetError, SourceError, ...), so commands keep their exits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from upgradectl.tools import yamlio

ErrorFactory = Callable[[str], BaseException]  # FleetError, SourceError... or any function making the exception
MAX_INPUT_BYTES = 64 * 1024 * 1024  # a fleet, snapshot list or manifest larger than this is not one
_QUOTED = re.compile("'[^']*'|\"[^\"]*\"")  # quoted fragments, paired left to right


def read_text(path: Path, what: str, error: ErrorFactory, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of a file, or `error` saying what is wrong with it (missing, a directory, unreadable,
    too large, not UTF-8) and how to fix it. `what` names the file's role: 'fleet file', 'snapshot list'."""
    try:
        if path.is_dir():
            raise error(f"{what} {path} is a directory; pass the file itself")
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{what} {path} is {size} bytes, over the {max_bytes} a {what} can be; is it the right file?")
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path} not found; check the path") from None
    except PermissionError:
        raise error(f"{what} {path} cannot be read (permission denied); check its permissions") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{what} {path} is not UTF-8 text (invalid byte at line {line}, offset {exc.start}); "
            "save it as UTF-8, or check it is the right file"
        ) from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """'line 3, column 7: mapping values are not allowed here', without any text the parser quoted."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "not valid YAML"
    problem = _QUOTED.sub(lambda m: m.group(0) if len(m.group(0)) <= 5 else "", str(problem)).strip()
    problem = re.sub(r"\s+", " ", problem)  # keep punctuation hints (',' or ']'), drop quoted text
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def json_problem(exc: json.JSONDecodeError) -> str:
    """'line 3, column 7: Expecting value', never the document's text."""
    return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"


def parse_yaml(text: str, path: Path, what: str, error: ErrorFactory) -> Any:
    """One YAML document, or `error` naming the file and the place of the first problem."""
    try:
        return yamlio.load(text)
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML ({yaml_problem(exc)}); fix that line") from None
    except RecursionError:
        raise error(f"{what} {path} nests too deeply to be a {what}") from None


def parse_json(text: str, path: Path, what: str, error: ErrorFactory) -> Any:
    """One JSON document, or `error` naming the file and the place of the first problem."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON ({json_problem(exc)}); fix that line") from None
    except RecursionError:
        raise error(f"{what} {path} nests too deeply to be a {what}") from None


def load_yaml_file(path: Path, what: str, error: ErrorFactory) -> Any:
    """read_text + parse_yaml: a YAML file's one document."""
    return parse_yaml(read_text(path, what, error), path, what, error)


def type_name(value: Any) -> str:
    """How a YAML value's type reads in an error: 'a list', 'a string', 'null'."""
    if value is None:
        return "null"
    return {
        dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number",
    }.get(type(value), type(value).__name__)  # fmt: skip


def schema_problems(exc: Any, limit: int = 5) -> str:
    """A pydantic ValidationError as 'place: problem; ...' without the input values it would repeat."""
    errors = exc.errors(include_url=False, include_input=False)
    shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg']}" for e in errors[:limit])
    return shown + (f"; and {len(errors) - limit} more" if len(errors) > limit else "")


def find_line(path: Path, needle: str, start: int = 1) -> int:
    """First line (1-based, from `start`) whose text contains needle; 0 when absent."""
    for number, text in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if number >= start and needle in text:
            return number
    return 0


def line_text(path: Path, line: int) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
