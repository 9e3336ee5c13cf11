"""A cache of parsed snapshot lists, as JSON: a YAML snapshot list read again (by the next plan, scan or cost
run on the same recording) costs a JSON parse instead of a YAML one (for the demo fleet about 30x less). Only
snapshot lists are cached: the recorder has already redacted them, while GitOps and Terraform files may hold
credentials that must not be copied anywhere. Entry files are created readable by their owner only. (Drawn
cost plots share the directory: tools/cost/plots.py keeps each PNG by what it shows.)

Entries live in `$UPGRADECTL_CACHE_DIR` (default `$XDG_CACHE_HOME/upgradectl/parsed`, else
`~/.cache/upgradectl/parsed`; set it empty to turn the cache off), one file per parsed file and kind of reading,
named by a hash of the file's absolute path, size and modification time, the kind and this cache's format: an
edited or replaced file is parsed again. Only what JSON gives back unchanged is cached (a result holding dates
or non-string keys is not), a file that failed to parse is never cached, and a cache that cannot be read or
written is simply not used: the file stays the truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FORMAT = "2"  # bump when what a reading gives changes (e.g. tools/cluster/sources.py lean)


def cache_dir() -> Path | None:
    """Where entries go; None when the cache is turned off (UPGRADECTL_CACHE_DIR set empty)."""
    configured = os.environ.get("UPGRADECTL_CACHE_DIR")
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "upgradectl" / "parsed"


def _entry(file: Path, kind: str) -> Path | None:
    root = cache_dir()
    if root is None:
        return None
    try:
        stat = file.stat()
    except OSError:
        return None
    key = f"{FORMAT}\0{kind}\0{file.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def read(file: Path, kind: str) -> Any | None:
    """What reading this file as `kind` gave when it was as it is now, or None."""
    entry = _entry(file, kind)
    if entry is None:
        return None
    try:
        return json.loads(entry.read_text())
    except (OSError, ValueError):
        return None


def write(file: Path, kind: str, parsed: Any) -> None:
    """Remember what reading this file as `kind` gave, when JSON keeps it exactly (best effort, atomic)."""
    entry = _entry(file, kind)
    if entry is None:
        return
    try:
        text = json.dumps(parsed, separators=(",", ":"))
        if json.loads(text) != parsed:  # non-string keys, tuples, NaN...: JSON would not give the same back
            return
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=entry.parent, suffix=".tmp", delete=False) as handle:
            handle.write(text)
    except (OSError, TypeError, ValueError):  # read-only home, a date in the data: no cache, no harm
        return
    try:
        os.replace(handle.name, entry)
    except OSError:
        Path(handle.name).unlink(missing_ok=True)
