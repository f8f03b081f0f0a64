"""The certificate's figures as PNG bytes, drawn with matplotlib's Agg backend (no display, no GUI toolkit),
imported only when a certificate is made.

- ``deviation``: every reading's deviation from its test point's nominal (%, or µm for depth), as found and as
  left side by side, with each point's mean and its limit band;
- ``depth fit``: gauge reading − set depth against set depth, the as-found fit line and the ±50 µm band.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mesogun.calibration import metrology
from mesogun.calibration.certificate.content import point_label
from mesogun.calibration.results import CalibrationKind, CalibrationRun, SeriesResult

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN = 7.2
HEIGHT_IN = 2.9
DPI = 200
_FOUND = "#c2410c"
_LEFT = "#1d4ed8"
_BAND = "#16a34a"


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.grid(True, color="#e5e7eb", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=8)
    return figure, axes


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _absolute(run: CalibrationRun) -> bool:
    return run.kind is CalibrationKind.DEPTH


def _deviations(series: SeriesResult, absolute: bool) -> tuple[list[float], float]:
    if absolute:
        return [value - series.nominal for value in series.values], series.mean - series.nominal
    return [100 * (value / series.nominal - 1) for value in series.values], series.systematic_pct


def _band(series: SeriesResult, absolute: bool) -> float | None:
    return series.limits.systematic_abs if absolute else series.limits.systematic_pct


def deviation_png(run: CalibrationRun) -> bytes:
    """Readings against nominal with limit bands, as found against as left."""
    figure, axes = _figure()
    absolute = _absolute(run)
    nominals = list(dict.fromkeys(s.nominal for s in (*run.as_found, *run.as_left)))  # the tables' order
    labels = []
    for position, nominal in enumerate(nominals):
        points = [s for s in (*run.as_found, *run.as_left) if s.nominal == nominal]
        labels.append(point_label(points[0]))
        band = _band(points[0], absolute)
        if band is not None:
            axes.fill_between(
                [position - 0.42, position + 0.42], -band, band, color=_BAND, alpha=0.12, linewidth=0, zorder=0
            )
            for edge in (-band, band):
                axes.plot([position - 0.42, position + 0.42], [edge, edge], color=_BAND, linewidth=0.8)
        for shift, phase, colour, marker in ((-0.17, run.as_found, _FOUND, "o"), (0.17, run.as_left, _LEFT, "s")):
            for series in (s for s in phase if s.nominal == nominal):
                values, mean = _deviations(series, absolute)
                xs = _jitter(position + shift, len(values))
                axes.scatter(xs, values, s=9, color=colour, marker=marker, alpha=0.75, linewidths=0, zorder=3)
                axes.plot([position + shift - 0.12, position + shift + 0.12], [mean, mean], color=colour, lw=1.6)
    axes.axhline(0, color="#374151", linewidth=0.8)
    axes.set_xticks(range(len(nominals)), labels)
    axes.set_xlim(-0.6, len(nominals) - 0.4)
    axes.set_ylabel("deviation from set (µm)" if absolute else "deviation from nominal (%)", fontsize=8)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Artist] = [
        Line2D([], [], color=colour, marker=marker, linestyle="", markersize=4, label=name)
        for phase, colour, marker, name in (
            (run.as_found, _FOUND, "o", "as found"),
            (run.as_left, _LEFT, "s", "as left"),
        )
        if phase
    ]
    handles.append(Patch(color=_BAND, alpha=0.25, label="systematic limit"))
    axes.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False, ncols=3)
    return _png(figure)


def depth_fit_png(run: CalibrationRun) -> bytes:
    """Gauge reading − set depth against set depth: the points as found and as left, the as-found fit."""
    figure, axes = _figure()
    band = metrology.DEPTH_LIMIT_UM
    depths = sorted({s.nominal for s in (*run.as_found, *run.as_left)})
    low, high = depths[0] / 1000 - 0.2, depths[-1] / 1000 + 0.2
    axes.fill_between([low, high], -band, band, color=_BAND, alpha=0.12, linewidth=0, zorder=0)
    for phase, colour, marker, name in ((run.as_found, _FOUND, "o", "as found"), (run.as_left, _LEFT, "s", "as left")):
        if not phase:
            continue
        xs = [s.nominal / 1000 for s in phase for _ in s.values]
        ys = [value - s.nominal for s in phase for value in s.values]
        axes.scatter(xs, ys, s=10, color=colour, marker=marker, alpha=0.75, linewidths=0, label=name, zorder=3)
        if len({s.nominal for s in phase}) >= 2:
            fit = metrology.fit_depth_series(phase)
            line_x = [low, high]
            line_y = [(fit.gain - 1) * x * 1000 + fit.offset_um for x in line_x]
            axes.plot(
                line_x,
                line_y,
                color=colour,
                linewidth=1.1,
                label=f"fit {name}: gain {fit.gain:.4f}, offset {fit.offset_um:+.1f} µm",
            )
    axes.axhline(0, color="#374151", linewidth=0.8)
    axes.set_xlim(low, high)
    axes.set_xlabel("set depth (mm)", fontsize=8)
    axes.set_ylabel("gauge − set (µm)", fontsize=8)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, ncols=2)
    return _png(figure)


def _jitter(centre: float, count: int) -> Sequence[float]:
    """``count`` x positions spread evenly around ``centre`` (readings side by side, not on top of each other)."""
    if count <= 1:
        return [centre]
    width = 0.1
    return [centre - width + 2 * width * index / (count - 1) for index in range(count)]


FIGURES = {"deviation": deviation_png, "depth fit": depth_fit_png}
"""The figures by the name :class:`~mesogun.calibration.certificate.content.Certificate` lists them under."""
