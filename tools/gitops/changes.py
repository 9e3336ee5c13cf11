"""Change sets: the exact file edits of a plan, per environment and hop, rendered and applied.

A plan's rollout steps carry structured `FileEdit`s (upgradectl/models.py). This module is the one
place that turns them into words (`describe`, the plan's Step.changes text), into new file contents
(`apply_edits`: YAML through tools/gitops/yaml_edit.py, HCL/tfvars by careful line edits) and into a unified
diff. `change_sets` groups a plan's edits the way `upgradectl execute` commits them: one change set per
environment and hop, dev -> staging -> prod, and inside an environment hop by hop.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from upgradectl.models import ENVIRONMENT_ORDER, Environment, FileEdit, Plan, Step
from upgradectl.tools.gitops import yaml_edit
from upgradectl.tools.gitops.yaml_edit import EditError
from upgradectl.tools.versions import Version, VersionError

__all__ = ["ChangeSet", "EditError", "apply_edits", "change_sets", "describe", "unified_diff"]


# ---------------------------------------------------------------- words


def _where(edit: FileEdit, with_line: bool = True) -> str:
    if not edit.file:
        return ""
    return f"{edit.file}:{edit.line}" if with_line and edit.line else edit.file


def _what(edit: FileEdit) -> str:
    return f"{edit.document.get('kind', '')} {edit.document.get('name', '')}".strip()


def _dotted(path: list[str | int]) -> str:
    return ".".join(str(p) for p in path)


def describe(edit: FileEdit) -> str:
    """The edit in one line, as the plan shows it (`file:line: before  ->  after`, `file: rename a -> b`)."""
    where = _where(edit)
    if edit.purpose == "module-input":
        module = edit.document.get("module", "")
        if edit.action == "rename-key":
            return f"{where}: module {module}: rename input {_dotted(edit.path)} -> {_dotted(edit.new_path)}"
        if edit.action == "set" and not edit.old:
            return f"{where}: module {module}: add `{_dotted(edit.path)} = {edit.new}`"
        return f"{where}: module {module}: {edit.note}"
    if edit.purpose in ("chart-version", "crd-chart", "target-revision", "chart-source", "module-version",
                        "provider-version"):
        before = edit.shown.replace("{value}", edit.old)
        if edit.action == "manual":
            return f"{where}: {before}  ->  {edit.note}"
        return f"{where}: {before}  ->  {edit.shown.replace('{value}', edit.new)}"
    if edit.purpose == "image-tag":
        return f"{where}: {_dotted(edit.path)}: {edit.old} -> {edit.new} (image tag pinned in the values)"
    if edit.purpose == "values":
        if edit.action == "rename-key":
            return f"{where}: rename {_dotted(edit.path)} -> {_dotted(edit.new_path)}"
        if edit.action == "remove-key":
            was = f" ({edit.old})" if edit.old else " (no longer supported)"
            return f"{where}: remove {_dotted(edit.path)}{was}"
        if edit.action == "replace-key":
            return f"{where}: {_dotted(edit.path)}: {edit.old}  ->  {_dotted(edit.new_path)}: {edit.new}"
        if edit.action == "add-key":
            return f"{where}: set {_dotted(edit.path)}: {edit.new}"
        if edit.action == "set":
            return f"{where}: {_dotted(edit.path)}: {edit.old}  ->  {edit.new}"
        if edit.action == "manual" and edit.path:
            return f"{where}: by hand: {_dotted(edit.path)}: {edit.note}"
    if edit.purpose == "selector":
        return f"{where}: {_what(edit)}: select on {edit.new or 'the new label'} instead of {edit.old}"
    if edit.purpose == "annotation":
        action = f"use {edit.new} instead of" if edit.new else "remove"
        return f"{where}: {_what(edit)}: {action} annotation {edit.old}"
    if edit.purpose == "api-version":
        return f"{where}: migrate {_what(edit)} from {edit.old} to {edit.new or 'its replacement'}"
    if edit.purpose == "review" and edit.path:
        return f"{where}: review {_dotted(edit.path)}: {edit.note}"
    return f"{where}: {edit.note}" if where else edit.note


# ---------------------------------------------------------------- change sets


@dataclass
class ChangeSet:
    """What one commit of `upgradectl execute` holds: one environment, one hop, its clusters' edits; under a
    canary strategy one wave of clusters (the canary cluster first) and one phase (the canary, then the rest)."""

    environment: Environment
    from_version: str
    to_version: str
    clusters: list[str]
    edits: list[FileEdit] = field(default_factory=list)  # what upgradectl applies
    manual: list[FileEdit] = field(default_factory=list)  # what a person must do (execution pauses for them)
    wave: list[str] = field(default_factory=list)  # the stage's cluster group this set belongs to ([]: all)
    phase: str = ""  # "canary" (the part first), "rest" (after the canary's gates), "" (the whole hop at once)
    soak_minutes: int = 0  # from the plan's validate step for this set (0: the stage's soak)
    before: list[Step] = field(default_factory=list)  # steps a person does before the commit (checklist)
    after: list[Step] = field(default_factory=list)  # steps a person does once it reconciled, before the soak

    @property
    def hop(self) -> str:
        return f"{self.from_version}->{self.to_version}"

    @property
    def key(self) -> str:
        """Stable id of the step inside a run: environment/hop[/wave clusters][/phase]."""
        parts = [self.environment, self.hop, ",".join(self.wave), self.phase]
        return "/".join(p for p in parts if p)

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(e.file for e in self.edits if e.file))


# Terraform gives a module call or a required provider one version per root, whatever state (cluster) it is
# applied with: bumping it for the first environment configures every cluster of the root. Such an edit goes
# with the first environment's hop, and execution waits for a person to approve it for the others too.
ROOT_WIDE_PURPOSES = ("module-version", "module-input", "provider-version")


def later_clusters(edit: FileEdit, environment: str, env_of: dict[str, str]) -> list[str]:
    """The clusters of environments after `environment` that the edit's file also configures."""
    rank = ENVIRONMENT_ORDER.index
    return [c for c in edit.applies_to if c in env_of and rank(env_of[c]) > rank(environment)]


