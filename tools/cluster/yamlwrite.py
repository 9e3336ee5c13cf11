"""Write JSON-shaped data (what the Kubernetes API returns) as block YAML, fast.

PyYAML represents every node in Python even with libyaml's emitter: recording 50,000 pods spent most of
its time there. API objects hold only dicts, lists, strings, numbers, booleans and nulls, so this
writer handles just those, in PyYAML's default layout (sorted keys, sequences not indented under their
key, multi-line strings as `|` blocks). A string is written plain only when no YAML reader could take
it for anything else; everything else is double-quoted with JSON escapes (valid YAML). Round-tripping
through `yaml.safe_load` gives the data back unchanged (tests/test_snapshot_yaml.py checks it).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"}
# Characters a YAML reader rejects or takes for a line break inside quotes; escaped instead.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
# A `|` block holds text as is: only printable characters and tabs, no carriage return, no trailing
# spaces, first line not indented, at most one final newline.
_BLOCK_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]|[ \t]\n|[ \t]$")


def dump(value: Any) -> str:
    """One YAML document for a dict, list or scalar."""
    out: list[str] = []
    if isinstance(value, dict) and value:
        _mapping(value, 0, out)
    elif isinstance(value, list) and value:
        for item in value:
            _item(item, 0, out)
    else:
        out.append(_scalar(value))
    return "\n".join(out) + "\n"


def _mapping(value: dict, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key in sorted(value):
        item = value[key]
        kind = type(item)
        head = f"{pad}{_string(key if type(key) is str else str(key))}:"
        if kind is dict and item:
            out.append(head)
            _mapping(item, indent + 2, out)
        elif kind is list and item:
            out.append(head)
            for element in item:
                _item(element, indent, out)
        elif kind is str and "\n" in item and _is_block(item):
            out.append(f"{head} {_block_header(item)}")
            _block(item, indent + 2, out)
        else:
            out.append(f"{head} {_scalar(item)}")


def _item(value: Any, indent: int, out: list[str]) -> None:
    """One `- ` sequence entry at this indentation."""
    pad = " " * indent
    kind = type(value)
    if (kind is dict or kind is list) and value:
        nested: list[str] = []
        if kind is dict:
            _mapping(value, indent + 2, nested)
        else:
            for element in value:
                _item(element, indent + 2, nested)
        nested[0] = f"{pad}- {nested[0][indent + 2:]}"
        out.extend(nested)
    elif kind is str and "\n" in value and _is_block(value):
        out.append(f"{pad}- {_block_header(value)}")
        _block(value, indent + 2, out)
    else:
        out.append(f"{pad}- {_scalar(value)}")


def _scalar(value: Any) -> str:
    if type(value) is str:
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _string(str(value))


@lru_cache(maxsize=1 << 16)
def _string(text: str) -> str:
    """A string as a plain scalar when nothing could misread it, else double-quoted (cached: keys and
    label values repeat across thousands of objects)."""
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return _UNSAFE.sub(_escape, json.dumps(text, ensure_ascii=False))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _is_block(text: str) -> bool:
    return (
        "\n" in text
        and not text.endswith("\n\n")
        and not text.startswith((" ", "\t", "\n"))
        and "\r" not in text
        and not _BLOCK_UNSAFE.search(text)
    )


def _block_header(text: str) -> str:
    return "|" if text.endswith("\n") else "|-"


def _block(text: str, indent: int, out: list[str]) -> None:
    pad = " " * indent
    body = text[:-1] if text.endswith("\n") else text
    out.extend(f"{pad}{line}" if line else "" for line in body.split("\n"))
