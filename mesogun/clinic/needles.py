"""Needles: gauge and length, and the reminder to change one after so many shots (a blunt needle hurts and tears).
Pure: the caller counts the shots since the needle was changed (the record does: the visit's ``needle_changed``)."""

from __future__ import annotations

from dataclasses import dataclass

from mesogun.clinic.errors import ClinicError
from mesogun.i18n import N_
from mesogun.wording import Number, Worded, Wording, shown

DEFAULT_CHANGE_AFTER_SHOTS = 500
"""Shots after which a needle change is reminded, unless the clinic configures another count."""

GAUGES = range(18, 35)
"""The gauges a mesotherapy needle comes in (18G–34G; 30–32G is usual)."""

LENGTH_MM = (1.0, 25.0)
"""The needle lengths accepted, mm."""


@dataclass(frozen=True)
class Needle:
    """One needle: its gauge (G) and length (mm)."""

    gauge: int
    length_mm: float

    def __str__(self) -> str:
        return f"{self.gauge}G {self.length_mm:g} mm"


def needle(gauge: int, length_mm: float) -> Needle:
    """A checked :class:`Needle`; refused naming ``needle.gauge`` or ``needle.length_mm`` if outside the ranges."""
    if not isinstance(gauge, int) or isinstance(gauge, bool) or gauge not in GAUGES:
        raise ClinicError(
            Wording(
                N_("needle gauge {gauge} is outside {low}-{high} G"),
                gauge=shown(gauge),
                low=GAUGES.start,
                high=GAUGES.stop - 1,
            ),
            field="needle.gauge",
            value=gauge,
        )
    low, high = LENGTH_MM
    if not isinstance(length_mm, int | float) or not low <= length_mm <= high:
        raise ClinicError(
            Wording(
                N_("needle length {length} mm is outside {low}-{high} mm"),
                length=shown(length_mm),
                low=Number(low, "g"),
                high=Number(high, "g"),
            ),
            field="needle.length_mm",
            value=length_mm,
        )
    return Needle(gauge, float(length_mm))


def change_reminder(shots_since_change: int, *, every: int = DEFAULT_CHANGE_AFTER_SHOTS) -> Worded | None:
    """The reminder to change the needle (one line, worded for the catalog) once ``shots_since_change`` reaches
    ``every``, else ``None``."""
    if every < 1:
        raise ClinicError(f"needle change count {every} must be at least 1", field="needle.change_after", value=every)
    if shots_since_change >= every:
        return Worded(
            Wording(
                N_("change the needle: {shots} shots since it was changed (reminded every {every})"),
                shots=shots_since_change,
                every=every,
            )
        )
    return None
