"""Small pure pieces of the Kubernetes API's conventions, shared by the live reader, the fleet and the
snapshot server: version priority (which version of a group is preferred), label/field selectors, and
the cluster name a kube context stands for."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")

LabelMatcher = Callable[[dict[str, str]], bool]
ObjectMatcher = Callable[[dict[str, Any]], bool]


def version_priority(version: str) -> tuple:
    """Sort key, best first, as the API server orders versions: GA > beta > alpha, then higher numbers
    (v1 > v1beta2 > v1beta1 > v1alpha1); versions outside the convention sort last, alphabetically."""
    m = _VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -major, -minor, version)


class SelectorError(ValueError):
    """A selector that does not parse; the message quotes the offending part."""


_REQUIREMENT = re.compile(
    r"""\s*(?:
        (?P<not>!)\s*(?P<nkey>[A-Za-z0-9_./-]+)                                   # !key
      | (?P<skey>[A-Za-z0-9_./-]+)\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\)  # key in (a,b)
      | (?P<key>[A-Za-z0-9_./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[A-Za-z0-9_.-]*))?  # key, key=v, key!=v
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def parse_label_selector(text: str) -> LabelMatcher:
    """`labelSelector=` as the API server reads it: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
    `a` (exists), `!a` (does not exist), comma-separated (all must hold). Empty matches everything."""
    checks: list[LabelMatcher] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _REQUIREMENT.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"unable to parse requirement at {text[pos:]!r} in label selector {text!r}")
        pos = m.end()
        if m.group("not"):
            checks.append(lambda labels, k=m.group("nkey"): k not in labels)
        elif m.group("skey"):
            key, values = m.group("skey"), {v.strip() for v in m.group("values").split(",") if v.strip()}
            if m.group("setop") == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif m.group("op") in ("=", "=="):
            checks.append(lambda labels, k=m.group("key"), v=m.group("value"): labels.get(k) == v)
        elif m.group("op") == "!=":
            checks.append(lambda labels, k=m.group("key"), v=m.group("value"): labels.get(k) != v)
        else:
            checks.append(lambda labels, k=m.group("key"): k in labels)
    return lambda labels: all(check(labels) for check in checks)


def parse_field_selector(text: str) -> ObjectMatcher:
    """`fieldSelector=`: comma-separated `path=value`, `path==value` or `path!=value` over dotted object
    paths (metadata.name, metadata.namespace, spec.nodeName, status.phase, type...)."""
    checks: list[ObjectMatcher] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise SelectorError(f"invalid field selector requirement {part!r} in {text!r}")
        path, op, value = m.group(1).split("."), m.group(2), m.group(3)
        if op == "!=":
            checks.append(lambda obj, p=path, v=value: _field(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: _field(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)


def _field(obj: dict[str, Any], path: list[str]) -> str:
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def cluster_name_for_context(context: str) -> str:
    """A fleet cluster name from a kube context name: 'arn:aws:eks:...:cluster/ravan' -> 'ravan',
    'gke_project_zone_prod-1' -> 'prod-1', 'kind-dev' -> 'kind-dev'."""
    name = context.rsplit("/", 1)[-1]
    if name.startswith("gke_") and name.count("_") >= 3:
        name = name.split("_", 3)[3]
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return name or "cluster"
