"""upgradectl: plan and run safe, staged upgrades of critical infrastructure tools across a fleet."""

from functools import cache


@cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # only when the version is asked for

    try:
        return version("upgradectl")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    """`upgradectl.__version__`, read from the installed metadata on first use (importlib.metadata costs
    start-up time that `upgradectl --help` and most commands never need)."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'upgradectl' has no attribute {name!r}")
