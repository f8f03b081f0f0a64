"""What a calibration certificate says, worded once from a :class:`~mesogun.calibration.results.CalibrationRun`:
titled sections of fields and tables in the reports' vocabulary (:mod:`mesogun.reports.content`), every value
already formatted with its unit. Pure: no PDF library, no plotting, no clock.

A failed or aborted run says so first (the banner) and why; a run nobody signed says NOT SIGNED.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mesogun.calibration import metrology
from mesogun.calibration.results import (
    CalibrationKind,
    CalibrationRun,
    ConstantsSnapshot,
    InstrumentIdentity,
    Limits,
    RunOutcome,
    SeriesResult,
)
from mesogun.reports.content import NONE, NOT_SIGNED, Field, Section, Signature, Table

TITLE = "Calibration certificate"
DEFAULT_ISSUER = "Calibration laboratory"
KIND_TITLES = {
    CalibrationKind.VOLUME: "delivered volume",
    CalibrationKind.DEPTH: "needle depth",
    CalibrationKind.RATE: "firing rate",
}


@dataclass(frozen=True)
class Banner:
    """The verdict at the top: PASSED, FAILED or ABORTED, and why (``alert``: shown in red)."""

    headline: str
    detail: str
    alert: bool


@dataclass(frozen=True)
class Certificate:
    """The certificate's content in reading order; ``plots`` the figures the PDF draws (``"deviation"``,
    ``"depth fit"``), placed after the results."""

    issuer: str
    title: str
    reference: str
    """The certificate id, or the run id when none was issued (every page's footer)."""
    device: str
    banner: Banner
    head: tuple[Field, ...]
    sections_before_plots: tuple[Section, ...]
    plots: tuple[str, ...]
    sections_after_plots: tuple[Section, ...]
    signature: Signature
    footnote: str


# --- formatting ----------------------------------------------------------------------------------------------


def moment(value: datetime | None) -> str:
    """A time as ``2026-03-02 09:15 UTC`` (``—`` when none)."""
    if value is None:
        return NONE
    offset = value.utcoffset()
    zone = " UTC" if offset is not None and offset.total_seconds() == 0 else value.strftime(" %z")
    return value.strftime("%Y-%m-%d %H:%M") + zone


def signed(value: float, decimals: int) -> str:
    """A signed number (a typographic minus): ``+0.596``, ``−1.20``; ``0.00`` when it rounds to zero."""
    text = f"{value:+.{decimals}f}"
    if float(text) == 0:
        return f"{0:.{decimals}f}"
    return text.replace("-", "−")


def significant(value: float, decimals: int, digits: int = 2) -> str:
    """``value`` to ``decimals`` places, or more when that would show fewer than ``digits`` significant digits
    (an uncertainty of 0.00004 Hz is not "0.0000")."""
    if value > 0 and math.isfinite(value):
        decimals = max(decimals, digits - 1 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}"


def decimals_for(step: float) -> int:
    """How many decimals show a value read to ``step`` (0.01 → 2, 1 → 0)."""
    if step <= 0 or not math.isfinite(step):
        return 3
    return max(0, math.ceil(-math.log10(step) - 1e-9))


_UNIT_DECIMALS = {"µL": 3, "µm": 1, "Hz": 4}


def quantity(value: float, unit: str, decimals: int | None = None) -> str:
    places = _UNIT_DECIMALS.get(unit, 3) if decimals is None else decimals
    return f"{value:.{places}f} {unit}"


def limits_text(limits: Limits, unit: str) -> str:
    """``±1.00 % / 0.50 %`` (systematic / random), ``±50 µm``."""
    parts = []
    if limits.systematic_pct is not None:
        parts.append(f"±{limits.systematic_pct:.2f}\u00a0%")
    if limits.systematic_abs is not None:
        parts.append(f"±{limits.systematic_abs:g}\u00a0{unit}")
    if limits.random_pct is not None:
        parts.append(f"{limits.random_pct:.2f}\u00a0%")
    return " / ".join(parts) or NONE


def point_label(series: SeriesResult) -> str:
    """A test point as a reader names it: ``20 µL``, ``2.0 mm``, ``2 shots/s``."""
    if series.unit == "µm":
        return f"{series.nominal / 1000:.2f} mm"
    if series.unit == "Hz":
        return f"{series.nominal:g} shots/s"
    return f"{series.nominal:g} {series.unit}"


def _raw_decimals(run: CalibrationRun, series: SeriesResult) -> int:
    if series.raw_unit == "mg" and run.balance is not None:
        step_mg = run.balance.readability * (1000.0 if run.balance.readability_unit == "g" else 1.0)
        return decimals_for(step_mg)
    if series.raw_unit == "µm" and run.balance is not None:
        return decimals_for(run.balance.readability)
    return {"mg": 3, "µm": 0, "s": 3}.get(series.raw_unit, 3)


# --- the certificate -------------------------------------------------------------------------------------------


def certificate(run: CalibrationRun, *, issuer: str = DEFAULT_ISSUER) -> Certificate:
    """Everything the certificate of ``run`` says, in reading order."""
    measured = bool(run.as_found or run.as_left)
    plots: tuple[str, ...] = ()
    if measured:
        plots = ("deviation", "depth fit") if run.kind is CalibrationKind.DEPTH and run.as_found else ("deviation",)
    return Certificate(
        issuer=issuer,
        title=f"{TITLE}: {KIND_TITLES[run.kind]}",
        reference=run.certificate_id or run.run_id,
        device=run.device_serial,
        banner=banner(run),
        head=(
            Field("Certificate", run.certificate_id or f"{NONE} (none issued: the run {run.outcome.value})"),
            Field("Run", run.run_id),
            Field("Started", moment(run.started_at)),
            Field("Finished", moment(run.finished_at)),
            Field("Technician", run.technician),
        ),
        sections_before_plots=(
            _device(run),
            _references(run),
            _environment(run),
            _method(run),
            _results(run),
        ),
        plots=plots,
        sections_after_plots=(
            *_depth_fit(run),
            _uncertainty(run),
            _constants(run),
            _validity(run),
            *_raw(run),
        ),
        signature=_signature(run),
        footnote=(
            "Limits are judged on the measured statistics without a guard band; each mean is given with its "
            "expanded uncertainty U (k = 2, about 95 %). docs/calibration.md gives the formulas."
        ),
    )


def banner(run: CalibrationRun) -> Banner:
    """The verdict and, for a failed or aborted run, why."""
    if run.outcome is RunOutcome.PASSED:
        left = len(run.as_left)
        return Banner("PASSED", f"As left, all {left} test point{'s' if left != 1 else ''} within limits.", False)
    if run.outcome is RunOutcome.FAILED:
        failing = [point_label(s) for s in run.as_left if not s.passed] or [point_label(s) for s in run.as_found]
        why = run.reason or f"outside limits at {', '.join(failing)}"
        return Banner("FAILED", f"{why[0].upper()}{why[1:]}.".replace("..", "."), True)
    why = run.reason or "the run was stopped before its end"
    kept = "" if run.constants_after is not None else " Nothing was written to the device."
    return Banner("ABORTED", f"{why[0].upper()}{why[1:]}.".replace("..", ".") + kept, True)


def _device(run: CalibrationRun) -> Section:
    fields = [
        Field("Serial number", run.device_serial),
        Field("Model", run.device_model),
        Field("Firmware", run.firmware_version),
    ]
    if run.kind is CalibrationKind.VOLUME:
        fields.append(Field("Syringe brand", run.syringe_brand or "unknown (the device uses gain 1.0)"))
    before = run.constants_before.calibration_id if run.constants_before is not None else None
    after = run.constants_after.calibration_id if run.constants_after is not None else None
    fields.append(Field("Calibration id", _id_change(before, after)))
    return Section("Device", fields=tuple(fields))


def _id_change(before: int | None, after: int | None) -> str:
    def named(value: int | None) -> str:
        return NONE if value is None else (f"{value} (factory)" if value == 0 else str(value))

    if after is None:
        return f"{named(before)}, unchanged"
    return f"{named(before)} → {named(after)}"


def _instrument(item: InstrumentIdentity, at: datetime) -> tuple[Field, ...]:
    due = item.calibration_due
    overdue = due is not None and due < at.date()
    return (
        Field(item.kind.capitalize(), f"{item.model}, serial {item.serial_number}"),
        Field("Firmware", item.firmware or NONE),
        Field("Readability", _readability(item)),
        Field(
            "Its calibration due",
            NONE if due is None else (f"{due.isoformat()} (OVERDUE at the run)" if overdue else due.isoformat()),
            alert=overdue or due is None,
        ),
    )


def _readability(item: InstrumentIdentity) -> str:
    """A balance's readability in mg when it is finer than a milligram (``0.01 mg``, not ``1e-05 g``)."""
    if item.readability_unit == "g" and item.readability < 0.001:
        return f"{item.readability * 1000:.{decimals_for(item.readability * 1000)}f} mg"
    return f"{item.readability:g} {item.readability_unit}"


def _references(run: CalibrationRun) -> Section:
    fields: list[Field] = []
    if run.balance is not None:
        fields.extend(_instrument(run.balance, run.started_at))
    if run.kind is CalibrationKind.RATE:
        fields.append(Field("Time base", "the host's clock (shot arrival times), not the device's"))
    fields.append(Field("Other references", run.reference or NONE))
    return Section("Reference instruments", fields=tuple(fields))


def _environment(run: CalibrationRun) -> Section:
    if run.environment is None:
        return Section("Environment", empty="Not recorded." if run.kind is not CalibrationKind.RATE else "Not needed.")
    env = run.environment
    fields = [
        Field("Temperature", f"{env.temperature_c:.1f} °C"),
        Field("Pressure", f"{env.pressure_hpa:.0f} hPa"),
        Field("Relative humidity", f"{env.humidity_pct:.0f} %"),
    ]
    if run.z_factor is not None:
        fields.append(Field("Z factor", f"{run.z_factor:.5f} µL/mg (ISO 8655-6)"))
    if run.kind is CalibrationKind.VOLUME:
        rate = run.evaporation_mg_per_s
        fields.append(
            Field(
                "Evaporation (blank)",
                "no blank taken" if rate is None else f"{rate * 1000:.3f} µg/s, added back to each weighing",
                alert=rate is None,
            )
        )
    return Section("Environment", fields=tuple(fields))


_METHODS = {
    CalibrationKind.VOLUME: (
        "Gravimetric, ISO 8655-6: the gun fires into a vessel on the balance; 10 weighings per test volume (nominal, "
        "50 % and 10 %), several shots per weighing below 10 µL.",
        "Each net mass has the evaporation of one weighing cycle added back (from a blank), is converted to volume "
        "with the Z factor and divided by its shots: µL per shot.",
        "Systematic error = mean − nominal; random error = the coefficient of variation (ISO 8655-6 §9).",
        "The correction: new volume gain = old gain × measured / nominal (least squares over the test points).",
    ),
    CalibrationKind.DEPTH: (
        "The device holds the needle extended at each set depth; the depth gauge reads the tip's position "
        "several times per depth.",
        "Least-squares line of the gauge readings against set depths: offset (µm) and gain.",
        "The correction: new gain = fitted gain × old gain; new offset = fitted offset + fitted gain × old offset.",
    ),
    CalibrationKind.RATE: (
        "The gun fires at each set rate for at least 60 s; the host timestamps each shot's arrival on its own "
        "clock (the device's clock runs at the device's rate error).",
        "The true rate is the least-squares slope of shot number against arrival time; the random error is the "
        "spread of the intervals.",
        "The correction: new rate gain = old gain × measured / set rate.",
    ),
}


def _method(run: CalibrationRun) -> Section:
    bounds = (
        f"Corrections outside the plausible {metrology.GAIN_BOUNDS[0]:.2f}–{metrology.GAIN_BOUNDS[1]:.2f} (gain) "
        f"or ±{metrology.OFFSET_LIMIT_UM} µm (offset) are refused and not written."
    )
    return Section("Method", lines=(*_METHODS[run.kind], bounds, *run.notes))


_COLUMNS = {
    # kind: (heading, width in mm) of each numeric column between Point and Limits
    CalibrationKind.VOLUME: (
        ("n × shots", 14),
        ("Mean (µL)", 15),
        ("Syst. (µL)", 16),
        ("Syst. (%)", 13),
        ("CV (%)", 11),
        ("1-shot CV (%)", 14),
        ("U k=2 (µL)", 15),
    ),
    CalibrationKind.DEPTH: (
        ("n", 10),
        ("Mean (µm)", 20),
        ("Syst. (µm)", 20),
        ("SD (µm)", 18),
        ("U k=2 (µm)", 20),
    ),
    CalibrationKind.RATE: (
        ("Shots", 14),
        ("Mean (Hz)", 19),
        ("Syst. (%)", 17),
        ("CV (%)", 15),
        ("U k=2 (Hz)", 19),
    ),
}


def _cells(kind: CalibrationKind, item: SeriesResult) -> tuple[str, ...]:
    places = _UNIT_DECIMALS.get(item.unit, 3)
    mean = f"{item.mean:.{places}f}"
    uncertainty = significant(item.expanded_uncertainty, places)
    systematic = signed(item.systematic_error, places)
    percent = signed(item.systematic_pct, 2)
    if kind is CalibrationKind.DEPTH:
        return (str(len(item.readings)), mean, systematic, f"{item.random_sd:.{places}f}", uncertainty)
    if kind is CalibrationKind.RATE:
        return (str(len(item.readings)), mean, percent, f"{item.random_pct:.2f}", uncertainty)
    spread = NONE if item.single_shot_spread_pct is None else f"{item.single_shot_spread_pct:.2f}"
    shots = f"{len(item.readings)}×{item.shots_per_reading}"
    return (shots, mean, systematic, percent, f"{item.random_pct:.2f}", spread, uncertainty)


def _results_table(run: CalibrationRun) -> Table:
    rows: list[tuple[str, ...]] = []
    flagged: set[int] = set()
    for phase, series in (("as found", run.as_found), ("as left", run.as_left)):
        for item in series:
            if not item.passed:
                flagged.add(len(rows))
            verdict = "pass" if item.passed else "FAIL"
            rows.append(
                (phase, point_label(item), *_cells(run.kind, item), limits_text(item.limits, item.unit), verdict)
            )
    middle = _COLUMNS[run.kind]
    limits = "Limits (syst. / CV)" if run.kind is not CalibrationKind.DEPTH else "Limits"
    point = {CalibrationKind.RATE: 21, CalibrationKind.DEPTH: 17}.get(run.kind, 13)
    return Table(
        columns=("Run", "Point", *(c[0] for c in middle), limits, "Result"),
        rows=tuple(rows),
        widths=(18, point, *(c[1] for c in middle), 33, 14),
        numeric=(False, False, *(True for _ in middle), False, False),
        flagged=frozenset(flagged),
    )


def _results(run: CalibrationRun) -> Section:
    points_of: dict[str, list[str]] = {}  # each source with its test points, in the table's order
    for item in (*run.as_found, *run.as_left):
        if item.limits.source:
            points = points_of.setdefault(item.limits.source, [])
            if point_label(item) not in points:
                points.append(point_label(item))
    after = tuple(Field(f"Limits at {', '.join(points)} from", source) for source, points in points_of.items())
    return Section(
        "Results",
        table=_results_table(run),
        after=after,
        empty="No measurements were completed." if not (run.as_found or run.as_left) else "",
    )


def _depth_fit(run: CalibrationRun) -> tuple[Section, ...]:
    if run.kind is not CalibrationKind.DEPTH or len({s.nominal for s in run.as_found}) < 2:
        return ()
    fits = []
    for phase, series in (("as found", run.as_found), ("as left", run.as_left)):
        if len({s.nominal for s in series}) < 2:
            continue
        fit = metrology.fit_depth_series(series)
        fits.append(
            Field(
                f"Fit {phase}",
                f"measured = {fit.gain:.5f} × set {signed(fit.offset_um, 1)} µm; largest residual "
                f"{fit.max_residual_um:.1f} µm",
            )
        )
    return (Section("Depth fit", fields=tuple(fits)),)


def _uncertainty(run: CalibrationRun) -> Section:
    lines = {
        CalibrationKind.VOLUME: (
            "Repeatability: the readings' standard deviation / √n.",
            "Balance readability d: d / √6 per net weighing (two readings, rectangular).",
            "Evaporation: the blank's rate uncertainty × the weighing cycle time.",
            "Z factor: thermometer 0.2 °C and barometer 1 hPa (standard uncertainties) through the table, "
            "and the table's own 2·10⁻⁵ µL/mg.",
        ),
        CalibrationKind.DEPTH: (
            "Repeatability: the gauge readings' standard deviation / √n.",
            "Gauge resolution r: r / √12 (rectangular).",
        ),
        CalibrationKind.RATE: (
            "The least-squares slope's standard error (the shots' timing jitter).",
            "The host clock's resolution over the measured span.",
        ),
    }[run.kind]
    return Section(
        "Measurement uncertainty",
        lines=(*lines, "Combined to first order; expanded with k = 2 (the U column of the results)."),
    )


def _constants_rows(
    before: ConstantsSnapshot | None, after: ConstantsSnapshot
) -> tuple[list[tuple[str, ...]], set[int]]:
    brands = sorted({*(before.volume_gain_by_brand if before else {}), *after.volume_gain_by_brand})
    entries: list[tuple[str, str, str]] = []
    for brand in brands:
        old = NONE if before is None else f"{before.volume_gain(brand):.6f}"
        entries.append((f"Volume gain, {brand}", old, f"{after.volume_gain(brand):.6f}"))
    entries.extend(
        (
            (
                "Depth offset",
                NONE if before is None else f"{signed(before.depth_offset_um, 0)} µm",
                f"{signed(after.depth_offset_um, 0)} µm",
            ),
            ("Depth gain", NONE if before is None else f"{before.depth_gain:.6f}", f"{after.depth_gain:.6f}"),
            ("Rate gain", NONE if before is None else f"{before.rate_gain:.6f}", f"{after.rate_gain:.6f}"),
        )
    )
    rows: list[tuple[str, ...]] = []
    changed: set[int] = set()
    for name, old, new in entries:
        if old != new:
            changed.add(len(rows))
        rows.append((name, old, new, "changed" if old != new else "unchanged"))
    return rows, changed


def _constants(run: CalibrationRun) -> Section:
    if run.constants_after is None:
        kept = run.constants_before.calibration_id if run.constants_before is not None else None
        return Section(
            "Constants written to the device",
            empty=f"Nothing was written: the device keeps its calibration (id {NONE if kept is None else kept}).",
        )
    rows, changed = _constants_rows(run.constants_before, run.constants_after)
    return Section(
        "Constants written to the device",
        table=Table(
            ("Constant", "Before", "After", ""),
            tuple(rows),
            (3.0, 2.0, 2.0, 1.4),
            (False, True, True, False),
            flagged=frozenset(changed),
        ),
        after=(Field("Calibration id", _id_change(_id(run.constants_before), run.constants_after.calibration_id)),),
    )


def _id(constants: ConstantsSnapshot | None) -> int | None:
    return None if constants is None else constants.calibration_id


def _validity(run: CalibrationRun) -> Section:
    if run.outcome is RunOutcome.PASSED:
        due = Field("Next calibration due", moment(run.due_at)[:10] if run.due_at else NONE, alert=run.due_at is None)
        return Section("Validity", fields=(Field("Calibrated", moment(run.finished_at)), due))
    if run.outcome is RunOutcome.FAILED:
        words = "none: the gun is out of tolerance as left; repair or recalibrate it before use"
    else:
        kept = _id(run.constants_after) if run.constants_after is not None else _id(run.constants_before)
        words = (
            f"none issued: the run was aborted; the calibration in force (id {NONE if kept is None else kept}) stands"
        )
    return Section("Validity", fields=(Field("Next calibration due", words, alert=True),))


def _raw(run: CalibrationRun) -> tuple[Section, ...]:
    sections: list[Section] = []
    for phase, series in (("as found", run.as_found), ("as left", run.as_left)):
        if not series:
            continue
        if run.kind is CalibrationKind.RATE:
            sections.extend(_arrivals(phase, item) for item in series)
        else:
            sections.append(_readings(run, phase, series))
    return tuple(sections)


def _readings(run: CalibrationRun, phase: str, series: Sequence[SeriesResult]) -> Section:
    same = all(s.raw_unit == s.unit for s in series)
    columns: list[str] = ["#"]
    for item in series:
        columns.append(f"{point_label(item)}: {item.raw_unit}")
        if not same:
            columns.append(f"per shot, {item.unit}")
    rows = []
    for index in range(max(len(s.readings) for s in series)):
        row = [str(index + 1)]
        for item in series:
            if index < len(item.readings):
                row.append(f"{item.readings[index]:.{_raw_decimals(run, item)}f}")
                if not same:
                    row.append(f"{item.values[index]:.{_UNIT_DECIMALS.get(item.unit, 3) + 1}f}")
            else:
                row.extend([""] if same else ["", ""])
        rows.append(tuple(row))
    width = len(columns) - 1
    return Section(
        f"Raw readings, {phase}",
        table=Table(tuple(columns), tuple(rows), (0.6, *([2.0] * width)), (True,) * len(columns)),
        lines=() if same else ("Per shot: with evaporation added back, × Z, ÷ shots per reading.",),
    )


def _arrivals(phase: str, item: SeriesResult) -> Section:
    per_row = 10
    times = item.readings
    rows = tuple(
        (str(start + 1), *(f"{t - times[0]:.3f}" for t in times[start : start + per_row]))
        + ("",) * (per_row - len(times[start : start + per_row]))
        for start in range(0, len(times), per_row)
    )
    return Section(
        f"Shot arrivals, {phase}, {point_label(item)} (s after the first)",
        fields=(
            Field("Shots", str(len(times))),
            Field("Span", f"{times[-1] - times[0]:.3f} s"),
            Field("Measured rate", quantity(item.mean, item.unit)),
        ),
        table=Table(
            ("from #", *(f"+{n}" for n in range(per_row))), rows, (0.8, *([1.0] * per_row)), (True,) * (per_row + 1)
        ),
    )


def _signature(run: CalibrationRun) -> Signature:
    if run.signature is None:
        return Signature(
            signed=False,
            headline=NOT_SIGNED,
            fields=(),
            statement="The technician has not signed this certificate; it is not a signed record.",
        )
    signature = run.signature
    return Signature(
        signed=True,
        headline="Signed",
        fields=(
            Field("Signed by", signature.signer),
            Field("Signed at", moment(signature.signed_at)),
            Field("Meaning", signature.meaning),
        ),
        statement=(
            f"Electronically signed by {signature.signer}; the signature's name, time and meaning are part of "
            "the record (21 CFR 11.50)."
        ),
    )
