"""Rewrite PromQL safely: add a label matcher to every vector selector, rename metrics, list them.

Gates are written once per tool (`sum(rate(karpenter_cloudprovider_errors_total[10m]))`) and judged
per cluster, so every selector must carry `cluster="<name>"`. String templating would miss selectors
inside functions or binary expressions and break on quotes; this module tokenizes the expression
instead (strings, `{...}` matcher blocks, `[...]` ranges, identifiers) and finds the selectors the
way the PromQL grammar does:

- an identifier followed by `(` is a function or aggregation (`rate(`, `sum(`);
- an aggregation followed by `by`/`without` is not a selector (`sum by (le) (...)`);
- the label lists after `by`, `without`, `on`, `ignoring`, `group_left`, `group_right` are skipped;
- `and`, `or`, `unless`, `bool`, `offset`, `atan2`, `inf`, `nan` are keywords;
- every other identifier is a metric name, and a `{...}` block without a name is a selector too.

An existing matcher on the same label is kept and ours is added beside it: both must hold, so a
query can only be narrowed, never widened (`{cluster="a"}` scoped to b matches nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?:[a-zA-Z]+\d*)*"
)
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "any", "median", "mode", "distinct", "share", "histogram", "outliersk",
}  # fmt: skip


class PromQLSyntaxError(ValueError):
    """The expression could not be tokenized (unbalanced quotes, braces or brackets)."""


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, matchers, range, string, number, paren_open, paren_close, other
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Selector:
    """One vector selector: its metric name (may be empty) and where its matcher block is."""

    name: str
    name_span: tuple[int, int] | None
    block_span: tuple[int, int] | None  # span of '{...}' including braces, None when absent


def _scan_quoted(expr: str, i: int) -> int:
    """Index just past the string literal starting at expr[i]."""
    quote = expr[i]
    j = i + 1
    while j < len(expr):
        if expr[j] == "\\" and quote != "`":
            j += 2
            continue
        if expr[j] == quote:
            return j + 1
        j += 1
    raise PromQLSyntaxError(f"unterminated string starting at offset {i}: {expr[i:i + 30]!r}")


def _scan_block(expr: str, i: int, close: str) -> int:
    """Index just past the block opened at expr[i] ('{' or '['), skipping strings inside."""
    j = i + 1
    while j < len(expr):
        ch = expr[j]
        if ch in "\"'`":
            j = _scan_quoted(expr, j)
            continue
        if ch == close:
            return j + 1
        j += 1
    raise PromQLSyntaxError(f"unclosed {expr[i]!r} at offset {i}: {expr[i:i + 30]!r}")


def _tokens(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch.isspace():
            i += 1
        elif ch == "#":  # comment to end of line
            end = expr.find("\n", i)
            i = len(expr) if end < 0 else end
        elif ch in "\"'`":
            end = _scan_quoted(expr, i)
            tokens.append(_Token("string", i, end, expr[i:end]))
            i = end
        elif ch == "{":
            end = _scan_block(expr, i, "}")
            tokens.append(_Token("matchers", i, end, expr[i:end]))
            i = end
        elif ch == "[":
            end = _scan_block(expr, i, "]")
            tokens.append(_Token("range", i, end, expr[i:end]))
            i = end
        elif ch == "}" or ch == "]":
            raise PromQLSyntaxError(f"unbalanced {ch!r} at offset {i}")
        elif (m := _NUMBER.match(expr, i)) and (ch.isdigit() or ch == "."):
            tokens.append(_Token("number", i, m.end(), m.group()))
            i = m.end()
        elif m := _IDENT.match(expr, i):
            tokens.append(_Token("ident", i, m.end(), m.group()))
            i = m.end()
        elif ch == "(":
            tokens.append(_Token("paren_open", i, i + 1, ch))
            i += 1
        elif ch == ")":
            tokens.append(_Token("paren_close", i, i + 1, ch))
            i += 1
        else:
            tokens.append(_Token("other", i, i + 1, ch))
            i += 1
    depth = 0
    for t in tokens:
        depth += {"paren_open": 1, "paren_close": -1}.get(t.kind, 0)
        if depth < 0:
            raise PromQLSyntaxError(f"unbalanced ')' at offset {t.start}")
    if depth:
        raise PromQLSyntaxError(f"{depth} unclosed '(' in {expr!r}")
    return tokens


def _skip_group(tokens: list[_Token], i: int) -> int:
    """Index past the parenthesised group starting at tokens[i] (which is '(')."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += {"paren_open": 1, "paren_close": -1}.get(tokens[j].kind, 0)
        if depth == 0:
            return j + 1
    return len(tokens)


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of a PromQL (or MetricsQL) expression, in order."""
    return list(_selectors(_tokens(expr)))


def _selectors(tokens: list[_Token]) -> Iterator[Selector]:
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if t.kind == "matchers":
            yield Selector("", None, (t.start, t.end))
        elif t.kind == "ident":
            word = t.text.lower()
            if word in _LABEL_LIST_KEYWORDS:
                if nxt is not None and nxt.kind == "paren_open":
                    i = _skip_group(tokens, i + 1)
                    continue
            elif word in _KEYWORDS:
                pass
            elif nxt is not None and nxt.kind == "paren_open":
                pass  # function call or aggregation
            elif word in _AGGREGATIONS and nxt is not None and nxt.kind == "ident" and nxt.text in ("by", "without"):
                pass
            else:
                block = (nxt.start, nxt.end) if nxt is not None and nxt.kind == "matchers" else None
                yield Selector(t.text, (t.start, t.end), block)
                if block:
                    i += 2
                    continue
        i += 1


def _matcher(label: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}="{escaped}"'


def _rewrite(expr: str, edit: Callable[[Selector], list[tuple[int, int, str]]]) -> str:
    edits: list[tuple[int, int, str]] = []
    for sel in selectors(expr):
        edits.extend(edit(sel))
    out = expr
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    return out


def with_label(expr: str, label: str, value: str) -> str:
    """`expr` with `label="value"` added to every vector selector.

    >>> with_label('sum(rate(x_total{a="b"}[5m])) / sum(rate(y_total[5m]))', "cluster", "ravan")
    'sum(rate(x_total{a="b", cluster="ravan"}[5m])) / sum(rate(y_total{cluster="ravan"}[5m]))'
    """
    if not _LABEL_NAME.match(label):
        raise ValueError(f"invalid label name {label!r}: use letters, digits and underscores")
    matcher = _matcher(label, value)

    def edit(sel: Selector) -> list[tuple[int, int, str]]:
        if sel.block_span is None:
            assert sel.name_span is not None
            return [(sel.name_span[1], sel.name_span[1], "{" + matcher + "}")]
        start, end = sel.block_span
        inner = expr[start + 1 : end - 1].rstrip()
        if not inner.strip():
            return [(start, end, "{" + matcher + "}")]
        sep = "" if inner.endswith(",") else ","
        return [(start, end, "{" + inner + sep + " " + matcher + "}")]

    return _rewrite(expr, edit)


def rename_metrics(expr: str, renames: dict[str, str]) -> str:
    """`expr` with selector metric names replaced per `renames` (old -> new); other text untouched."""

    def edit(sel: Selector) -> list[tuple[int, int, str]]:
        if sel.name_span and sel.name in renames and renames[sel.name]:
            return [(sel.name_span[0], sel.name_span[1], renames[sel.name])]
        return []

    return _rewrite(expr, edit)


def metric_names(expr: str) -> list[str]:
    """Metric names the expression selects by name, in order of first use."""
    return list(dict.fromkeys(s.name for s in selectors(expr) if s.name))
