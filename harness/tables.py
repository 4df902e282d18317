"""Render small tables for the terminal, for Markdown documents, or as CSV, from one list of rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

FORMATS = ("table", "markdown", "csv")


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], fmt: str = "table", align: str = "") -> str:
    """The rows under their headers, as aligned text, a Markdown table or CSV (ending in a newline).

    `align`: one letter per column for Markdown, "l" or "r" (numbers read best right-aligned); default all "l".
    Every Markdown table of the project's reports goes through here."""
    cells = [[_cell(v, full=fmt == "csv") for v in row] for row in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(cells)
        return out.getvalue()
    if fmt == "markdown":
        if align and (len(align) != len(headers) or set(align) - {"l", "r"}):
            raise ValueError(f"align needs one of l/r per column ({len(headers)}), got {align!r}")
        rule = ["---:" if a == "r" else "---" for a in (align or "l" * len(headers))]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(rule) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    if fmt == "table":
        widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown table format {fmt!r} (choose from {', '.join(FORMATS)})")


def _cell(value: object, full: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not full:
        return f"{value:.6g}"
    return str(value)


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal; empty for None and NaN."""
    return "" if x is None or x != x else f"{100 * x:.1f}"


def ci(lo: float | None, hi: float | None) -> str:
    """An interval of fractions as "[lo, hi]" in percent; empty when either end is missing."""
    return "" if lo is None or hi is None else f"[{pct(lo)}, {pct(hi)}]"
