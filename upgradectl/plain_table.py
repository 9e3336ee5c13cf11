"""Plain text tables: left-aligned columns two spaces apart, no trailing blanks, one line per row.

What kubectl and Pluto print; it greps and diffs well, and it costs one pass over the cells however many
rows there are (a rich Table measures and wraps every cell, which dominated `scan` on large repos)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]], rule: bool = False) -> Iterator[str]:
    """The header, a dashed rule under it when `rule`, then every row, each padded to its column's widest cell."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    last = len(widths) - 1

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell if i == last else cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()

    yield line(header)
    if rule:
        yield "  ".join("-" * w for w in widths)
    for row in rows:
        yield line(row)
