"""Fleet loading: `fleet.yaml` -> cluster sources, the GitOps repo and the Terraform dirs.

A cluster that cannot be opened does not stop the run: it is kept with its error so the plan can
say what could not be checked there.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from functools import cached_property, partial
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from upgradectl.models import ENVIRONMENT_ORDER, ClusterInfo, Environment, Provider, UserCheck
from upgradectl.tools.cluster.kubemeta import cluster_name_for_context
from upgradectl.tools.cluster.sources import ClusterSource, SnapshotCluster, SourceError, kubernetes_version
from upgradectl.tools.cluster.windows import WeeklyWindow, WindowSpec
from upgradectl.tools.gitops.layout import discover_clusters
from upgradectl.tools.textfiles import parse_yaml, read_text


class FleetError(ValueError):
    """The fleet file is missing or malformed; the message says where and how to fix it."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GitOpsSpec(_Spec):
    path: str = Field(description="The GitOps repo directory, relative to fleet.yaml")
    url: str = ""
    branch: str = "main"


class TerraformSpec(_Spec):
    path: str
    backend_config: dict[str, str] = Field(
        default_factory=dict,
        description="`terraform init -backend-config` per cluster when one directory keeps one state per cluster, "
        "e.g. {key: eks/{cluster}/karpenter.tfstate} ({cluster} is replaced); plans print `init -reconfigure` with it",
    )


class CheckSpec(_Spec):
    """A user's test for an environment: `command` (argv list or one shell-free string, run from the fleet file's
    directory; exit 0 passes) or `http` (a GET whose status, and body text if given, must match)."""

    name: str = Field(min_length=1)
    command: list[str] | str = Field(default_factory=list)
    http: str = Field(default="", description="URL to GET")
    expect_status: int = 200
    expect_body: str = ""
    timeout_seconds: float = Field(default=300.0, gt=0, le=86400)

    @model_validator(mode="after")
    def _one_kind(self) -> CheckSpec:
        if bool(self.command) == bool(self.http):
            raise ValueError(f"test {self.name}: set exactly one of command (argv) or http (a URL)")
        if self.http and not self.http.startswith(("http://", "https://")):
            raise ValueError(f"test {self.name}: http must be an http:// or https:// URL")
        return self

    def check(self) -> UserCheck:
        """The plan's form of this test."""
        if self.http:
            return UserCheck(name=self.name, kind="http", url=self.http, expect_status=self.expect_status,
                             expect_body=self.expect_body, timeout_seconds=self.timeout_seconds)  # fmt: skip
        argv = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        return UserCheck(name=self.name, kind="command", command=argv, timeout_seconds=self.timeout_seconds)


class EnvironmentSpec(_Spec):
    """Who owns an environment, who is told about its changes, and the user's tests run after every hop."""

    owners: list[str] = Field(default_factory=list, description="Who approves changes here (names, @handles)")
    notify: list[str] = Field(default_factory=list, description="Who is told at start, gate result and rollback")
    tests: list[CheckSpec] = Field(default_factory=list)


