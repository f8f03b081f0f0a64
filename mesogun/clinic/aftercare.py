"""The aftercare advice a patient is given after a session, one line each: the issue's defaults, which a
practitioner may add to or replace when entering what was given (the record keeps the lines as given)."""

from __future__ import annotations

from collections.abc import Iterable

from mesogun.clinic.errors import ClinicError

DEFAULT_ADVICE: tuple[str, ...] = (
    "Keep the treated area clean and moisturised.",
    "Wear SPF 30+ sunscreen, even on cloudy days.",
    "No make-up right after the treatment.",
    "Stay hydrated.",
    "Avoid sun and strenuous activity for 24-48 hours.",
    "Postpone other procedures on the area.",
)
"""The aftercare given unless the practitioner says otherwise."""

LINE_MAX = 500
"""The longest advice line, characters."""


def advice(lines: Iterable[str] | None = None) -> tuple[str, ...]:
    """The advice lines to keep: ``lines`` stripped of blanks (the defaults if ``None``); refused (field
    ``aftercare``) if none is left or one is longer than :data:`LINE_MAX`."""
    kept = DEFAULT_ADVICE if lines is None else tuple(line.strip() for line in lines if line.strip())
    if not kept:
        raise ClinicError("aftercare needs at least one line of advice", field="aftercare", value=[])
    for line in kept:
        if len(line) > LINE_MAX or "\n" in line:
            raise ClinicError(
                f"an aftercare line is one line of at most {LINE_MAX} characters (got {len(line)})",
                field="aftercare",
                value=line[:40],
            )
    return kept
