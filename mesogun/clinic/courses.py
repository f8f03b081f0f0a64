"""Courses of treatment: an indication, sessions planned every so many days (typically 3-6, some protocols up to
15, every 1-4 weeks, then maintenance every 3-6 months). The checks of a course's values and the next session's
date; pure (the caller gives the dates)."""

from __future__ import annotations

from datetime import date, timedelta

from mesogun.clinic.errors import ClinicError
from mesogun.i18n import N_
from mesogun.wording import Word, Wording, shown

PLANNED_SESSIONS = range(1, 51)
"""How many sessions a course may plan."""

INTERVAL_DAYS = range(1, 366)
"""Days between sessions a course may plan (up to a year: maintenance)."""

TEXT_MAX = 200
"""The longest indication, characters."""


def check_course(indication: str, planned_sessions: int, interval_days: int) -> str:
    """The indication, stripped, once the values are checked; each refusal names its field."""
    if not isinstance(indication, str) or not indication.strip() or len(indication) > TEXT_MAX or "\n" in indication:
        raise ClinicError(
            Wording(
                N_("{field} must be one non-blank line of at most {limit} characters (got {value})"),
                field="indication",
                limit=TEXT_MAX,
                value=repr(indication),
            ),
            field="indication",
            value=indication,
        )
    for field, value, allowed, unit in (
        ("planned_sessions", planned_sessions, PLANNED_SESSIONS, Word("sessions", N_("sessions"))),
        ("interval_days", interval_days, INTERVAL_DAYS, Word("days", N_("days"))),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
            raise ClinicError(
                Wording(
                    N_("{field}={value} is outside {low}-{high} {unit}"),
                    field=field,
                    value=shown(value),
                    low=allowed.start,
                    high=allowed.stop - 1,
                    unit=unit,
                ),
                field=field,
                value=value,
            )
    return indication.strip()


def next_session(session_day: date, session_number: int, planned_sessions: int, interval_days: int) -> date | None:
    """The suggested day of the session after session ``session_number`` (1-based) held on ``session_day``:
    ``interval_days`` later, or ``None`` once the planned sessions are done."""
    if session_number >= planned_sessions:
        return None
    return session_day + timedelta(days=interval_days)