def _version_key(version: str) -> tuple:
    try:
        return (0, Version.parse(version))
    except VersionError:
        return (1, version)


PART = {"rest": "rest", "green": "green", "retire": ""}  # a step's phase -> the change set it belongs to
ORDER = ("green", "", "rest")  # blue-green: the green installation and its gate first; canary: the rest last
PERSON_KINDS = ("upgrade",)  # procedure steps nobody but a person can do (upgradectl never writes to a cluster)


def by_hand(step: Step) -> bool:
    """A step a person must do: a procedure's upgrade step (apply a CRD chart, attach a policy, recycle the canary
    node, move readers) that is not the hop's own file change."""
    return step.kind in PERSON_KINDS and not step.edits


def change_sets(plan: Plan) -> list[ChangeSet]:
    """Every change set of the plan in execution order: per environment, per wave of clusters (a canary cluster
    first), per hop, the canary part before the rest; each with its edits (CRD charts first), its soak and the
    steps a person does before its commit and after it reconciled."""
    sets: list[ChangeSet] = []
    for stage in sorted(plan.rollout, key=lambda s: ENVIRONMENT_ORDER.index(s.environment)):
        waves = stage.waves or [[]]
        for wave in waves:
            members = set(wave) or set(stage.clusters)
            sets.extend(_wave_sets(stage, wave, members))
    return sets


def _wave_sets(stage, wave: list[str], members: set[str]) -> list[ChangeSet]:
    """One wave's change sets: per hop, the set of the hop (or its canary part), then the rest."""
    by_hop: dict[tuple[str, str, str], ChangeSet] = {}
    changed: set[tuple[str, str, str, str]] = set()  # (cluster, from, to, part) whose change step came
    for step in stage.steps:
        if step.cluster and step.cluster not in members or not step.from_version:
            continue
        if not (step.edits or by_hand(step) or step.kind == "validate"):
            continue
        at = (step.from_version, step.to_version, PART.get(step.phase, ""))
        cs = by_hop.setdefault(at, ChangeSet(stage.environment, at[0], at[1], [], wave=list(wave), phase=at[2]))
        if step.cluster and step.cluster not in cs.clusters:
            cs.clusters.append(step.cluster)
        if step.edits:
            changed.add((step.cluster, *at))
            for edit in step.edits:
                (cs.manual if edit.action == "manual" else cs.edits).append(edit)
            cs.phase = "canary" if step.phase == "canary" else cs.phase
        elif by_hand(step):
            (cs.after if (step.cluster, *at) in changed else cs.before).append(step)
        else:
            cs.soak_minutes = max(cs.soak_minutes, step.soak_minutes)
    ordered = sorted(by_hop, key=lambda h: (_version_key(h[0]), _version_key(h[1]), ORDER.index(h[2])))
    result = []
    for at in ordered:
        cs = by_hop[at]
        cs.edits.sort(key=lambda e: e.purpose != "crd-chart")  # CRDs before the controller (stable)
        result.append(cs)
    return result


# ---------------------------------------------------------------- applying


def read_files(root: Path, files: list[str]) -> dict[str, str]:
    """Current text of each file under root (EditError naming a missing one)."""
    texts = {}
    for rel in files:
        path = root / rel
        if not path.is_file():
            raise EditError(f"{rel}: not found under {root} (the plan was made on another checkout?)")
        texts[rel] = path.read_text()
    return texts


