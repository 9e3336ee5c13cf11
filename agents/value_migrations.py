"""Value-aware migrations of Helm values: how one old value maps to new keys and values, what else must be set,
and when no safe automatic edit exists.

A knowledge detector lists `migrations` per old key (tools/knowledge/loader.py ValueMigration); this module picks
the one that covers the value the release actually has and turns it into exact file edits (or a hand edit that
pauses the run). `tunnel: disabled` becomes `routingMode: native`, never `tunnelProtocol: disabled`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from upgradectl.models import FileEdit
from upgradectl.tools import yamlio
from upgradectl.tools.helm import get_value
from upgradectl.tools.knowledge.loader import Detector, Requirement, ValueMigration


@dataclass(frozen=True)
class MigrationPlan:
    """What one old value becomes: new keys and values, features to switch off, values still missing."""

    key: str
    value: Any
    migration: ValueMigration
    sets: dict[str, str] = field(default_factory=dict)  # new key -> YAML scalar text
    also_false: list[str] = field(default_factory=list)  # feature keys the release sets true
    missing: list[Requirement] = field(default_factory=list)  # required values the release does not set
    satisfied: list[str] = field(default_factory=list)  # required values the release already sets / needs not

    @property
    def automatic(self) -> bool:
        return bool(self.sets) and not self.missing

    @property
    def removes_old(self) -> bool:
        return self.key not in self.sets

    def summary(self) -> str:
        """`tunnel: disabled -> routingMode: native` (and what else), in one line."""
        shown = _shown(self.value)
        if self.migration.manual:
            return f"{self.key}: {shown} has no automatic equivalent"
        target = ", ".join(f"{k}: {v}" for k, v in self.sets.items())
        text = f"{self.key}: {shown} -> {target}"
        if self.also_false:
            text += f" (and {', '.join(f'{k}: false' for k in self.also_false)})"
        if self.missing:
            text += f"; also set {', '.join(r.key for r in self.missing)}"
        return text


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _holds(values: dict[str, Any], wanted: dict[str, str]) -> bool:
    for key, text in wanted.items():
        present, actual = get_value(values, key)
        if not present or _shown(actual).lower() != text.lower():
            return False
    return True


def _exemption(requirement: Requirement, values: dict[str, Any]) -> dict[str, str] | None:
    """The set of values that makes a requirement unnecessary here (None: it is needed)."""
    if requirement.unless and _holds(values, requirement.unless):
        return requirement.unless
    return next((option for option in requirement.unless_any if _holds(values, option)), None)


def plan_migration(detector: Detector, key: str, values: dict[str, Any]) -> MigrationPlan | None:
    """The migration for the value `key` has in `values`; None when the detector lists none for the key."""
    options = detector.migrations.get(key)
    present, value = get_value(values, key)
    if not options or not present:
        return None
    migration = next((m for m in options if m.covers(value)), None)
    if migration is None:
        return None
    sets = {k: v.replace("{value}", _shown(value)) for k, v in migration.set.items()}
    also_false = [k for k in migration.also_false if _shown(get_value(values, k)[1]).lower() == "true"]
    missing, satisfied = [], []
    for requirement in migration.requires:
        exempt = _exemption(requirement, values)
        if get_value(values, requirement.key)[0]:
            satisfied.append(f"{requirement.key} is already set")
        elif exempt is None:
            missing.append(requirement)
        else:
            because = ", ".join(f"{k}: {v}" for k, v in exempt.items())
            satisfied.append(f"{requirement.key} is not needed with {because}")
    return MigrationPlan(key, value, migration, sets, also_false, missing, satisfied)


def _path(dotted: str) -> list[str | int]:
    return list(dotted.split("."))


def migration_edits(plan: MigrationPlan, common: dict, editable: bool) -> list[FileEdit]:
    """The file edits of a migration at one values site (`common`: cluster, hop, file, document, values_root).
    In place where the new key sits beside the old one (the key and value are replaced on their line); a value
    still to decide, or a site that cannot be edited, becomes a hand edit that pauses the run."""
    old_text = _shown(plan.value)
    if plan.migration.manual or not editable:
        note = plan.migration.manual or f"in the release's values: {plan.summary()}"
        return [FileEdit(purpose="values", action="manual", path=_path(plan.key), old=old_text, note=note, **common)]
    edits: list[FileEdit] = []
    old_path = _path(plan.key)
    items = list(plan.sets.items())
    if plan.removes_old and items and _path(items[0][0])[:-1] == old_path[:-1]:
        first_key, first_value = items.pop(0)  # takes the old key's place, on its line
        edits.append(FileEdit(purpose="values", action="replace-key", path=old_path, new_path=_path(first_key),
                              old=old_text, new=first_value, value_type="yaml", **common))  # fmt: skip
    elif plan.removes_old:
        edits.append(FileEdit(purpose="values", action="remove-key", path=old_path, old=old_text, **common))
    for key, value in items:
        if key == plan.key:
            edits.append(FileEdit(purpose="values", action="set", path=old_path, old=old_text, new=value,
                                  value_type="yaml", **common))  # fmt: skip
        else:
            edits.append(FileEdit(purpose="values", action="add-key", path=_path(key), new=value, value_type="yaml",
                                  **common))  # fmt: skip
    for key in plan.also_false:
        edits.append(FileEdit(purpose="values", action="set", path=_path(key), old="true", new="false",
                              value_type="yaml", **common))  # fmt: skip
    for requirement in plan.missing:
        edits.append(FileEdit(purpose="values", action="manual", path=_path(requirement.key),
                              note=f"set {requirement.key}: {requirement.why}", **common))  # fmt: skip
    return edits


def yq_expression(plan: MigrationPlan) -> str:
    """The same migration as a yq (v4) expression, for values saved to a local file (Helm CLI installs)."""
    parts = []
    if plan.removes_old:
        parts.append("del(." + plan.key + ")")
    for key, value in plan.sets.items():
        parts.append(f".{key} = {_yq_scalar(value)}")
    parts.extend(f".{key} = false" for key in plan.also_false)
    return " | ".join(parts)


def _yq_scalar(text: str) -> str:
    """A YAML scalar as yq writes it: quoted strings stay strings, plain true/false/numbers stay typed."""
    value = yamlio.load(f"v: {text}\n")["v"]
    return json.dumps(value)
