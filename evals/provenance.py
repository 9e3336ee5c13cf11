"""What an eval run measured: the git commit, and content hashes of the prompt templates and the
knowledge base, so two result files can be compared knowing whether the code, prompts or facts moved."""

from __future__ import annotations

import hashlib
import subprocess
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from upgradectl.tools.knowledge.loader import knowledge_dir

GIT_TIMEOUT_SECONDS = 5


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
            continue
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.extend(_files(entry, rel + "/"))
        else:
            found.append((rel, entry))
    return found


def tree_sha256(folder: Traversable) -> str:
    """sha256 over every file's relative path and bytes, in path order."""
    digest = hashlib.sha256()
    for rel, entry in _files(folder):
        digest.update(rel.encode() + b"\0" + entry.read_bytes() + b"\0")
    return digest.hexdigest()


def prompts_sha256() -> str:
    """Hash of prompts/** (agent system prompts, task prompts, report templates)."""
    return tree_sha256(resources.files("upgradectl.prompts"))


def knowledge_sha256() -> str:
    """Hash of the knowledge base in use (tools/knowledge/data/**, or the UPGRADECTL_KNOWLEDGE_DIR copy)."""
    return tree_sha256(knowledge_dir())


def git_state(start: Path | None = None) -> tuple[str, bool | None]:
    """(HEAD commit, whether the work tree has changes) of the checkout upgradectl runs from;
    ('unknown', None) when it is not a git checkout or git is missing."""
    where = str(start or Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(
            ["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS
        )
        if sha.returncode != 0:
            return "unknown", None
        status = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown", None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return sha.stdout.strip(), dirty