def apply_edits(texts: dict[str, str], edits: list[FileEdit]) -> dict[str, str]:
    """New text of every file the edits touch (files not touched are left out). Edits of one file are
    applied in order; each checks that the file still holds what the plan expects first."""
    result = dict(texts)
    for edit in edits:
        if edit.action == "manual" or not edit.file:
            continue
        if edit.file not in result:
            raise EditError(f"{edit.file}: not read before editing")
        if edit.format == "hcl":
            result[edit.file] = _apply_hcl(result[edit.file], edit)
        else:
            result[edit.file] = _apply_yaml(result[edit.file], edit)
    return {f: t for f, t in result.items() if t != texts.get(f)}


def _apply_yaml(text: str, edit: FileEdit) -> str:
    where = edit.file
    docs = yaml_edit.load_documents(text, where)
    lines = text.splitlines(keepends=True)
    doc = yaml_edit.select(docs, edit.document, where)
    full = [*edit.values_root, *edit.path]
    raw = edit.value_type == "yaml"
    if edit.action == "set":
        splice = yaml_edit.value_splice(doc, lines, full, edit.old, edit.new, where, raw)
        return yaml_edit.apply_splices(text, [splice], where)
    if edit.action == "replace-key":  # a new key and value on the old one's line
        target = [*edit.values_root, *edit.new_path]
        if full[:-1] != target[:-1]:
            raise EditError(f"{where}: replace-key keeps the parent; {yaml_edit.describe_path(target)} has another")
        parent, key = yaml_edit.parent_of(doc, full, where)
        if target[-1] in parent:
            raise EditError(f"{where}: {yaml_edit.describe_path(target)} is already set")
        splices = [yaml_edit.key_splice(parent, lines, str(key), str(target[-1])),
                   yaml_edit.value_splice(doc, lines, full, edit.old, edit.new, where, raw=True)]  # fmt: skip
        return yaml_edit.apply_splices(text, splices, where)
    if edit.action == "add-key":
        return yaml_edit.rewrite(text, lambda d: _add(d, edit, full), where, docs)
    if edit.action == "replace-label":
        return yaml_edit.apply_splices(text, _label_splices(doc, lines, edit.old, edit.new), where)
    if edit.action == "rename-key":
        target = [*edit.values_root, *edit.new_path]
        parent, key = yaml_edit.parent_of(doc, full, where)
        if full[:-1] == target[:-1]:  # same parent: rename the key where it stands
            splice = yaml_edit.key_splice(parent, lines, str(key), str(target[-1]))
            return yaml_edit.apply_splices(text, [splice], where)
        return yaml_edit.rewrite(text, lambda d: _move(d, edit, full, target), where, docs)
    if edit.action == "remove-key":
        return yaml_edit.rewrite(text, lambda d: _remove(d, edit, full), where, docs)
    raise EditError(f"{where}: unknown edit action {edit.action}")


def _add(docs: list, edit: FileEdit, full: list) -> None:
    """Set a key that is not there yet (creating its parents), its value a YAML scalar."""
    doc = yaml_edit.select(docs, edit.document, edit.file)
    node = doc
    for step in full[:-1]:
        if step not in node:
            node[step] = yaml_edit.CommentedMap()
        node = node[step]
    if full[-1] in node:
        raise EditError(f"{edit.file}: {yaml_edit.describe_path(full)} is already set")
    node[full[-1]] = yaml_edit.scalar(edit.new)


def _remove(docs: list, edit: FileEdit, full: list) -> None:
    doc = yaml_edit.select(docs, edit.document, edit.file)
    parent, key = yaml_edit.parent_of(doc, full, edit.file)
    if edit.old and yaml_edit.scalar_text(parent[key]) != edit.old:
        raise EditError(f"{edit.file}: {yaml_edit.describe_path(full)} is {parent[key]!r}, expected {edit.old!r}")
    del parent[key]
    yaml_edit.drop_empty_parents(doc, full, len(edit.values_root))


def _move(docs: list, edit: FileEdit, full: list, target: list) -> None:
    """Move a value to a new key path: it takes the place of the branch it left, in the new parent."""
    doc = yaml_edit.select(docs, edit.document, edit.file)
    parent, key = yaml_edit.parent_of(doc, full, edit.file)
    value = parent[key]
    node = doc
    for step in target[:-1]:
        if step not in node:
            node[step] = yaml_edit.CommentedMap()
        node = node[step]
    if target[-1] in node:
        raise EditError(f"{edit.file}: {yaml_edit.describe_path(target)} is already set")
    shared = next((i for i, (a, b) in enumerate(zip(full, target, strict=False)) if a != b), len(target) - 1)
    branch = full[shared] if len(target) - 1 == shared else None
    position = list(node.keys()).index(branch) if branch in node else len(node)
    node.insert(position, target[-1], value)
    del parent[key]
    yaml_edit.drop_empty_parents(doc, full, len(edit.values_root))


