"""PNG plots for cost reports: node utilization histogram before/after, and hourly cost per node pool.

matplotlib's object API on its Agg canvas (no pyplot, no display: cheaper to import). Margins are fixed
(MARGINS) rather than computed by tight_layout, which draws the whole figure once more to measure it (a third
of a plot's time); they leave room for the histogram's labels and pool names up to FIXED_LABEL_CHARS long (a
chart with a longer pool name is laid out by tight_layout as before). Each PlotRef keeps the numbers it drew,
so tests and readers can check the picture against the text; plot_refs gives them without drawing, so a plan's
report can be rendered while another process draws (app/cost_report.py draw_aside).

A picture is a function of what it shows (each plot's texts and numbers: _utilization_figure, _pools_figure),
this file's code, matplotlib's and Pillow's versions and the user's matplotlibrc files: a plot drawn before
from the same is copied from the plot cache (PNG files in the parse cache's directory, owner-only; see
tools/parse_cache.py) instead of importing matplotlib (0.4 s) and drawing again (0.1 s a plot).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from upgradectl.cost_models import CostReport, PlotRef
from upgradectl.tools.parse_cache import cache_dir

PLOT_CACHE_FORMAT = "1"  # bump when what a cached picture depends on changes outside this file
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MARGINS = {"left": 0.1, "right": 0.98, "bottom": 0.2, "top": 0.92}  # of the 800x400 figure: 4-digit y ticks
FIXED_LABEL_CHARS = 24  # longest pool name the fixed margins show whole (rotated 20 degrees, 8 pt)
BIN_LABELS = [f"{i * 10}-{i * 10 + 10}%" for i in range(9)] + [">=90%"]
# Okabe-Ito colours (readable with every common colour-vision deficiency) plus a hatch, so the two series also
# differ in greyscale print; every bar carries its value.
CURRENT = {"color": "#0072B2", "label": "current"}
AFTER = {"color": "#E69F00", "hatch": "//", "edgecolor": "#1b1b1b", "linewidth": 0.5, "label": "after consolidation"}

Shown = dict[str, Any]  # what one plot shows: its texts and numbers (JSON), all that drawing it reads


def _headline(report: CostReport) -> str:
    """The figure people quote: what consolidating would save a month (or that it saves nothing)."""
    c = report.consolidation
    if c is None:
        return ""
    if c.savings_monthly <= 0:
        return "consolidation would not save money here"
    return f"consolidation saves ${c.savings_monthly:,.0f}/month ({c.savings_share:.0%})"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def plot_refs(report: CostReport) -> list[PlotRef]:
    """The plots draw_plots draws for a report: file name, title and the numbers each shows (nothing is drawn)."""
    refs = [_utilization_ref(report)]
    if report.pools:
        refs.append(_pools_ref(report))
    return refs


def draw_plots(report: CostReport, out_dir: Path) -> None:
    """Draw the report's plots into out_dir as PNG files, named as plot_refs names them (from the plot cache when
    drawn before; each drawn one is added to it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, shown, draw in _plots(report):
        if not _cached_copy(shown, out_dir / path):
            draw(shown, out_dir / path)
            _remember(shown, out_dir / path)


def cached_plots(report: CostReport, out_dir: Path) -> bool:
    """Copy the report's plots into out_dir from the plot cache; False (nothing copied) unless all are there."""
    plots = _plots(report)
    entries = [_cache_entry(shown) for _, shown, _ in plots]
    if not all(entry is not None and entry.is_file() for entry in entries):
        return False
    out_dir.mkdir(parents=True, exist_ok=True)
    return all(_cached_copy(shown, out_dir / path) for path, shown, _ in plots)


def write_plots(report: CostReport, out_dir: Path) -> CostReport:
    """Draw the report's plots into out_dir and return the report with links to them."""
    draw_plots(report, out_dir)
    return report.model_copy(update={"plots": plot_refs(report)})


def _plots(report: CostReport) -> list[tuple[str, Shown, Callable[[Shown, Path], None]]]:
    """Each plot of the report: file name, what it shows, and how it is drawn."""
    plots = [(_utilization_ref(report).path, _utilization_shown(report), _draw_utilization)]
    if report.pools:
        plots.append((_pools_ref(report).path, _pools_shown(report), _draw_pools))
    return plots


def _histograms(report: CostReport) -> tuple[list[float], list[float]]:
    """Nodes per utilization bin, now and after consolidation (empty when nothing is projected)."""
    before = [float(x) for x in report.current.utilization_histogram]
    after = [float(x) for x in report.projected.utilization_histogram] if report.projected else []
    return before, after


def _utilization_ref(report: CostReport) -> PlotRef:
    before, after = _histograms(report)
    counts = {"current": before}
    if after:
        counts["projected"] = after
    return PlotRef(kind="utilization-histogram", title=f"{report.cluster}: node utilization before and after",
                   path=f"cost-{_safe(report.cluster)}-utilization.png", counts=counts)


def _pools_ref(report: CostReport) -> PlotRef:
    pools = report.pools or []
    return PlotRef(kind="cost-per-pool", title=f"{report.cluster}: hourly cost per node pool",
                   path=f"cost-{_safe(report.cluster)}-pools.png",
                   counts={"pools": list(range(len(pools))), "current": [p.hourly_before for p in pools],
                           "projected": [p.hourly_after for p in pools]})


def _utilization_shown(report: CostReport) -> Shown:
    before, after = _histograms(report)
    now = f"{report.current.nodes_high}/{report.current.nodes} now"
    later = f", {report.projected.nodes_high}/{report.projected.nodes} after)" if report.projected else ")"
    return {"kind": "utilization-histogram", "before": before, "after": after, "headline": _headline(report),
            "title": f"{report.cluster}: node utilization (>=80%: {now}{later}"}


