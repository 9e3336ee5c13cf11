"""PNG plots for cost reports: node utilization histogram before/after, and hourly cost per node pool.

matplotlib's object API on its Agg canvas (no pyplot, no display: cheaper to import). Margins are fixed
(MARGINS) rather than computed by tight_layout, which draws the whole figure once more to measure it (a third
of a plot's time); they leave room for the histogram's labels and pool names up to FIXED_LABEL_CHARS long (a
chart with a longer pool name is laid out by tight_layout as before). Each PlotRef keeps the numbers it drew,
so tests and readers can check the picture against the text; plot_refs gives them without drawing, so a plan's
report can be rendered while another process draws (app/cost_report.py draw_aside).
"""

from __future__ import annotations

from pathlib import Path

from upgradectl.cost_models import CostReport, PlotRef

MARGINS = {"left": 0.1, "right": 0.98, "bottom": 0.2, "top": 0.92}  # of the 800x400 figure: 4-digit y ticks
FIXED_LABEL_CHARS = 24  # longest pool name the fixed margins show whole (rotated 20 degrees, 8 pt)
BIN_LABELS = [f"{i * 10}-{i * 10 + 10}%" for i in range(9)] + [">=90%"]
# Okabe-Ito colours (readable with every common colour-vision deficiency) plus a hatch, so the two series also
# differ in greyscale print; every bar carries its value.
CURRENT = {"color": "#0072B2", "label": "current"}
AFTER = {"color": "#E69F00", "hatch": "//", "edgecolor": "#1b1b1b", "linewidth": 0.5, "label": "after consolidation"}


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
    """Draw the report's plots into out_dir as PNG files, named as plot_refs names them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _draw_utilization(report, out_dir / _utilization_ref(report).path)
    if report.pools:
        _draw_pools(report, out_dir / _pools_ref(report).path)


def write_plots(report: CostReport, out_dir: Path) -> CostReport:
    """Draw the report's plots into out_dir and return the report with links to them."""
    draw_plots(report, out_dir)
    return report.model_copy(update={"plots": plot_refs(report)})


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


def _draw_utilization(report: CostReport, path: Path) -> None:
    """Grouped bars: nodes per 10% utilization bin, current vs projected."""
    from matplotlib.figure import Figure  # heavy (0.4 s): only a process that draws plots loads matplotlib
    from matplotlib.ticker import MaxNLocator  # with Figure, above

    before, after = _histograms(report)
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
    ax.set_title(f"{report.cluster}: node utilization (>=80%: {report.current.nodes_high}/{report.current.nodes} now"
                 + (f", {report.projected.nodes_high}/{report.projected.nodes} after)" if report.projected else ")"))
    if _headline(report):
        fig.suptitle(_headline(report), fontsize=11, fontweight="bold")
    ax.legend()
    fig.subplots_adjust(**MARGINS)
    fig.savefig(path)


def _draw_pools(report: CostReport, path: Path) -> None:
    """Grouped bars: hourly cost of each node pool, current vs projected."""
    from matplotlib.figure import Figure  # heavy (0.4 s): only a process that draws plots loads matplotlib

    pools = report.pools or []
    labels = [p.pool for p in pools]
    before = [p.hourly_before for p in pools]
    after = [p.hourly_after for p in pools]
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    xs = range(len(labels))
    bars = ax.bar([x - 0.2 for x in xs], before, 0.4, **CURRENT)
    ax.bar_label(bars, labels=[f"${v:.2f}" for v in before], fontsize=7)
    bars = ax.bar([x + 0.2 for x in xs], after, 0.4, **AFTER)
    ax.bar_label(bars, labels=[f"${v:.2f}" for v in after], fontsize=7)
    ax.set_xticks(list(xs), labels, rotation=20, fontsize=8)
    ax.set_ylabel("USD per hour")
    ax.set_title(f"{report.cluster}: hourly cost per node pool (prices as of {report.prices.as_of})")
    if _headline(report):
        fig.suptitle(_headline(report), fontsize=11, fontweight="bold")
    ax.legend()
    if max(map(len, labels), default=0) <= FIXED_LABEL_CHARS:
        fig.subplots_adjust(**MARGINS)
    else:
        fig.tight_layout()
    fig.savefig(path)