def _label_splices(doc, lines: list[str], old: str, new: str) -> list[yaml_edit.Splice]:
    """Every selector use of a label in a document: mapping keys (nodeSelector, matchLabels) and `key:` values
    (matchExpressions, nodeSelectorTerms)."""
    found: list[yaml_edit.Splice] = []

    def walk(node) -> None:
        if isinstance(node, yaml_edit.CommentedMap):
            for key, value in node.items():
                if key == old:
                    found.append(yaml_edit.key_splice(node, lines, key, new))
                if key == "key" and value == old:
                    found.append(yaml_edit.value_splice(node, lines, ["key"], old, new))
                walk(value)
        elif isinstance(node, yaml_edit.CommentedSeq):
            for value in node:
                walk(value)

    walk(doc)
    if not found:
        raise EditError(f"label {old} is not used as a selector here any more")
    return found


def _apply_hcl(text: str, edit: FileEdit) -> str:
    """Set `name = "old"` to `name = "new"` on the planned line, or the first such line after it; rename an
    attribute (`old_name =` -> `new_name =`); or, with no old value, add `name = new` after the planned line."""
    name = str(edit.path[0]) if edit.path else ""
    if edit.action == "rename-key":
        return _rename_hcl(text, edit, name, str(edit.new_path[0]))
    if edit.action == "set" and not edit.old:
        return _insert_hcl(text, edit, name)
    pattern = re.compile(rf'^(\s*{re.escape(name)}\s*=\s*")({re.escape(edit.old)})(".*)$')
    lines = text.splitlines(keepends=True)
    order = list(range(max(edit.line - 1, 0), len(lines))) + list(range(0, max(edit.line - 1, 0)))
    for index in order:
        match = pattern.match(lines[index])
        if match:
            lines[index] = f"{match.group(1)}{edit.new}{match.group(3)}" + ("\n" if lines[index].endswith("\n") else "")
            return "".join(lines)
    raise EditError(f'{edit.file}: no line `{name} = "{edit.old}"` (edited since the plan?)')


def _block_lines(lines: list[str], start: int) -> range:
    """Indexes of the block that line `start` (0-based) belongs to: up to its closing brace at depth 0."""
    depth, end = 0, len(lines)
    first = start
    while first > 0 and not re.search(r"\{\s*(#.*)?$", lines[first]):
        first -= 1
    for index in range(first, len(lines)):
        depth += lines[index].count("{") - lines[index].count("}")
        if index > first and depth <= 0:
            end = index
            break
    return range(first, end)


def _rename_hcl(text: str, edit: FileEdit, old_name: str, new_name: str) -> str:
    lines = text.splitlines(keepends=True)
    pattern = re.compile(rf"^(\s*){re.escape(old_name)}(\s*)=")

    def renamed(match: re.Match) -> str:  # keep the `=` where it stood when the padding allows (aligned blocks)
        padding = max(1, len(match.group(2)) - (len(new_name) - len(old_name))) if match.group(2) else 0
        return f"{match.group(1)}{new_name}{' ' * padding}="

    for index in [edit.line - 1, *_block_lines(lines, max(edit.line - 1, 0))]:
        if 0 <= index < len(lines) and pattern.match(lines[index]):
            lines[index] = pattern.sub(renamed, lines[index], count=1)
            return "".join(lines)
    raise EditError(f"{edit.file}: no `{old_name} =` near line {edit.line} (edited since the plan?)")


def _insert_hcl(text: str, edit: FileEdit, name: str) -> str:
    lines = text.splitlines(keepends=True)
    anchor = edit.line - 1
    if not 0 <= anchor < len(lines):
        raise EditError(f"{edit.file}: line {edit.line} is not in the file (edited since the plan?)")
    if any(re.match(rf"^\s*{re.escape(name)}\s*=", lines[i]) for i in _block_lines(lines, anchor)):
        raise EditError(f"{edit.file}: `{name}` is already set in the block at line {edit.line}")
    indent = re.match(r"^(\s*)", lines[anchor]).group(1)
    lines.insert(anchor + 1, f"{indent}{name} = {edit.new}\n")
    return "".join(lines)


def unified_diff(before: dict[str, str], after: dict[str, str]) -> str:
    """A git-style unified diff of every changed file (paths as a/<file> b/<file>)."""
    out = []
    for file in sorted(after):
        old = before.get(file, "").splitlines(keepends=True)
        new = after[file].splitlines(keepends=True)
        out.extend(difflib.unified_diff(old, new, f"a/{file}", f"b/{file}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out)
