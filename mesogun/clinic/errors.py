"""The clinic's refusals, codes ``MG700`` upward: bad input to the clinical workflow, each naming its field and value.

They are :class:`~mesogun.errors.ParameterError` subclasses (exit 2: nothing changed), but for a sign-off by a user
without the practitioner role, an :class:`~mesogun.errors.AccessDenied` (exit 3). The codes are registered in
:func:`mesogun.errors.error_class_for_code`, so a client of the service raises the same class.
"""

from __future__ import annotations

from mesogun.errors import AccessDenied, ParameterError
from mesogun.wording import Wording


class ClinicError(ParameterError):
    """Bad input to the clinical workflow (a value the clinic's rules refuse); nothing changed."""

    code = "MG700"


class UnknownZone(ClinicError):
    """A treatment zone that is not in the catalog (:mod:`mesogun.clinic.zones`); the message lists near ones."""

    code = "MG701"


class UnknownPreset(ClinicError):
    """A preset that is neither built in nor defined by the clinic."""

    code = "MG702"


class ChecklistIncomplete(ClinicError):
    """A pre-treatment checklist item left unanswered, or an answer to an item the checklist does not have."""

    code = "MG703"


class ContraindicationPresent(ClinicError):
    """A contraindication answered present: the session starts only with an override and its reason."""

    code = "MG704"


class LotExpired(ClinicError):
    """A product lot past its expiry date: never used."""

    code = "MG705"


class ReasonRequired(ClinicError):
    """An override (or an erasure, a correction) without a reason: the record keeps why, so one is needed."""

    code = "MG706"


class SoftLimitExceeded(ClinicError):
    """A value beyond a preset's or a mode's soft limit, not overridden (override it with a reason)."""

    code = "MG707"


class NoSuchPatient(ClinicError):
    """No patient of that id or pseudonym in the record."""

    code = "MG710"


class NoSuchCourse(ClinicError):
    """No course of that id in the record (or not the patient's, or closed)."""

    code = "MG711"


class NoSuchLot(ClinicError):
    """No product lot of that id in the record."""

    code = "MG712"


class DuplicateEntry(ClinicError):
    """A pseudonym, product, lot number or preset name the record holds already."""

    code = "MG713"


class VisitNotTreatment(ClinicError):
    """The visit is not an open treatment session (closed, signed off, or opened without a patient)."""

    code = "MG714"


class RoleRequired(AccessDenied):
    """The user lacks the role the action needs (a sign-off needs the practitioner role); nothing changed."""

    code = "MG720"

    def __init__(self, message: str | Wording, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


CLINIC_ERRORS: tuple[type[ParameterError | AccessDenied], ...] = (
    ClinicError,
    UnknownZone,
    UnknownPreset,
    ChecklistIncomplete,
    ContraindicationPresent,
    LotExpired,
    ReasonRequired,
    SoftLimitExceeded,
    NoSuchPatient,
    NoSuchCourse,
    NoSuchLot,
    DuplicateEntry,
    VisitNotTreatment,
    RoleRequired,
)
"""Every class here, for :func:`mesogun.errors.error_class_for_code`."""
