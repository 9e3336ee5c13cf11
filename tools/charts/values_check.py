"""Compare a release's user-supplied values with what a chart accepts: its values.yaml key tree (with the keys
it documents commented out and the ones its templates read), its values.schema.json, and the options its
values.yaml comments document. Generic: it knows nothing about any one tool.

A key the target chart no longer has is named with the closest key that exists; schema violations are judged on
the values Helm would validate (chart defaults merged with the user's), and only those at paths the user set
are reported.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from upgradectl.tools.charts.store import Chart

ProblemKind = Literal["unknown-key", "type", "enum", "schema", "documented-options"]
COMMENTED_KEY = re.compile(r"^(\s*)#\s?([A-Za-z_][A-Za-z0-9_-]*):(\s|$)")
REAL_KEY = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_.-]*|\"[^\"]+\"|'[^']+'):(\s|$)")
TEMPLATE_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
INDEX_REF = re.compile(r"index\s+\$?\.Values((?:\s+\"[^\"]+\")+)")
OPTIONS_INLINE = re.compile(r"(?:valid|supported|possible) (?:options|values)(?: are|:)\s*(.+)", re.I)
OPTION_ITEM = re.compile(r"^\s*#\s+-\s+([A-Za-z0-9_.\"'-]+)\s*$")
PROSE_WORDS = {"ref", "note", "default", "example", "see", "todo", "warning", "deprecated", "e.g", "i.e", "docs"}


@dataclass(frozen=True)
class ValueProblem:
    """One user-supplied value the chart does not accept, with what it accepts instead."""

    path: str
    kind: ProblemKind
    value: str
    message: str
    closest: str = ""


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(values, dict):
        for key, value in values.items():
            here = f"{prefix}.{key}" if prefix else str(key)
            out[here] = value
            out.update(_flatten(value, here))
    return out


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return "{...}" if isinstance(value, dict) else "[...]"
    return str(value)


class ChartValues:
    """What one chart accepts, computed once per chart."""

    def __init__(self, chart: Chart):
        self.chart = chart

    @cached_property
    def defaults(self) -> dict[str, Any]:
        return _flatten(self.chart.values)

    @cached_property
    def documented(self) -> tuple[set[str], dict[str, list[str]]]:
        """(keys documented only as comments, documented options per key) from values.yaml's text."""
        commented: set[str] = set()
        options: dict[str, list[str]] = {}
        stack: list[tuple[int, str]] = []  # (indent, dotted path) of the real keys above
        comments: list[str] = []
        for line in self.chart.values_text.splitlines():
            if not line.strip():
                comments = []
                continue
            real = REAL_KEY.match(line)
            commented_key = COMMENTED_KEY.match(line) if line.lstrip().startswith("#") else None
            if commented_key and (commented_key.group(2).lower() in PROSE_WORDS or "://" in line):
                commented_key = None  # prose ("# ref: https://..."), not a key
            match = real or commented_key
            if match is None:
                if line.lstrip().startswith("#"):
                    comments.append(line)
                continue
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            key = match.group(2).strip("\"'")
            path = f"{stack[-1][1]}.{key}" if stack else key
            listed = _options(comments)
            if listed:
                options[path] = listed
            if real:
                stack.append((indent, path))
            elif commented_key and not line.lstrip().startswith("# --"):
                commented.add(path)
            comments = []
        return commented, options

    @cached_property
    def template_refs(self) -> set[str]:
        refs: set[str] = set()
        for text in self.chart.templates.values():
            refs.update(m.group(1).lstrip(".") for m in TEMPLATE_REF.finditer(text))
            refs.update(".".join(re.findall(r"\"([^\"]+)\"", m.group(1))) for m in INDEX_REF.finditer(text))
        return refs

    @cached_property
    def known(self) -> set[str]:
        return set(self.defaults) | self.documented[0] | self.template_refs | set(_schema_paths(self.chart.schema))

    def unknown_keys(self, values: dict[str, Any]) -> list[ValueProblem]:
        """User keys the chart neither defines, documents, reads in a template nor describes in its schema.
        Maps the chart leaves to the user (empty, null, a list, or keyed like data: `eks.amazonaws.com/role`,
        `timeout.reconciliation`) are not descended into."""
        problems = []

        def walk(node: dict[str, Any], default: Any, prefix: str) -> None:
            for key, value in node.items():
                key = str(key)
                path = f"{prefix}.{key}" if prefix else key
                if "." in key or "/" in key:
                    continue  # a data key (annotation, ConfigMap entry), not a chart setting
                has_default = isinstance(default, dict) and key in default
                child = default.get(key) if has_default else None
                if has_default or path in self.known:
                    opaque = path in self.documented[0] or path in self.template_refs
                    if isinstance(value, dict) and not opaque and not _free_form(child, has_default):
                        walk(value, child, path)
                    continue
                if any(path.startswith(ref + ".") for ref in self.template_refs):
                    continue  # read as a whole by a template (toYaml .Values.x)
                closest = self.closest(path)
                hint = f"; the closest key it has is {closest}" if closest else ""
                problems.append(ValueProblem(path, "unknown-key", _shown(value),
                                             f"chart {self.chart.name} {self.chart.version} has no value {path}{hint}",
                                             closest))  # fmt: skip

        walk(values, self.chart.values, "")
        return problems

    def closest(self, path: str) -> str:
        """The existing key most like `path`: a sibling first, else any key of the chart."""
        parent, _, last = path.rpartition(".")
        siblings = [k for k in self.known if k.rpartition(".")[0] == parent]
        near = difflib.get_close_matches(last, [k.rpartition(".")[2] for k in siblings], n=1, cutoff=0.6)
        if near:
            return f"{parent}.{near[0]}" if parent else near[0]
        anywhere = difflib.get_close_matches(path, sorted(self.known), n=1, cutoff=0.6)
        if anywhere:
            return anywhere[0]
        leaf = difflib.get_close_matches(last, sorted({k.rpartition(".")[2] for k in self.known}), n=1, cutoff=0.75)
        return next((k for k in sorted(self.known) if leaf and k.rpartition(".")[2] == leaf[0]), "")

    def schema_problems(self, values: dict[str, Any]) -> list[ValueProblem]:
        schema = self.chart.schema
        if not schema:
            return []
        try:
            validator = Draft7Validator(schema)
        except SchemaError:
            return []
        merged = _merge(self.chart.values, values)
        user = set(_flatten(values))
        problems = []
        for error in validator.iter_errors(merged):
            path = ".".join(str(p) for p in error.absolute_path)
            if path not in user and not (error.validator == "additionalProperties" and _extra_is_user(error, user)):
                continue
            kind: ProblemKind = "type" if error.validator == "type" else "enum" if error.validator == "enum" else \
                "schema"
            if error.validator == "additionalProperties":
                kind = "unknown-key"
            value = _shown(error.instance) if path else ""
            problems.append(ValueProblem(path, kind, value, f"values.schema.json: {path or '(top)'}: {error.message}"))
        return problems

    def documented_problems(self, values: dict[str, Any]) -> list[ValueProblem]:
        options = self.documented[1]
        problems = []
        for path, value in _flatten(values).items():
            listed = options.get(path)
            if not listed or isinstance(value, (dict, list)):
                continue
            if _shown(value).lower() not in {o.lower() for o in listed}:
                problems.append(ValueProblem(path, "documented-options", _shown(value),
                                             f"chart {self.chart.name} {self.chart.version} documents {path} as one of "
                                             f"{', '.join(listed)}"))  # fmt: skip
        return problems

    def check(self, values: dict[str, Any]) -> list[ValueProblem]:
        """Every problem of the user's values against this chart, one per path (the strongest evidence first)."""
        found: dict[str, ValueProblem] = {}
        for problem in [*self.schema_problems(values), *self.unknown_keys(values), *self.documented_problems(values)]:
            found.setdefault(problem.path, problem)
        return list(found.values())


