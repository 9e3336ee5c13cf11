"""CODEOWNERS in a GitOps repo: who owns a file, as GitHub reads the file (docs.github.com, "About code owners").

The file is looked for in .github/, the repository root, then docs/ (the first found is used). Each line is a
pattern and owners; the LAST matching pattern wins, and a pattern with no owners means the file has none.
Patterns follow .gitignore rules as GitHub applies them: a leading `/` anchors at the root, a trailing `/` means
everything under that directory, a pattern without a `/` matches at any depth, `*` stays within one path
segment, `**` crosses segments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from upgradectl.tools.textfiles import read_text

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern[str]


@dataclass(frozen=True)
class CodeOwners:
    """The rules of one CODEOWNERS file; `path` is relative to the repository root."""

    path: str
    rules: tuple[Rule, ...]

    def owners_of(self, file: str) -> tuple[tuple[str, ...], Rule | None]:
        """(owners, the rule that decided) for a repository-relative file path; ((), None) when no rule matches."""
        file = file.lstrip("/")
        for rule in reversed(self.rules):
            if rule.regex.fullmatch(file):
                return rule.owners, rule
        return (), None


def _regex(pattern: str) -> re.Pattern[str]:
    """A CODEOWNERS pattern as a regex over repository-relative paths."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    out = ""
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif body.startswith("**", i):
            out += ".*"
            i += 2
        elif body[i] == "*":
            out += "[^/]*"
            i += 1
        elif body[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(body[i])
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    suffix = "/.*" if directory else "(?:/.*)?"  # a name also matches everything under a directory of that name
    return re.compile(prefix + out + suffix)


def parse(text: str, path: str = "CODEOWNERS") -> CodeOwners:
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        rules.append(Rule(pattern, tuple(owners), number, _regex(pattern)))
    return CodeOwners(path, tuple(rules))


def load(repo_root: Path) -> CodeOwners | None:
    """The repository's CODEOWNERS (None when it has none or it cannot be read)."""
    for location in LOCATIONS:
        candidate = repo_root / location
        if candidate.is_file():
            try:
                return parse(read_text(candidate, "CODEOWNERS file", ValueError), location)
            except ValueError:
                return None  # an unreadable CODEOWNERS names no owner; the stage then says where names come from
    return None
