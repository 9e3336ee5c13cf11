"""The dated price table and instance catalog behind every cost figure (tools/knowledge/data/cost/prices.yaml).

A user file given with `--prices FILE` is merged over the bundled table (instance types and per-region
prices added or replaced entry by entry), so a fleet can use its own negotiated rates. Spot prices are
typical levels and always count as uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from upgradectl.tools import yamlio
from upgradectl.tools.cluster.resources import Requests
from upgradectl.tools.textfiles import load_yaml_file

GIB = 2**30
MIB = 2**20
# Karpenter's default VM memory overhead (settings vmMemoryOverheadPercent): capacity the hypervisor keeps.
VM_MEMORY_OVERHEAD = 0.075
EVICTION_HARD_MIB = 100


class PriceError(ValueError):
    """The price table (bundled or --prices) is unreadable or invalid; the message names the file and field."""


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InstanceShape(_Entry):
    """One instance/machine type as a scheduler sees it: vCPU, memory, max pods."""

    provider: Literal["aws", "gce"]
    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    max_pods: int = Field(gt=0)
    arch: str = "amd64"


class Price(_Entry):
    on_demand: float | None = Field(default=None, ge=0)
    spot: float | None = Field(default=None, ge=0)
    uncertain: bool | None = Field(default=None, description="Overrides the region's on-demand flag")


class RegionPrices(_Entry):
    provider: Literal["aws", "gce"]
    on_demand_source: str
    spot_source: str
    on_demand_uncertain: bool = False
    spot_uncertain: bool = True
    prices: dict[str, Price]


class PriceTable(_Entry):
    as_of: str
    currency: Literal["USD"] = "USD"
    sources: dict[str, str]
    notes: list[str] = Field(default_factory=list)
    instance_types: dict[str, InstanceShape]
    regions: dict[str, RegionPrices]
    override: str = ""

    @model_validator(mode="after")
    def _sources_exist(self) -> PriceTable:
        for name, region in self.regions.items():
            for key in (region.on_demand_source, region.spot_source):
                if key not in self.sources:
                    raise ValueError(f"regions.{name}: source {key!r} is not listed under sources")
        return self

    def quote(self, instance_type: str, region: str, capacity_type: str) -> Quote | None:
        """Hourly price of one node; None when the table has no such region, type or capacity type."""
        table = self.regions.get(region)
        entry = table.prices.get(instance_type) if table else None
        if table is None or entry is None:
            return None
        if capacity_type == "spot":
            if entry.spot is None:
                return None
            return Quote(entry.spot, table.spot_uncertain or bool(entry.uncertain), self.sources[table.spot_source])
        if entry.on_demand is None:
            return None
        uncertain = table.on_demand_uncertain if entry.uncertain is None else entry.uncertain
        return Quote(entry.on_demand, uncertain, self.sources[table.on_demand_source])

    def priced_types(self, region: str) -> list[str]:
        """Instance types that have both a catalog entry and a price in the region."""
        table = self.regions.get(region)
        if table is None:
            return []
        return sorted(t for t in table.prices if t in self.instance_types)


@dataclass(frozen=True)
class Quote:
    hourly: float
    uncertain: bool
    source: str


def _merge(base: Any, top: Any) -> Any:
    """Recursive dict merge: the override wins key by key; lists and scalars are replaced."""
    if isinstance(base, dict) and isinstance(top, dict):
        merged = dict(base)
        for key, value in top.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return top


def bundled_prices_text() -> str:
    return resources.files("upgradectl.tools.knowledge").joinpath("data", "cost", "prices.yaml").read_text()


def load_prices(override: Path | None = None) -> PriceTable:
    """The bundled table, with `override` (a --prices file of the same schema) merged over it."""
    raw = yamlio.load(bundled_prices_text())
    where = "tools/knowledge/data/cost/prices.yaml"
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise PriceError(f"--prices {path}: file not found")
        extra = load_yaml_file(path, "--prices file", PriceError) or {}
        if not isinstance(extra, dict):
            raise PriceError(f"--prices {path}: expected a mapping with instance_types/regions (see {where})")
        raw = _merge(raw, extra)
        raw["override"] = str(path)
        where = f"{where} merged with {path}"
    try:
        return PriceTable.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PriceError(f"{where} is not a valid price table: {problems}") from exc


def _aws_parts(name: str) -> dict[str, str]:
    family, _, size = name.partition(".")
    generation = "".join(ch for ch in family[1:] if ch.isdigit())
    return {"family": family, "category": family[:1], "generation": generation, "size": size}


def type_labels(name: str, shape: InstanceShape) -> dict[str, str]:
    """The well-known node labels a node of this type carries (what Karpenter requirements select on)."""
    labels = {
        "node.kubernetes.io/instance-type": name,
        "beta.kubernetes.io/instance-type": name,
        "kubernetes.io/arch": shape.arch,
        "kubernetes.io/os": "linux",
    }
    if shape.provider == "aws":
        parts = _aws_parts(name)
        labels.update(
            {
                "karpenter.k8s.aws/instance-family": parts["family"],
                "karpenter.k8s.aws/instance-category": parts["category"],
                "karpenter.k8s.aws/instance-generation": parts["generation"],
                "karpenter.k8s.aws/instance-size": parts["size"],
                "karpenter.k8s.aws/instance-cpu": str(shape.vcpu),
                "karpenter.k8s.aws/instance-memory": str(int(shape.memory_gib * 1024)),
                "karpenter.k8s.aws/instance-pods": str(shape.max_pods),
            }
        )
    else:
        labels["cloud.google.com/machine-family"] = name.split("-", 1)[0]
    return labels


def reserved_cpu(vcpu: int) -> float:
    """kube-reserved CPU (cores) on the EKS AMIs and GKE: 6% of core 1, 1% of core 2, 0.5% of cores 3-4,
    0.25% above."""
    milli = 60 + (10 if vcpu > 1 else 0) + 5 * min(max(vcpu - 2, 0), 2) + 2.5 * max(vcpu - 4, 0)
    return milli / 1000


def estimated_allocatable(shape: InstanceShape) -> Requests:
    """Allocatable CPU and memory of a fresh node, as Karpenter estimates it before launch.

    AWS: capacity less the VM overhead (7.5%), kube-reserved memory 11 MiB per max pod + 255 MiB and the
    100 MiB eviction threshold. GCE: GKE's reservation tiers (25% of the first 4 GiB, 20% of the next 4,
    10% of the next 8, 6% of the next 112) and the eviction threshold.
    """
    cpu = shape.vcpu - reserved_cpu(shape.vcpu)
    gib = shape.memory_gib
    if shape.provider == "aws":
        memory = gib * GIB * (1 - VM_MEMORY_OVERHEAD) - (11 * shape.max_pods + 255 + EVICTION_HARD_MIB) * MIB
    else:
        reserved_gib = (
            0.25 * min(gib, 4)
            + 0.20 * min(max(gib - 4, 0), 4)
            + 0.10 * min(max(gib - 8, 0), 8)
            + 0.06 * min(max(gib - 16, 0), 112)
        )
        memory = (gib - reserved_gib) * GIB - EVICTION_HARD_MIB * MIB
    return Requests(cpu, memory)
