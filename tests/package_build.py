"""Build upgradectl's wheel from a clean copy of the tracked files, as `pip install .` would, once per session:
the packaging test checks what it ships and the import contract runs against its installed layout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_FILES = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]  # what a clean clone would hold


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    build_log: str  # the build backend's stderr (warnings about the package layout show up here)

    def unpacked(self, into: Path) -> Path:
        """The wheel's files as an installed site directory: put it on PYTHONPATH to import what users get."""
        with zipfile.ZipFile(self.path) as wheel:
            wheel.extractall(into)
        return into


def build_wheel(work: Path) -> BuiltWheel:
    """Copy the tracked files to work/src and build with setuptools' build_meta (the pyproject backend)."""
    tracked = subprocess.run([*GIT_FILES, "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    copy = work / "src"
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    out = work / "dist"
    build = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", build, str(out)], cwd=copy, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return BuiltWheel(next(out.glob("*.whl")), done.stderr)