def _free_form(default: Any, has_default: bool) -> bool:
    """True when the chart leaves the keys under a value to the user."""
    if not has_default or default is None or isinstance(default, list):
        return True
    if isinstance(default, dict):
        return not default or any("." in str(k) or "/" in str(k) for k in default)
    return False


def _options(comments: list[str]) -> list[str]:
    """Options a comment block documents for the key below it ('Valid options are "a" or "b"', '- a' lists)."""
    text = " ".join(c.lstrip()[1:].strip() for c in comments)
    listed: list[str] = []
    inline = OPTIONS_INLINE.search(text)
    if inline:
        body = inline.group(1).split(".")[0]
        parts = [p.strip().strip("\"'`") for p in re.split(r",|\bor\b|\band\b", body)]
        parts = [p for p in parts if p]
        if len(parts) >= 2 and all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", p) for p in parts):
            listed = parts
    if not listed and any(re.search(r"possible values:?\s*$|supported values:?\s*$", c, re.I) for c in comments):
        items = [m.group(1).strip("\"'") for c in comments if (m := OPTION_ITEM.match(c))]
        if len(items) >= 2:
            listed = items
    return listed


def _schema_paths(schema: dict[str, Any] | None, prefix: str = "") -> list[str]:
    if not isinstance(schema, dict):
        return []
    found = []
    for key, sub in (schema.get("properties") or {}).items():
        here = f"{prefix}.{key}" if prefix else key
        found.append(here)
        found.extend(_schema_paths(sub, here))
    return found


def _merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of user values over chart defaults (maps merge, everything else replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return override


def _extra_is_user(error: Any, user: set[str]) -> bool:
    prefix = ".".join(str(p) for p in error.absolute_path)
    extras = re.findall(r"'([^']+)' (?:was|were) unexpected", error.message)
    return any((f"{prefix}.{e}" if prefix else e) in user for e in extras)
