"""MCP roots: the server reads and writes only under the directories it was started with.

`upgradectl mcp --root DIR` (repeatable; default the working directory) sets them. Every tool argument
that names a file or directory goes through `confine` (or `confine_fleet`, which also checks every path the
fleet file itself names: snapshots, the GitOps repo, Terraform, kubeconfigs) where the tool reads its
arguments, before anything opens it. Paths are resolved (`~`, `..`, symlinks) first, so a link inside a
root that points outside is refused too; a relative path is taken relative to the first root. Anything
else is a tool error naming the allowed roots. The bundled demo fleet (`demo`) is package data, not a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from mcp.server.mcpserver.exceptions import ToolError

_roots: list[Path] = []


def configure(directories: list[Path] | None) -> list[Path]:
    """Set the roots (default: the working directory); each must be an existing directory."""
    chosen = directories or [Path.cwd()]
    resolved = []
    for directory in chosen:
        path = Path(directory).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"--root {directory}: not a directory; pass existing directories to serve")
        resolved.append(path)
    _roots[:] = resolved
    return list(_roots)


def current() -> list[Path]:
    """The roots in force (the working directory when none were configured)."""
    if not _roots:
        configure(None)
    return list(_roots)


def _allowed() -> str:
    return ", ".join(str(r) for r in current())


def _inside(path: Path) -> bool:
    return any(path == root or root in path.parents for root in current())


def confine(value: str, argument: str) -> Path:
    """The resolved path `value` names, or a ToolError when it lies outside every root."""
    if "\x00" in value:
        raise ToolError(f"{argument}: not a usable path (it holds a NUL byte)")
    raw = Path(os.path.expanduser(value))
    try:
        path = (raw if raw.is_absolute() else current()[0] / raw).resolve()
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        raise ToolError(f"{argument} {value[:200]!r}: not a usable path") from None
    if not _inside(path):
        raise ToolError(
            f"{argument} {value[:200]!r} is outside the directories this server may use ({_allowed()}); "
            "pass a path under one of them, or restart the server with `upgradectl mcp --root DIR`"
        )
    return path


def confine_fleet(value: str, argument: str = "fleet") -> str:
    """A fleet reference for the loaders: 'demo', or the confined path of a fleet file or directory whose
    own paths (snapshots, GitOps repo, Terraform dirs, kubeconfigs) are all under the roots too. Checked
    before any cluster is opened."""
    if value == "demo":
        return value
    # the fleet loader (kubernetes client): only for fleet files
    from upgradectl.tools.cluster.fleet import read_fleet_spec

    path = confine(value, argument)
    file, spec = read_fleet_spec(str(path))
    confine(str(file), argument)  # a directory's fleet.yaml may be a symlink out of the roots
    root = file.parent.resolve()
    named: list[tuple[str, Path]] = []
    for entry in spec.clusters:
        if entry.snapshot:
            named.append((f"clusters[{entry.name}].snapshot", root / entry.snapshot))
        if entry.kubeconfig:
            named.append((f"clusters[{entry.name}].kubeconfig", root / Path(entry.kubeconfig).expanduser()))
    if spec.gitops:
        named.append(("gitops.path", root / spec.gitops.path))
    named.extend(("terraform.path", root / t.path) for t in spec.terraform)
    for where, named_path in named:
        if not _inside(named_path.resolve()):
            raise ToolError(
                f"{argument}: the fleet file's {where} ({named_path}) is outside the directories this server may use "
                f"({_allowed()}); move it under one, or restart the server with `upgradectl mcp --root DIR`"
            )
    return str(path)
