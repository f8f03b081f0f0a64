"""The calibration procedure's own errors (codes ``MG830`` upward), apart from the procedure so the host's table
of known codes (:func:`mesogun.errors.error_class_for_code`) knows them without importing the metrology."""

from __future__ import annotations

from mesogun.errors import MesogunError


class CalibrationRefused(MesogunError):
    """The procedure refused to go on: an overdue balance, a check weight outside its tolerance, too little
    liquid for the run. Nothing on the device changed."""

    code = "MG830"
    exit_code = 3


class CalibrationAborted(MesogunError):
    """The technician declined a step (or signing): the device keeps its old calibration, the run is recorded
    as aborted."""

    code = "MG831"
    exit_code = 130


class RunNotKept(MesogunError):
    """A passed run whose record could not be saved (the record unwritable, the service's re-authentication
    lapsed): its constants were written back to the old ones (the message says whether that worked) and the run
    became aborted. A calibration without its record is not one."""

    code = "MG832"
    exit_code = 6


CALIBRATION_ERRORS: tuple[type[MesogunError], ...] = (CalibrationRefused, CalibrationAborted, RunNotKept)
