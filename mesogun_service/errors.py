"""The service's errors and how every error becomes one HTTP reply: a 4xx or 5xx with one JSON body
``{"error": {"code", "kind", "message", "field", "value", "hint"}}`` (see docs/service.md, "Errors").

The ``code`` of a :class:`~mesogun.errors.MesogunError` is the Python API's, so a client (the CLI) raises the
same exception class and exits with the same exit code as without a service."""

from __future__ import annotations

from typing import Any

from mesogun.clinic.errors import (
    ContraindicationPresent,
    DuplicateEntry,
    NoSuchCourse,
    NoSuchLot,
    NoSuchPatient,
    SoftLimitExceeded,
    VisitNotTreatment,
)
from mesogun.errors import (
    AccessDenied,
    ConnectionLost,
    DeviceAlarm,
    DeviceRefused,
    LinkError,
    LinkTimeout,
    MesogunError,
    ParameterError,
    RecordError,
    StateError,
)
from mesogun.record.calibrations import NoSuchCalibration
from mesogun.record.visits import NoSuchVisit, VisitAlreadyOpen

ROUTE_OF_ACTION = {
    "clear_alarm": "clear",
    "emergency_stop": "emergency-stop",
    "load_syringe": "syringe",
    "set_burst_count": "burst-count",
    "refresh_status": "status?refresh=true",
}
"""Gun method names (in hints) whose route differs from the name."""

PHRASE_OF_ACTION = {
    "list_zones": "GET /zones",
    "override_soft_limit": "send override_reason with the request",
}
"""Actions (in hints) that are no gun's route, as an HTTP client is told them."""


class ServiceError(MesogunError):
    """An error of the service itself (not of a gun); ``status`` is its HTTP status."""

    code = "MG900"
    kind = "bad_request"
    status = 400
    exit_code = 2


class NotFound(ServiceError):
    """No such gun, visit, session or route."""

    code = "MG904"
    kind = "not_found"
    status = 404


class NotConnected(ServiceError, ConnectionLost):
    """The service owns the gun but is not connected to it now (unplugged, powered off): it keeps trying."""

    code = "MG406"
    kind = "not_connected"
    status = 503
    exit_code = 4


class NoAttendedClient(ServiceError, StateError):
    """Arming needs a live attended client (a tablet or CLI session sending heartbeats)."""

    code = "MG210"
    kind = "no_attended_client"
    status = 409
    exit_code = 3


class TooLarge(ServiceError):
    """A request body over the limit."""

    code = "MG913"
    kind = "too_large"
    status = 413


def http_status(error: MesogunError) -> int:
    """The HTTP status a :class:`MesogunError` is answered with."""
    if isinstance(error, ServiceError):
        return error.status
    if isinstance(error, AccessDenied):
        return 403  # the clinic's RoleRequired (a sign-off by an assistant): signed in, not allowed
    if isinstance(error, (NoSuchVisit, NoSuchPatient, NoSuchCourse, NoSuchLot, NoSuchCalibration)):
        return 404
    if isinstance(error, (DuplicateEntry, VisitNotTreatment, SoftLimitExceeded, ContraindicationPresent)):
        return 409  # the record holds it already, the session is closed, an override (with its reason) is needed
    if isinstance(error, ParameterError):
        return 422
    if isinstance(error, (StateError, DeviceRefused, DeviceAlarm, VisitAlreadyOpen)):
        return 409
    if isinstance(error, LinkTimeout):
        return 504
    if isinstance(error, (LinkError, RecordError)):
        return 503
    if error.exit_code == 2:  # bad input of a family without a ParameterError base (a firmware image's checks)
        return 422
    return 500


def kind_of(error: MesogunError) -> str:
    """A stable snake_case name of the error's class (``parameter_error``, ``state_error``, …)."""
    kind = getattr(error, "kind", None)
    if isinstance(kind, str):
        return kind
    name = type(error).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def error_body(error: MesogunError, serial: str | None = None) -> dict[str, Any]:
    """The JSON body for ``error``; its hint names routes (``POST /guns/SIM0001/clear``) instead of methods."""

    def route(action: str) -> str:
        if action in PHRASE_OF_ACTION:
            return PHRASE_OF_ACTION[action]
        path = ROUTE_OF_ACTION.get(action, action).replace("_", "-")
        verb = "GET" if path.startswith("status") else "POST"
        return f"{verb} /guns/{serial or '{serial}'}/{path}"

    body: dict[str, Any] = {
        "code": error.code,
        "kind": kind_of(error),
        "message": str(error.args[0]) if error.args else str(error),
        "field": getattr(error, "field", None) or None,
        "value": _json_value(getattr(error, "value", None)),
        "hint": error.hint.render(route) if error.hint is not None else None,
    }
    if error.hint is not None:  # the hint unrendered, for a client to say it in its own words (the CLI's commands)
        body["hint_parts"] = {"text": error.hint.text, "actions": list(error.hint.actions)}
    if isinstance(error, StateError):
        body["state"] = error.state or None
        body["reason"] = error.reason or None
    if isinstance(error, DeviceRefused):
        body["nak"] = error.nak_code.json_name
    if isinstance(error, DeviceAlarm):
        body["alarm"] = error.alarm.json_name if error.alarm is not None else None
        body["fired"] = error.fired
    return {"error": body}


def _json_value(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