def _pools_shown(report: CostReport) -> Shown:
    pools = report.pools or []
    return {"kind": "cost-per-pool", "labels": [p.pool for p in pools], "before": [p.hourly_before for p in pools],
            "after": [p.hourly_after for p in pools], "headline": _headline(report),
            "title": f"{report.cluster}: hourly cost per node pool (prices as of {report.prices.as_of})"}


def _draw_utilization(shown: Shown, path: Path) -> None:
    """Grouped bars: nodes per 10% utilization bin, current vs projected."""
    from matplotlib.figure import Figure  # heavy (0.4 s): only a process that draws plots loads matplotlib
    from matplotlib.ticker import MaxNLocator  # with Figure, above

    before, after = shown["before"], shown["after"]
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    xs = range(len(BIN_LABELS))
    width = 0.4 if after else 0.8
    bars = ax.bar([x - (width / 2 if after else 0) for x in xs], before, width, **CURRENT)
    ax.bar_label(bars, labels=[f"{v:.0f}" if v else "" for v in before], fontsize=7)
    if after:
        bars = ax.bar([x + width / 2 for x in xs], after, width, **AFTER)
        ax.bar_label(bars, labels=[f"{v:.0f}" if v else "" for v in after], fontsize=7)
    ax.set_xticks(list(xs), BIN_LABELS, rotation=30, fontsize=8)
    ax.set_ylabel("nodes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("requested / allocatable (max of CPU, memory)")
    ax.axvline(7.5, color="grey", linestyle="--", linewidth=1)
    ax.set_title(shown["title"])
    if shown["headline"]:
        fig.suptitle(shown["headline"], fontsize=11, fontweight="bold")
    ax.legend()
    fig.subplots_adjust(**MARGINS)
    fig.savefig(path)


def _draw_pools(shown: Shown, path: Path) -> None:
    """Grouped bars: hourly cost of each node pool, current vs projected."""
    from matplotlib.figure import Figure  # heavy (0.4 s): only a process that draws plots loads matplotlib

    labels, before, after = shown["labels"], shown["before"], shown["after"]
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    xs = range(len(labels))
    bars = ax.bar([x - 0.2 for x in xs], before, 0.4, **CURRENT)
    ax.bar_label(bars, labels=[f"${v:.2f}" for v in before], fontsize=7)
    bars = ax.bar([x + 0.2 for x in xs], after, 0.4, **AFTER)
    ax.bar_label(bars, labels=[f"${v:.2f}" for v in after], fontsize=7)
    ax.set_xticks(list(xs), labels, rotation=20, fontsize=8)
    ax.set_ylabel("USD per hour")
    ax.set_title(shown["title"])
    if shown["headline"]:
        fig.suptitle(shown["headline"], fontsize=11, fontweight="bold")
    ax.legend()
    if max(map(len, labels), default=0) <= FIXED_LABEL_CHARS:
        fig.subplots_adjust(**MARGINS)
    else:
        fig.tight_layout()
    fig.savefig(path)


# ---------------------------------------------------------------- plot cache


@cache
def _drawing_inputs() -> str:
    """Digest of what a picture depends on besides what it shows: this file's code, matplotlib's and Pillow's
    versions, and the user's matplotlibrc."""
    digest = hashlib.sha256(f"{PLOT_CACHE_FORMAT}\0{_version('matplotlib')}\0{_version('pillow')}\0".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(b"\0" + _matplotlibrc())
    return digest.hexdigest()


def _matplotlibrc() -> bytes:
    """The matplotlibrc matplotlib reads, found as it finds it (the first file of: ./matplotlibrc, $MATPLOTLIBRC
    or a matplotlibrc in it, the configuration directory's), with its path; empty for matplotlib's own."""
    configured = os.environ.get("MATPLOTLIBRC")
    config_dir = os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config",
                                                       "matplotlib")
    candidates = [Path("matplotlibrc"), *([Path(configured), Path(configured, "matplotlibrc")] if configured else []),
                  Path(config_dir, "matplotlibrc")]
    for rc in candidates:
        if rc.is_file():
            try:
                return str(rc.resolve()).encode() + b"\0" + rc.read_bytes()
            except OSError:
                return b"unreadable\0" + str(rc).encode()
    return b""


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def _cache_entry(shown: Shown) -> Path | None:
    """Where the picture of `shown` is cached; None when the cache is turned off."""
    root = cache_dir()
    if root is None:
        return None
    key = hashlib.sha256(f"{_drawing_inputs()}\0{json.dumps(shown, sort_keys=True)}".encode()).hexdigest()[:32]
    return root / f"plot-{key}.png"


def _cached_copy(shown: Shown, path: Path) -> bool:
    """Write the cached picture of `shown` to path; False when there is none (or it is not a PNG)."""
    entry = _cache_entry(shown)
    try:
        data = entry.read_bytes() if entry is not None else b""
    except OSError:
        return False
    if not data.startswith(PNG_SIGNATURE):
        return False
    path.write_bytes(data)
    return True


def _remember(shown: Shown, path: Path) -> None:
    """Add a drawn picture to the plot cache (best effort, atomic, owner-only)."""
    entry = _cache_entry(shown)
    if entry is None:
        return
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=entry.parent, suffix=".tmp", delete=False) as handle:
            handle.write(path.read_bytes())
        os.replace(handle.name, entry)
    except OSError:  # a read-only cache directory: no cache, no harm
        return
