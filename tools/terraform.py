"""Terraform reading without the terraform binary: .tf, .tfvars and .terraform.lock.hcl via python-hcl2.

Gives the agents what matters for an upgrade: which `helm_release` installs a tool and where its
version is pinned (literal or a variable set per environment in tfvars), module versions, provider
constraints and locked versions, and the IAM actions granted by policy documents. Every item keeps
its file and line so findings can cite them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from upgradectl.tools.textfiles import find_line, read_text


class TerraformError(ValueError):
    """A Terraform file that python-hcl2 cannot parse."""


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps string quotes and wraps expressions in ${...}; strip both layers."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _expr_var(value: str) -> str:
    """'${var.karpenter_version}' -> 'karpenter_version'; '' when not a bare variable."""
    match = re.fullmatch(r"\$\{var\.([A-Za-z0-9_]+)\}", value.strip())
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Located:
    file: str  # relative to the Terraform root's parent (the fleet dir)
    line: int
    text: str


@dataclass
class HelmReleaseResource:
    address: str  # helm_release.karpenter
    chart: str
    repository: str
    namespace: str
    version: str  # literal, or the variable expression
    version_var: str  # variable name when the version is a variable
    values_files: list[str]
    where: Located


@dataclass
class ModuleCall:
    name: str
    source: str
    version: str
    where: Located
    inputs: dict[str, Any] = field(default_factory=dict)  # argument -> value as written (expressions as ${...})
    lines: dict[str, Located] = field(default_factory=dict)  # argument (and "version") -> its line

    @property
    def registry_source(self) -> str:
        """The source without a ?ref= and without the registry host: 'terraform-aws-modules/eks/aws//modules/x'."""
        return self.source.split("?", 1)[0].removeprefix("registry.terraform.io/")


@dataclass
class RequiredProvider:
    """A provider requirement of the root module (terraform { required_providers { ... } })."""

    name: str  # local name: aws
    source: str  # hashicorp/aws
    version: str  # the constraint as written: "~> 5.40"
    where: Located


@dataclass
class ProviderLock:
    provider: str
    version: str
    constraints: str
    where: Located


@dataclass
class VarSetting:
    """A variable set in a tfvars file (one file per cluster or environment)."""

    name: str
    value: Any
    tfvars: str
    where: Located


@dataclass(frozen=True)
class IamGrant:
    """One action granted by one policy statement, on the resources that statement lists."""

    action: str
    resources: tuple[str, ...]
    sid: str
    where: Located

    def covers(self, action: str, resource: str = "") -> bool:
        """True when this grant allows the action (wildcards honoured) on a resource containing `resource`."""
        service = action.split(":", 1)[0]
        if self.action not in (action, "*", f"{service}:*"):
            return False
        return not resource or any(r == "*" or resource in r for r in self.resources)


@dataclass
class TerraformRoot:
    path: Path
    rel: str
    helm_releases: list[HelmReleaseResource] = field(default_factory=list)
    modules: list[ModuleCall] = field(default_factory=list)
    providers: list[ProviderLock] = field(default_factory=list)
    var_settings: list[VarSetting] = field(default_factory=list)
    iam_grants: list[IamGrant] = field(default_factory=list)
    required_providers: list[RequiredProvider] = field(default_factory=list)
    required_version: str = ""
    problems: list[str] = field(default_factory=list)

    def locked(self, source: str) -> ProviderLock | None:
        """The lock file's entry for a provider source ('hashicorp/aws')."""
        return next((p for p in self.providers if p.provider.endswith("/" + source) or p.provider == source), None)

    def settings_of(self, var: str) -> list[VarSetting]:
        return [s for s in self.var_settings if s.name == var]


def _load(path: Path) -> dict[str, Any]:
    text = read_text(path, "Terraform file", TerraformError)
    try:
        return hcl2.load(io.StringIO(text))
    except Exception as exc:  # python-hcl2 raises lark errors of many types; their text quotes the file
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        where = f" at line {line}, column {column}" if isinstance(line, int) and line > 0 else ""
        raise TerraformError(f"{path}: cannot parse HCL{where} ({type(exc).__name__})") from None