class ClusterEntry(_Spec):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    environment: Environment
    provider: Provider = "other"
    region: str = ""
    role: str = "workload"
    snapshot: str = ""
    context: str = ""
    kubeconfig: str = ""
    gitops_path: str = ""
    metrics_url: str = ""
    owners: list[str] = Field(default_factory=list, description="Who approves changes to this cluster")
    prerelease_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces that run pre-release workloads (e.g. beta, alpha): checked and gated on their own, "
        "and their failures never block the rest of the cluster",
    )
    kubernetes_version: str = Field(
        default="",
        pattern=r"^(v?\d+\.\d+(\.\d+)?)?$",
        description="Kubernetes version (1.29 or 1.29.6) of a Git-only cluster; a readable cluster reports its own",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ClusterEntry:
        if self.snapshot and self.context:
            raise ValueError(
                f"cluster {self.name}: set one of snapshot (a directory) or context (kube context), not both"
            )
        return self

    @property
    def git_only(self) -> bool:
        """No cluster access: what runs there is read from the GitOps repo (and Terraform) alone."""
        return not self.snapshot and not self.context


class FleetSpec(_Spec):
    name: str
    gitops: GitOpsSpec | None = None
    terraform: list[TerraformSpec] = Field(default_factory=list)
    clusters: list[ClusterEntry] = Field(min_length=1)
    environments: dict[Environment, EnvironmentSpec] = Field(default_factory=dict)
    maintenance_windows: dict[Environment, list[WindowSpec]] = Field(
        default_factory=dict, description="Per environment: when disruptive changes may start (cluster/windows.py)"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> FleetSpec:
        names = [c.name for c in self.clusters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"cluster names must be unique; repeated: {', '.join(dupes)}")
        for cluster in self.clusters:
            if cluster.git_only and not (cluster.gitops_path and self.gitops) and not self.terraform:
                raise ValueError(
                    f"cluster {cluster.name} names neither snapshot nor context, so it is planned from Git alone: "
                    "give it gitops_path (its folder in the GitOps repo, '.' for the whole repo; the fleet needs "
                    "gitops: {path: ...}) or list the fleet's terraform directories"
                )
        return self


@dataclass
class FleetCluster:
    """One cluster: its fleet entry, its source (None when unreachable or Git-only) and what went wrong."""

    entry: ClusterEntry
    source: ClusterSource | None
    info: ClusterInfo
    error: str = ""

    @property
    def unreachable(self) -> bool:
        """A cluster the fleet says to read that could not be read (Git-only clusters are never read)."""
        return self.source is None and not self.entry.git_only

    def mark_unreadable(self, error: str) -> None:
        """A source that failed mid-run (a snapshot file that does not read) leaves the cluster unreachable:
        the plan says what could not be checked there instead of stopping."""
        self.source, self.error = None, error
        self.info = self.info.model_copy(update={"reachable": False, "error": error})


@dataclass
class Fleet:
    name: str
    root: Path
    spec: FleetSpec
    clusters: dict[str, FleetCluster] = field(default_factory=dict)

    @cached_property
    def gitops_root(self) -> Path | None:  # resolved once: every agent asks, and resolving touches the disk
        return (self.root / self.spec.gitops.path).resolve() if self.spec.gitops else None

    @cached_property
    def gitops_prefix(self) -> str:
        """The GitOps repo's directory relative to the fleet root ('infra-flux/'; '' when it is the root), so
        every file a plan names is relative to the fleet root."""
        root = self.gitops_root
        if root is None or root == self.root.resolve() or not root.is_relative_to(self.root.resolve()):
            return ""
        return f"{root.relative_to(self.root.resolve()).as_posix()}/"

    @cached_property
    def terraform_roots(self) -> list[Path]:
        return [(self.root / t.path).resolve() for t in self.spec.terraform]

    def unusable_paths(self) -> list[tuple[str, Path, str]]:
        """(what, path, problem) for the GitOps repo and Terraform dirs the fleet file names that are not
        directories: nothing there can be checked, and a plan must say so."""
        named = [("GitOps repo", self.gitops_root)] if self.gitops_root else []
        named += [("Terraform directory", root) for root in self.terraform_roots]
        unusable = []
        for what, path in named:
            if path is None or path.is_dir():
                continue
            problem = "is a file, not a directory" if path.exists() else "does not exist"
            unusable.append((what, path, problem))
        return unusable

    def reachable(self) -> list[FleetCluster]:
        return [c for c in self.clusters.values() if c.source is not None]


_FIELDS = sorted(
    {name for model in (FleetSpec, ClusterEntry, GitOpsSpec, TerraformSpec, EnvironmentSpec, CheckSpec, WindowSpec,
                        WeeklyWindow)
     for name in model.model_fields}
)


def _fields_at(loc: list) -> list[str]:
    """The keys a fleet file may have at a place: top level, clusters.N, gitops, terraform.N."""
    model: type[BaseModel] = {"clusters": ClusterEntry, "gitops": GitOpsSpec, "terraform": TerraformSpec}.get(
        str(loc[0]) if loc else "", FleetSpec
    )
    if loc and str(loc[0]) == "environments":  # environments.ENV, environments.ENV.tests.N
        model = CheckSpec if "tests" in [str(p) for p in loc] else EnvironmentSpec
    return list(model.model_fields)


def validation_problems(exc: ValidationError, limit: int = 5) -> str:
    """Where a fleet file breaks its schema and why, without echoing anything from it (pydantic's own text
    repeats the input): `clusters.0.environment: Input should be 'dev', 'staging' or 'prod'`. An unknown
    key is named only when it is a near miss of a real one (`metrics_ur` -> metrics_url): any other key
    could be a line of a file passed by mistake, so those are only counted."""
    problems: list[str] = []
    unknown: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = list(error["loc"])
        if error["type"] == "extra_forbidden" and loc:
            key = str(loc.pop())
            place = ".".join(map(str, loc)) or "top level"
            near = difflib.get_close_matches(key, _fields_at(loc), n=1, cutoff=0.75)
            if near:
                problems.append(f"{place}: unknown key {key!r}: did you mean {near[0]}?")
            else:
                unknown.setdefault(place, _fields_at(loc))
                unknown[place + "#"] = [*unknown.get(place + "#", []), key]
            continue
        place = ".".join(str(p) for p in loc if isinstance(p, int) or str(p) in _FIELDS)
        problems.append(f"{place or 'top level'}: {error['msg']}")
    for place, fields in unknown.items():
        if not place.endswith("#"):
            count = len(unknown[place + "#"])
            problems.append(f"{place}: {count} unknown key(s) (expected {', '.join(fields)})")
    more = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; and {more} more" if more > 0 else "")


def some_names(names, limit: int = 10) -> str:
    """'a, b, c' for a few names; the first `limit` and how many more for a long list, so a message about a
    fleet of 100,000 clusters stays one line."""
    names = [str(n) for n in names]
    shown = ", ".join(n if len(n) <= 80 else n[:77] + "..." for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def unknown_clusters_message(unknown, known) -> str:
    """The one wording for cluster names the fleet does not have (bounded, whatever the sizes)."""
    return f"unknown cluster(s) {some_names(unknown, 5)}; the fleet has {some_names(known)}"


def demo_fleet_path() -> Path:
    """The bundled demo fleet's fleet.yaml."""
    return Path(str(resources.files("upgradectl").joinpath("demo_fleet", "fleet.yaml")))


def _fleet_file(ref: str) -> Path:
    if ref == "demo":
        return demo_fleet_path()
    try:
        path = Path(ref).expanduser()
        if path.is_dir():
            path = path / "fleet.yaml"
        found = path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        raise FleetError(f"fleet {ref[:200]!r} is not a usable path; pass --fleet PATH/fleet.yaml or demo") from None
    if not found:
        raise FleetError(f"fleet file {path} not found; pass --fleet PATH/fleet.yaml, a directory holding one, or demo")
    return path


def default_live_opener(entry: ClusterEntry) -> ClusterSource:
    """Open a fleet entry's kube context as a LiveCluster (the kubernetes client loads only when needed)."""
    from upgradectl.tools.cluster.live import LiveCluster  # the kubernetes client: loaded only for live clusters

    return LiveCluster.open(entry.context, entry.kubeconfig or None, name=entry.name)


def context_fleet(
    context: str, kubeconfig: str = "", environment: str = "prod", live_opener=default_live_opener
) -> Fleet:
    """A one-cluster fleet for `plan --context`: the kube context, no GitOps repo, no Terraform.

    The environment defaults to prod: a cluster of unknown standing gets the strictest gates and approvals.
    """
    try:
        entry = ClusterEntry(
            name=cluster_name_for_context(context),
            environment=environment,  # type: ignore[arg-type]
            provider=_provider_for_context(context),
            context=context,
            kubeconfig=kubeconfig,
        )
    except ValidationError as exc:
        raise FleetError(f"cannot plan context {context}: {validation_problems(exc)}") from None
    spec = FleetSpec(name=f"context {context}", clusters=[entry])
    fleet = Fleet(name=spec.name, root=Path.cwd(), spec=spec)
    opened = _open(fleet.root, entry, live_opener)
    if opened.source is not None and entry.provider == "other":
        provider = provider_for_version(opened.source.server_version())
        opened.entry = entry.model_copy(update={"provider": provider})
        opened.info = opened.info.model_copy(update={"provider": provider})
    fleet.clusters[entry.name] = opened
    return fleet


REPO_PREFIX = "repo:"


def repo_fleet(path: str, kubernetes: str = "", environment: str = "") -> Fleet:
    """A fleet of Git-only clusters read from a GitOps repository's layout, for `plan --repo PATH`.

    Clusters come from tools/gitops/layout.py; a cluster whose name does not say its environment gets
    `environment`, else prod (a cluster of unknown standing gets the strictest gates and approvals).
    `kubernetes` (1.29 or 1.29.6) is every cluster's Kubernetes version; '' leaves it unknown.
    """
    root = Path(path.removeprefix(REPO_PREFIX)).expanduser().resolve()
    if not root.is_dir():
        raise FleetError(f"--repo {path}: no such directory; pass the path of a GitOps repository checkout")
    if environment and environment not in ENVIRONMENT_ORDER:
        raise FleetError(f"environment {environment!r} is not one of {', '.join(ENVIRONMENT_ORDER)}")
    entries = []
    for found in discover_clusters(root):
        try:
            entries.append(
                ClusterEntry(
                    name=found.name,
                    environment=found.environment or environment or "prod",  # type: ignore[arg-type]
                    gitops_path=found.gitops_path,
                    kubernetes_version=kubernetes,
                )
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise FleetError(f"--kubernetes {kubernetes!r}: {problems} (give X.Y, e.g. 1.29)") from exc
    spec = FleetSpec(name=f"repo {root.name}", gitops=GitOpsSpec(path="."), clusters=entries)
    fleet = Fleet(name=spec.name, root=root, spec=spec)
    for entry in entries:
        fleet.clusters[entry.name] = _git_only(entry)
    return fleet


def provider_for_version(server_version: dict) -> Provider:
    """eks or gke from the managed distributions' gitVersion suffixes (v1.29.6-eks-1552ad0, v1.30.5-gke.1014001)."""
    git = str(server_version.get("gitVersion", ""))
    return "eks" if "-eks-" in git else "gke" if "-gke." in git else "other"


def _provider_for_context(context: str) -> Provider:
    """Guess the provider from how its tooling names contexts (EKS ARNs, gke_*, kind-*, AKS names are free)."""
    if context.startswith("arn:aws:eks:") or context.endswith(".eksctl.io"):
        return "eks"
    if context.startswith("gke_"):
        return "gke"
    if context.startswith("kind-"):
        return "kind"
    return "other"


def open_fleet(
    ref: str = "demo",
    *,
    context: str = "",
    repo: str = "",
    kubeconfig: str = "",
    environment: str = "",
    kubernetes: str = "",
    live_opener=None,
) -> Fleet:
    """The fleet a run names: a fleet file ('demo', a fleet.yaml, a directory holding one); with `context`, the
    one live cluster of that kube context (in `environment`, default prod); with `repo`, the Git-only clusters
    of a GitOps repository's layout (`environment` for those whose name says none). `kubeconfig` applies to
    every kube context that names none of its own; `kubernetes` is the Kubernetes version of Git-only
    clusters that name none; `live_opener` replaces how contexts are opened (tests)."""
    opener = live_opener or partial(_open_context, kubeconfig=kubeconfig)
    if context:
        return context_fleet(context, kubeconfig, environment or "prod", opener)
    if repo:
        return repo_fleet(repo, kubernetes, environment)
    return load_fleet(ref, live_opener=opener, kubernetes=kubernetes)


def _open_context(entry: ClusterEntry, kubeconfig: str) -> ClusterSource:
    if kubeconfig and not entry.kubeconfig:
        entry = entry.model_copy(update={"kubeconfig": kubeconfig})
    return default_live_opener(entry)


def load_fleet(ref: str, live_opener=None, kubernetes: str = "") -> Fleet:
    """Load a fleet by file, directory, the name 'demo', or 'repo:PATH' (a GitOps repository's layout).

    `live_opener(entry) -> ClusterSource` opens kube contexts; without one, context entries are
    reported as unreachable with an explanation. `kubernetes` is the Kubernetes version of Git-only
    clusters whose entry names none.
    """
    if ref.startswith(REPO_PREFIX):
        return repo_fleet(ref, kubernetes)
    if kubernetes and not re.fullmatch(r"v?\d+\.\d+(\.\d+)?", kubernetes):
        raise FleetError(f"--kubernetes {kubernetes!r} is not a Kubernetes version; give X.Y, e.g. 1.29")
    file, spec = read_fleet_spec(ref)
    fleet = Fleet(name=spec.name, root=file.parent.resolve(), spec=spec)
    for entry in spec.clusters:
        if entry.git_only and kubernetes and not entry.kubernetes_version:
            entry = entry.model_copy(update={"kubernetes_version": kubernetes})
        fleet.clusters[entry.name] = _open(fleet.root, entry, live_opener)
    return fleet


def read_fleet_spec(ref: str) -> tuple[Path, FleetSpec]:
    """The fleet file a reference names and its validated spec, without opening any cluster."""
    file = _fleet_file(ref)
    raw = parse_yaml(read_text(file, "fleet file", FleetError), file, "fleet file", FleetError)
    if not isinstance(raw, dict):
        raise FleetError(
            f"fleet file {file} is not a fleet file: expected a mapping with name and clusters "
            "(see docs/snapshot-format.md); is it the right file?"
        )
    try:
        spec = FleetSpec.model_validate(raw)
    except ValidationError as exc:
        raise FleetError(f"{file} is not a valid fleet file: {validation_problems(exc)}") from None
    return file, spec


def _open(root: Path, entry: ClusterEntry, live_opener) -> FleetCluster:
    if entry.git_only:
        return _git_only(entry)
    where = str((root / entry.snapshot).resolve()) if entry.snapshot else f"context {entry.context}"
    if entry.kubeconfig and not Path(entry.kubeconfig).expanduser().is_absolute():
        entry = entry.model_copy(update={"kubeconfig": str(root / Path(entry.kubeconfig).expanduser())})
    try:
        if entry.snapshot:
            source: ClusterSource = SnapshotCluster(root / entry.snapshot, name=entry.name)
        elif live_opener is None:
            raise SourceError(f"kube context {entry.context} cannot be opened: no live cluster support in this run")
        else:
            source = live_opener(entry)
        version = kubernetes_version(source.server_version())
    except SourceError as exc:
        info = ClusterInfo(
            name=entry.name,
            environment=entry.environment,
            provider=entry.provider,
            region=entry.region,
            kubernetes_version="0.0.0",
            role=entry.role,
            source=where,
            reachable=False,
            error=str(exc),
        )
        return FleetCluster(entry=entry, source=None, info=info, error=str(exc))
    info = ClusterInfo(
        name=entry.name,
        environment=entry.environment,
        provider=entry.provider,
        region=entry.region,
        kubernetes_version=version,
        role=entry.role,
        source=where,
    )
    return FleetCluster(entry=entry, source=source, info=info)


GIT_ONLY = "planned from Git alone: no snapshot or kube context to read it through"


def _git_only(entry: ClusterEntry) -> FleetCluster:
    """A cluster planned from its desired state: no source; Kubernetes version from the fleet entry ('' unknown)."""
    info = ClusterInfo(
        name=entry.name,
        environment=entry.environment,
        provider=entry.provider,
        region=entry.region,
        kubernetes_version=entry.kubernetes_version.lstrip("v"),
        role=entry.role,
        source=f"git: {entry.gitops_path}" if entry.gitops_path else "terraform",
        reachable=False,
        git_only=True,
    )
    return FleetCluster(entry=entry, source=None, info=info, error=GIT_ONLY)
