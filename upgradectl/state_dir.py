"""Where upgradectl keeps what outlives one command: runs and their worktrees, and the knowledge overlay.

`--state-dir` wins where a command has it; else $UPGRADECTL_STATE_DIR; else $XDG_DATA_HOME/upgradectl;
else ~/.local/share/upgradectl.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "UPGRADECTL_STATE_DIR"


def default_state_dir() -> Path:
    """The state directory when no --state-dir is given (read from the environment on every call)."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME")
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "upgradectl"
