"""The GitOps repo as `upgradectl execute` uses it: a branch in its own worktree, commits marked with a
trailer so a resumed run never makes one twice, reverts, and an opt-in push.

Every call is a git argv list with a timeout (no shell). The user's own checkout is never touched: the run
works in `git worktree add <state-dir>/worktrees/<run-id>` on its branch.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

TRAILER = "Upgradectl-Step"
GIT_TIMEOUT = 60.0


class GitError(RuntimeError):
    """A git command failed; the message has the command and git's own words."""


def _git(cwd: Path, *args: str, timeout: float = GIT_TIMEOUT, check: bool = True) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed: install git to execute plans") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} timed out after {timeout:.0f}s in {cwd}") from None
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


@dataclass(frozen=True)
class GitRepo:
    """A git work tree (the user's checkout or a run's worktree)."""

    root: Path

    @classmethod
    def containing(cls, path: Path) -> GitRepo:
        """The repository a path lives in (GitError when it is not in one)."""
        here = path if path.is_dir() else path.parent
        try:
            top = _git(here, "rev-parse", "--show-toplevel")
        except GitError:
            raise GitError(
                f"{path} is not inside a git repository: execute commits to the GitOps repo "
                "(clone it, or `git init` and commit a copy)"
            ) from None
        return cls(Path(top).resolve())

    def run(self, *args: str, check: bool = True) -> str:
        return _git(self.root, *args, check=check)

    def rev(self, ref: str = "HEAD") -> str:
        return self.run("rev-parse", "--verify", f"{ref}^{{commit}}")

    def has_branch(self, branch: str) -> bool:
        return bool(self.run("branch", "--list", branch))

    def knows(self, sha: str) -> bool:
        return bool(sha) and not self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when `descendant` contains `ancestor` (both must be known here)."""
        if not (self.knows(ancestor) and self.knows(descendant)):
            return False
        done = subprocess.run(
            ["git", "merge-base", "--is-ancestor", ancestor, descendant], cwd=self.root, capture_output=True,
            timeout=GIT_TIMEOUT, check=False,
        )  # fmt: skip
        return done.returncode == 0

    def worktree(self, path: Path, branch: str, base: str) -> GitRepo:
        """A worktree of `branch` at path: reused when there, re-attached when the branch exists, else the
        branch is created from `base`."""
        if (path / ".git").exists():
            return GitRepo(path.resolve())
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run("worktree", "prune")
        if self.has_branch(branch):
            self.run("worktree", "add", str(path), branch)
        else:
            self.run("worktree", "add", "-b", branch, str(path), base)
        return GitRepo(path.resolve())

    def clean(self) -> None:
        """Drop uncommitted leftovers of a crashed step (only ever called in a run's own worktree)."""
        self.run("reset", "--hard", "--quiet", "HEAD")
        self.run("clean", "-fdq")

    def find_step(self, step: str) -> str:
        """The commit on HEAD's history whose trailer is `Upgradectl-Step: <step>`, or ''."""
        out = self.run("log", "--format=%H%x00%B%x01", "HEAD", check=False)
        for record in out.split("\x01"):
            sha, _, body = record.strip().partition("\x00")
            if any(line.strip() == f"{TRAILER}: {step}" for line in body.splitlines()):
                return sha
        return ""

    def commit(self, files: list[str], message: str) -> str:
        """Stage exactly these files and commit them; the identity falls back to upgradectl's own."""
        self.run("add", "--", *files)
        self.run(*_identity(self.root), "commit", "--quiet", "--no-verify", "-m", message)
        return self.rev()

    def revert(self, sha: str, message: str) -> str:
        """Undo one commit with a new commit (history is kept: the way back is reviewable)."""
        self.run("revert", "--no-commit", sha)
        self.run(*_identity(self.root), "commit", "--quiet", "--no-verify", "-m", message)
        return self.rev()

    def push(self, remote: str, branch: str) -> None:
        self.run("push", "--quiet", remote, f"HEAD:refs/heads/{branch}")

    def log(self, ref: str, base: str = "") -> list[tuple[str, str, str]]:
        """(sha, subject, step trailer) of the commits on ref (after base), oldest first."""
        span = f"{base}..{ref}" if base else ref
        out = self.run("log", "--reverse", "--format=%H%x00%s%x00%B%x01", span)
        commits = []
        for record in out.split("\x01"):
            if not record.strip():
                continue
            sha, subject, body = record.strip().split("\x00", 2)
            step = next((ln.split(":", 1)[1].strip() for ln in body.splitlines() if ln.startswith(f"{TRAILER}:")), "")
            commits.append((sha, subject, step))
        return commits


def _identity(root: Path) -> list[str]:
    """`-c user.name/email` when the repo has no identity configured (CI machines, fresh clones)."""
    name = _git(root, "config", "user.name", check=False)
    email = _git(root, "config", "user.email", check=False)
    extra = []
    if not name:
        extra += ["-c", "user.name=upgradectl"]
    if not email:
        extra += ["-c", "user.email=upgradectl@localhost"]
    return extra
