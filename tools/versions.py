"""Version parsing and comparison for tool and Kubernetes versions in any common spelling.

Accepts 'v0.37', '0.37.x', '0.37.*', '1.0', 'v1.0.10', '1.29.6-eks-1552ad0'. A version written
with fewer than three parts is a *line* ('0.37' = any 0.37 patch); `Version.parse` keeps how many
parts were given so callers can tell '1.0' (a minor line) from '1.0.0' (one release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, total_ordering

_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:[-+].*)?$", re.IGNORECASE)


class VersionError(ValueError):
    """A string that is not a version."""


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0
    parts: int = 3

    @classmethod
    def parse(cls, text: str) -> Version:
        """The version a string spells (each spelling parsed once: plans compare the knowledge base's
        versions tens of thousands of times)."""
        return _parse(cls, str(text))

    @property
    def line(self) -> str:
        """The minor line, '0.37'."""
        return f"{self.major}.{self.minor}"

    @property
    def is_line(self) -> bool:
        """True when written without a patch ('0.37', '0.37.x')."""
        return self.parts < 3

    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key() < other.key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" if self.parts >= 3 else self.line


def parse(text: str) -> Version:
    return Version.parse(text)


def normalize(text: str) -> str:
    """Canonical spelling without a 'v': '0.37.x' -> '0.37', 'v1.0.10' -> '1.0.10'."""
    return str(Version.parse(text))


def minor_distance(a: str, b: str) -> int:
    """How many minor releases lie between two versions of the same major (b - a)."""
    va, vb = Version.parse(a), Version.parse(b)
    if va.major != vb.major:
        return 10_000 * (vb.major - va.major)
    return vb.minor - va.minor


def in_line_range(version: str, low: str | None, high: str | None) -> bool:
    """True when version lies in [low, high]; a bound written as a line ('0.37') covers every patch."""
    v = Version.parse(version)
    if low:
        lo = Version.parse(low)
        if v.key() < (lo.major, lo.minor, lo.patch if not lo.is_line else 0):
            return False
    if high:
        hi = Version.parse(high)
        bound = (hi.major, hi.minor, hi.patch) if not hi.is_line else (hi.major, hi.minor, 10**9)
        if v.key() > bound:
            return False
    return True


def kube_minor(version: str) -> tuple[int, int]:
    """Kubernetes '1.29.6' or '1.29' -> (1, 29)."""
    v = Version.parse(version)
    return (v.major, v.minor)


@lru_cache(maxsize=8192)
def _parse(cls: type[Version], text: str) -> Version:
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise VersionError(f"'{text}' is not a version (expected forms like 1.0.10, v0.37 or 0.37.x)")
    major, minor, patch = match.groups()
    wild = {"x", "*"}
    parts = 1
    if minor is not None and minor.lower() not in wild:
        parts = 2
        if patch is not None and patch.lower() not in wild:
            parts = 3
    return cls(
        int(major),
        int(minor) if parts >= 2 else 0,
        int(patch) if parts >= 3 else 0,
        parts,
    )
