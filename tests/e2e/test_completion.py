"""Shell completion (issue 20): `--install-completion` is offered, and completion reaches the lazily loaded
commands and their flags (click's completion protocol, as the installed bash script calls it)."""

from __future__ import annotations

import os

from run_cli import EXE, upgradectl


def complete(words: str) -> list[str]:
    import subprocess  # the installed script, as the shell's completion function runs it

    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1),
           "_UPGRADECTL_COMPLETE": "complete_bash"}  # fmt: skip
    return subprocess.run([str(EXE)], capture_output=True, text=True, env=env, timeout=60).stdout.split()


def test_completion_installs_and_completes_commands_and_flags(tmp_path):
    assert "--install-completion" in upgradectl("--help").stdout
    installed = upgradectl("--install-completion", "bash", env={"HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / ".bash_completions" / "upgradectl.sh").is_file()
    assert complete("upgradectl pl") == ["plan"]
    assert complete("upgradectl plan --clu") == ["--cluster"]  # the hidden old spelling is not offered
    assert "metrics" in complete("upgradectl demo m")
