"""Human-readable output: one aligned table row per result, goals marked met, missed or informational."""

from __future__ import annotations

import math
from collections.abc import Sequence

from benchmarks.record import Result


def _num(value: float | None) -> str:
    """A figure with 3–4 significant digits, whatever its magnitude."""
    if value is None:
        return "—"
    if math.isinf(value):
        return "inf"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _verdict(result: Result) -> str:
    if result.skipped is not None:
        return "skipped"
    met = result.met
    if met is None:
        return "info"
    return "met" if met else "MISSED"


def table(results: Sequence[Result]) -> str:
    """The results as a Markdown table (it reads as plain text too), then one line per skip reason."""
    header = ("benchmark", "ours", "peer", "peer value", "unit", "ratio", "goal", "")
    rows = [
        (
            r.name,
            _num(r.ours),
            r.peer,
            _num(r.peer_value),
            r.unit,
            "—" if r.ratio is None else f"{_num(r.ratio)}×",
            "—" if r.goal is None else f"≥ {_num(r.goal)}×",
            _verdict(r),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(row) for row in rows)]
    for r in results:
        if r.skipped is not None:
            out.append(f"skipped {r.name}: {r.skipped}")
    return "\n".join(out)
