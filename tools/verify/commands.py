"""Read shell commands the way the verifier needs: the files they read and write, the versions they name, the
upgradectl invocations and their options. Shell is parsed with shlex (punctuation aware), never run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

# argv after "upgradectl" -> None when the real CLI accepts it, else the error it reports
CommandParser = Callable[[list[str]], str | None]

READ_FLAGS = {"-f", "--values", "--baseline", "--plan", "--patch-file", "--filename"}
WRITE_FLAGS = {"--out"}
PLACEHOLDER = re.compile(r"<[A-Za-z0-9_.{}-]+>")
PLACEHOLDER_MARK = re.compile(r"@@([A-Za-z0-9_.{}-]+)@@")
URL_VERSION = re.compile(r"/v(\d+\.\d+\.\d+)/")
FLAG_VERSION = re.compile(r"^--version=v?(\S+)$")


@dataclass
class CommandFacts:
    """What one command line does to local files and which versions it names."""

    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    chart_versions: list[str] = field(default_factory=list)  # helm ... --version X
    app_versions: list[str] = field(default_factory=list)  # /vX.Y.Z/ in URLs, flux install --version=vX
    upgradectl: list[list[str]] = field(default_factory=list)  # argv after `upgradectl`, per invocation
    problem: str = ""


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _local(path: str) -> bool:
    return bool(path) and path != "-" and "://" not in path and not path.startswith(("$", "/dev/")) and \
        not PLACEHOLDER.fullmatch(path)


def analyse(command: str) -> CommandFacts:
    """Files, versions and upgradectl invocations in one command line (pipelines and && chains included)."""
    facts = CommandFacts()
    marked = PLACEHOLDER.sub(lambda m: "@@" + m.group(0)[1:-1] + "@@", command)  # `<x>` is not a redirect
    try:
        tokens = [PLACEHOLDER_MARK.sub(lambda m: f"<{m.group(1)}>", t) for t in _tokens(marked)]
    except ValueError as exc:
        facts.problem = f"not valid shell: {exc}"
        return facts
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in (";", "&&", "||", "|", "&", "(", ")"):
            segments.append([])
        else:
            segments[-1].append(token)
    for argv in (s for s in segments if s):
        _segment(argv, facts)
    return facts


def _segment(argv: list[str], facts: CommandFacts) -> None:
    words = [w for w in argv if w not in (">", ">>", "<")]
    program = words[0] if words else ""
    for i, token in enumerate(argv):
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if token in (">", ">>") and _local(nxt):
            facts.writes.append(nxt)
        elif token == "<" and _local(nxt):
            facts.reads.append(nxt)
        elif token in READ_FLAGS and program != "helm" or token in ("-f", "--values") and program == "helm":
            if _local(nxt) and not (program == "kubectl" and token == "-f" and nxt.startswith("http")):
                facts.reads.append(nxt)
        elif token in WRITE_FLAGS and _local(nxt):
            facts.writes.append(nxt)
        if program == "helm" and token == "--version" and nxt:
            facts.chart_versions.append(nxt)
        if program == "helm" and (m := FLAG_VERSION.match(token)):
            facts.chart_versions.append(m.group(1))
        if program == "flux" and (m := FLAG_VERSION.match(token)):
            facts.app_versions.append(m.group(1).lstrip("v"))
        facts.app_versions.extend(URL_VERSION.findall(token))
    if program == "upgradectl":
        facts.upgradectl.append(argv[1:])


def option(argv: list[str], name: str) -> str | None:
    """The value of `--name X` or `--name=X` in an argv (None when absent)."""
    for i, token in enumerate(argv):
        if token == name and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
    return None


def placeholders(command: str) -> list[str]:
    return PLACEHOLDER.findall(command)
