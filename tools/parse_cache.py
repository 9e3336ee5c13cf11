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

Facts worked out from a whole snapshot (a cluster's cost report: `derived`) are kept the same way, named by every
file of the snapshot and every file of the code that works them out (tools/, the models, NumPy and SciPy), so a
new recording or a new upgradectl works them out again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from upgradectl import cost_models, models

FORMAT = "2"  # bump when what a reading gives changes (e.g. tools/cluster/sources.py lean)


def cache_dir() -> Path | None:
    """Where entries go; None when the cache is turned off (UPGRADECTL_CACHE_DIR set empty)."""
    configured = os.environ.get("UPGRADECTL_CACHE_DIR")
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "upgradectl" / "parsed"


def _entry(files: Iterable[Path], kind: str) -> Path | None:
    """The entry for `kind` of these files (absolute paths) as they are now (path, size, modification time); None
    when the cache is off or a file cannot be looked at."""
    root = cache_dir()
    if root is None:
        return None
    key = [FORMAT, kind]
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            return None
        key += [str(file), str(stat.st_size), str(stat.st_mtime_ns)]
    return root / f"{hashlib.sha256(chr(0).join(key).encode()).hexdigest()[:32]}.json"


def read(file: Path, kind: str) -> Any | None:
    """What reading this file as `kind` gave when it was as it is now, or None."""
    return _read(_entry([file.resolve()], kind))


def write(file: Path, kind: str, parsed: Any) -> None:
    """Remember what reading this file as `kind` gave, when JSON keeps it exactly (best effort, atomic)."""
    _write(_entry([file.resolve()], kind), parsed)


def read_derived(snapshot: Path, kind: str) -> Any | None:
    """The fact `kind` (its name and arguments) worked out from this snapshot directory as it is now, by this code;
    None when it is not kept."""
    return _read(_entry(_derived_inputs(snapshot), kind))


def write_derived(snapshot: Path, kind: str, fact: Any) -> None:
    """Remember the fact `kind` worked out from this snapshot directory (as JSON data; see `write`)."""
    _write(_entry(_derived_inputs(snapshot), kind), fact)


def _derived_inputs(snapshot: Path) -> list[Path]:
    """Every file a fact of this snapshot can depend on: the snapshot's own, then the code's."""
    try:
        own = sorted(file for file in snapshot.resolve().rglob("*") if file.is_file())
    except OSError:
        own = []
    return [*own, *_code_files()]


@functools.cache
def _code_files() -> tuple[Path, ...]:
    """The files of the code that works facts out: tools/ (its data, such as the price table, included), the models,
    and NumPy's and SciPy's own (found without importing them: a new install has new files)."""
    tools = Path(__file__).resolve().parent
    files = sorted(file for file in tools.rglob("*") if file.is_file() and "__pycache__" not in file.parts)
    files += [Path(cost_models.__file__), Path(models.__file__)]
    for library in ("numpy", "scipy"):
        spec = importlib.util.find_spec(library)
        if spec is not None and spec.origin:
            files.append(Path(spec.origin))
    return tuple(files)


def _read(entry: Path | None) -> Any | None:
    if entry is None:
        return None
    try:
        return json.loads(entry.read_text())
    except (OSError, ValueError):
        return None


def _write(entry: Path | None, parsed: Any) -> None:
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
