"""upgradectl: plan and run safe, staged upgrades of critical infrastructure tools across a fleet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("upgradectl")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
