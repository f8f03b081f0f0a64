"""The clinic's MG7xx errors come back from a service reply as the same classes, with their field and value."""

from __future__ import annotations

from mesogun.clinic.errors import CLINIC_ERRORS, RoleRequired, UnknownZone
from mesogun.errors import ParameterError, error_class_for_code, error_from_reply


def test_each_clinic_code_maps_to_its_class_and_an_unknown_one_to_a_parameter_error() -> None:
    assert len({cls.code for cls in CLINIC_ERRORS}) == len(CLINIC_ERRORS)
    assert all(error_class_for_code(cls.code) is cls for cls in CLINIC_ERRORS)
    assert error_class_for_code("MG799") is ParameterError


def test_a_reply_keeps_field_and_value() -> None:
    error = error_from_reply("MG701", "zone 'x' is not a treatment zone", field="zone", value="x")
    assert isinstance(error, UnknownZone) and (error.field, error.value, error.exit_code) == ("zone", "x", 2)
    denied = error_from_reply("MG720", "sign-off needs the practitioner role", field="actor.roles")
    assert isinstance(denied, RoleRequired) and denied.exit_code == 3 and denied.field == "actor.roles"