def _locate(path: Path, base: Path, needle: str, start: int = 1) -> Located:
    line = find_line(path, needle, start) or find_line(path, needle.split()[0], start)
    text = path.read_text(errors="replace").splitlines()[line - 1].strip() if line else needle
    return Located(str(path.relative_to(base)), line, text)


def read_root(root: Path, base: Path) -> TerraformRoot:
    """Parse every .tf, .tfvars and the lock file under one Terraform root directory."""
    result = TerraformRoot(path=root, rel=str(root.relative_to(base)))
    for path in sorted(root.rglob("*")):
        if ".terraform" in path.relative_to(root).parts[:-1] or not path.is_file():
            continue
        try:
            if path.suffix == ".tf":
                _read_tf(_unquote(_load(path)), path, base, result)
            elif path.suffix == ".tfvars":
                for name, value in _unquote(_load(path)).items():
                    result.var_settings.append(VarSetting(name, value, path.stem, _locate(path, base, f"{name} ")))
            elif path.name == ".terraform.lock.hcl":
                _read_lock(_unquote(_load(path)), path, base, result)
        except TerraformError as exc:
            result.problems.append(str(exc))
    return result


def _read_tf(doc: dict[str, Any], path: Path, base: Path, out: TerraformRoot) -> None:
    for block in doc.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                if rtype == "helm_release":
                    version = str(body.get("version", ""))
                    out.helm_releases.append(
                        HelmReleaseResource(
                            address=f"helm_release.{name}",
                            chart=str(body.get("chart", "")),
                            repository=str(body.get("repository", "")),
                            namespace=str(body.get("namespace", "default")),
                            version=version,
                            version_var=_expr_var(version),
                            values_files=[_file_arg(v) for v in body.get("values", []) if _file_arg(v)],
                            where=_locate(path, base, f'resource "helm_release" "{name}"'),
                        )
                    )
                if rtype == "aws_iam_policy":
                    _collect_actions(body, path, base, out)
    for block in doc.get("module", []):
        for name, body in block.items():
            where = _locate(path, base, f'module "{name}"')
            inputs = {k: v for k, v in body.items() if k not in ("source", "version") and not k.startswith("__")}
            out.modules.append(
                ModuleCall(
                    name,
                    str(body.get("source", "")),
                    str(body.get("version", "")),
                    where,
                    inputs,
                    _argument_lines(path, base, where.line, [k for k in body if not k.startswith("__")]),
                )
            )
    for block in doc.get("terraform", []):
        out.required_version = str(block.get("required_version", out.required_version))
        for providers in block.get("required_providers", []):
            for name, spec in providers.items():
                if isinstance(spec, dict) and not name.startswith("__"):
                    opening = find_line(path, f"{name} = {{") or find_line(path, name)
                    version_line = find_line(path, "version", opening) if opening else 0
                    where = (_locate(path, base, "version", version_line) if version_line
                             else _locate(path, base, name))  # fmt: skip
                    out.required_providers.append(
                        RequiredProvider(name, str(spec.get("source", name)), str(spec.get("version", "")), where)
                    )
    for block in doc.get("data", []):
        for dtype, named in block.items():
            if dtype == "aws_iam_policy_document":
                for body in named.values():
                    _collect_actions(body, path, base, out)


def _argument_lines(path: Path, base: Path, start: int, names: list[str]) -> dict[str, Located]:
    """The line of each top-level argument of the block opening at `start` (nested blocks are skipped)."""
    lines = path.read_text(errors="replace").splitlines()
    found: dict[str, Located] = {}
    depth = 0
    for number in range(start, len(lines) + 1):
        text = lines[number - 1]
        bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text.split("#", 1)[0])
        if depth == 1:
            match = re.match(r"^\s*([A-Za-z0-9_]+)\s*=", bare)
            if match and match.group(1) in names and match.group(1) not in found:
                found[match.group(1)] = Located(str(path.relative_to(base)), number, text.strip())
        depth += bare.count("{") - bare.count("}")
        if number > start and depth <= 0:
            break
    return found


def _collect_actions(body: Any, path: Path, base: Path, out: TerraformRoot) -> None:
    """Grants from aws_iam_policy_document statements (and, roughly, from inline JSON policies)."""
    statements = body.get("statement", []) if isinstance(body, dict) else []
    for statement in statements:
        if str(statement.get("effect", "Allow")) != "Allow":
            continue
        resources = tuple(str(r) for r in statement.get("resources", []) or ["*"])
        sid = str(statement.get("sid", ""))
        for action in statement.get("actions", []) or []:
            where = _locate(path, base, f'sid     = "{sid}"') if sid else _locate(path, base, f'"{action}"')
            out.iam_grants.append(IamGrant(str(action), resources, sid, where))
    if isinstance(body, dict) and "policy" in body:  # jsonencode({...}) or heredoc JSON: resources unknown
        text = path.read_text(errors="replace")
        for action in re.findall(r'"((?:ec2|iam|sqs|ssm|pricing|eks|events):[A-Za-z*]+)"', text):
            out.iam_grants.append(IamGrant(action, ("*",), "", _locate(path, base, f'"{action}"')))


def _file_arg(value: Any) -> str:
    match = re.search(r'file\("([^"]+)"\)', str(value))
    return match.group(1) if match else ""


def _read_lock(doc: dict[str, Any], path: Path, base: Path, out: TerraformRoot) -> None:
    for block in doc.get("provider", []):
        for provider, body in block.items():
            out.providers.append(
                ProviderLock(
                    provider,
                    str(body.get("version", "")),
                    str(body.get("constraints", "")),
                    _locate(path, base, f'provider "{provider}"'),
                )
            )


def resolve_values_file(root: TerraformRoot, template: str, variables: dict[str, str]) -> Path:
    """'${path.module}/values/karpenter-${var.cluster_name}.yaml' -> a real path for these variables."""
    text = template.replace("${path.module}", str(root.path))
    for name, value in variables.items():
        text = text.replace("${var." + name + "}", value)
    return Path(text)


# ---------------------------------------------------------------- version constraints (Terraform's syntax)


def _parts(text: str) -> tuple[int, int, int]:
    numbers = [int(p) for p in re.findall(r"\d+", text.strip().lstrip("v"))[:3]]
    major, minor, patch = (numbers + [0, 0, 0])[:3]
    return (major, minor, patch)


def _bounds(constraint: str) -> list[tuple[str, tuple[int, int, int]]]:
    """'>= 5.95, < 6.0.0' -> [('>=', (5,95,0)), ('<', (6,0,0))]; '~> 5.40' becomes its two bounds."""
    bounds: list[tuple[str, tuple[int, int, int]]] = []
    for part in (p.strip() for p in constraint.split(",") if p.strip()):
        match = re.match(r"^(~>|>=|<=|!=|=|>|<)?\s*v?(\d+(?:\.\d+){0,2})", part)
        if not match:
            raise TerraformError(f"version constraint {constraint!r}: cannot read {part!r}")
        op, version = match.group(1) or "=", match.group(2)
        low = _parts(version)
        if op == "~>":
            count = version.count(".") + 1
            high = (low[0] + 1, 0, 0) if count <= 2 else (low[0], low[1] + 1, 0)
            bounds += [(">=", low), ("<", high)]
        else:
            bounds.append((op, low))
    return bounds


def admits(constraint: str, version: str) -> bool:
    """Whether a Terraform version constraint (module or provider) allows this version; '' allows any."""
    value = _parts(version)
    checks = {"=": value.__eq__, "!=": value.__ne__, ">": value.__gt__, ">=": value.__ge__, "<": value.__lt__,
              "<=": value.__le__}  # fmt: skip
    return all(checks[op](bound) for op, bound in _bounds(constraint))


def lowest_admitted(constraint: str) -> str:
    """The lowest version a constraint lets `terraform init` pick (its lower bound; '0.0.0' when it has none)."""
    lows = [bound for op, bound in _bounds(constraint) if op in ("=", ">=")]
    lows += [(b[0], b[1], b[2] + 1) for op, b in _bounds(constraint) if op == ">"]
    return ".".join(map(str, max(lows))) if lows else "0.0.0"
