"""The one exception hierarchy of the host, with error codes and CLI exit codes.

Every exception a user of :mod:`mesogun` can see derives from :class:`MesogunError`. Each class has a
stable ``code`` (for logs and support) and the process ``exit_code`` the CLI uses for it:
0 success, 2 bad usage, a value out of range, a bad device URL or no such session, 3 refused by the device
(nak), 4 link failure or timeout, 5 device alarm, 6 treatment record unavailable.

A gun service answers an error with the code of the exception its :class:`~mesogun.Gun` raised;
:func:`error_from_reply` turns that code back into the same class (:func:`error_class_for_code`), so a client
of the service raises, and the CLI exits with, what it would without a service.

A raise site may word its message once as a catalog template with named fields (:class:`~mesogun.wording.Wording`):
``str(error)`` is the English the API and the CLI show, and :func:`mesogun.i18n.errors.refusal` says it in another
language (the tablet's).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from firmware_protocol import AlarmCode, NakCode
from mesogun.wording import Worded, Wording

if TYPE_CHECKING:
    from mesogun.models import FiredShots


def as_message(error: BaseException) -> str | Wording:
    """``error``'s message to give again (the cause of another error, or the same loss with another outcome): its
    :class:`Wording`, translated with it, when its raise site worded it and it has no hint; else its English text,
    as ``str(error)``."""
    if isinstance(error, MesogunError) and error.wording is not None and error.hint is None:
        return error.wording
    return str(error)


def worded_text(error: BaseException) -> str:
    """``error``'s message as text: :class:`~mesogun.wording.Worded` when its raise site worded it
    (:func:`as_message`), so a page can say it in its own language."""
    message = as_message(error)
    return Worded(message) if isinstance(message, Wording) else message


ActionRenderer = Callable[[str], str]
"""How an audience is told to take an action (a :class:`~mesogun.Gun` method name): the API says
``call clear_alarm()`` (:func:`as_call`), the CLI ``run 'mesogun clear'``."""


API_PHRASES: dict[str, str] = {
    "list_zones": "read mesogun.clinic.zones.CATALOG",
    "override_soft_limit": "pass an override reason",
}
"""Actions a hint can name that are no Gun method, in the API's language (the service and the CLI have their own)."""


def as_call(action: str) -> str:
    """An action in the API's language: ``call clear_alarm()`` (an action of :data:`API_PHRASES` as it says)."""
    return API_PHRASES.get(action) or f"call {action}()"


@dataclass(frozen=True)
class Hint:
    """What to do next, said once for every audience: ``text`` with ``{0}``, ``{1}``… where the ``actions``
    (Gun method names) go, each rendered by the audience's :data:`ActionRenderer`.

    Example: ``Hint("{0} once the cause is removed", ("clear_alarm",))`` reads "call clear_alarm() once the
    cause is removed" from the API and "run 'mesogun clear' once the cause is removed" from the CLI.
    """

    text: str
    actions: tuple[str, ...] = ()

    def render(self, action: ActionRenderer = as_call) -> str:
        """The hint with its actions in one audience's language."""
        return self.text.format(*(action(name) for name in self.actions))


class MesogunError(Exception):
    """Base of every host error.

    ``hint`` (if any) says what to do next; ``str(error)`` renders it in the API's language and
    :meth:`describe` in another audience's (the CLI's). The message (``args[0]``) is a string: English only, or
    :class:`~mesogun.wording.Worded` text keeping the :class:`Wording` its raise site worded for the catalog
    (:attr:`wording`).
    """

    code = "MG000"
    exit_code = 1
    hint: Hint | None = None

    def __init__(self, *args: object) -> None:
        # A worded message is kept as Worded text: ``args[0]`` and ``repr(error)`` stay the English string they were.
        super().__init__(*(Worded(arg) if isinstance(arg, Wording) else arg for arg in args))

    @property
    def wording(self) -> Wording | None:
        """The message as its raise site worded it for the catalog (``None``: a message in English only)."""
        message = self.args[0] if self.args else None
        return message.wording if isinstance(message, Worded) else None

    @property
    def template(self) -> str | None:
        """The catalog template of the message (``None``: a message in English only)."""
        return self.wording.template if self.wording is not None else None

    @property
    def values(self) -> Mapping[str, object]:
        """The values the template's fields are filled with (empty without a template)."""
        return self.wording.values if self.wording is not None else {}

    def describe(self, action: ActionRenderer = as_call) -> str:
        """The message, with the hint's actions rendered by ``action``."""
        message = str(self.args[0]) if self.args else ""
        if self.hint is None:
            return message
        return f"{message} ({self.hint.render(action)})" if message else self.hint.render(action)

    def __str__(self) -> str:
        return self.describe()


class ParameterError(MesogunError, ValueError):
    """A value is out of range or malformed; raised before anything is sent, so nothing changed.

    Example: ``configure(depth_mm=4.05)`` on a device whose range is 1.0–4.0 mm gives
    "depth_mm=4.05 is outside the device's range 1.0–4.0 mm".
    """

    code = "MG100"
    exit_code = 2

    def __init__(self, message: str | Wording, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class StateError(MesogunError):
    """The host's state machine does not allow this command now (e.g. ``fire()`` while not armed).

    Nothing was sent. The message names the current state and what the command needs; ``command`` is the
    refused command, ``state`` the gun's state (its name), ``reason`` why and ``hint`` what to do.
    Example: "fire needs the gun armed; it is ready (call arm() first)".
    """

    code = "MG200"
    exit_code = 3

    def __init__(
        self, message: str | Wording, *, command: str = "", state: str = "", reason: str = "", hint: Hint | None = None
    ) -> None:
        super().__init__(message)
        self.command = command
        self.state = state
        self.reason = reason
        """Why, without naming the command ("the gun is idle", "no syringe loaded"); empty if not given."""
        self.hint = hint


class DeviceRefused(MesogunError):
    """The device answered a command with a ``nak``; the command changed nothing on the device.

    ``nak_code`` is the device's :class:`~firmware_protocol.NakCode`; ``detail`` its one-line reason.
    Examples: ``arm()`` on a gun whose line is not primed (``not_primed``); ``prime()`` asking for more
    than the syringe holds (``insufficient_volume``); ``fire()`` while the depth motor moves (``busy``).
    """

    code = "MG300"
    exit_code = 3

    def __init__(self, command: str, nak_code: NakCode, detail: str = "") -> None:
        reason = f": {detail}" if detail else ""
        super().__init__(f"device refused {command} ({nak_code.json_name}){reason}")
        self.command = command
        self.nak_code = nak_code
        self.detail = detail


class IncompatibleDevice(DeviceRefused):
    """The device speaks another protocol version or catalog: the message names both sides' versions.

    Example: "device SIM0001 speaks protocol 1 with catalog fingerprint 0x12345678; this host speaks
    protocol 1 with catalog fingerprint 0x9ABCDEF0" (update the host or the firmware).
    """

    code = "MG301"

    def __init__(self, message: str | Wording) -> None:
        MesogunError.__init__(self, message)
        self.command = "hello"
        self.nak_code = NakCode.INCOMPATIBLE_VERSION
        self.detail = str(message)


def _no_shots() -> FiredShots:
    from mesogun.models import FiredShots  # models imports this module (through units): import it when used

    return FiredShots([], fired=0)


@dataclass(frozen=True)
class CommandOutcome:
    """What became of a command whose link failed: carried by the :class:`LinkTimeout` or :class:`ConnectionLost`
    it raised (``error.outcome``), and completed from the device by ``await gun.outcome_of(error)``.

    ``executed`` is True when the device carried the command out (its ack or one of its shots was seen, or the
    device shows it since), False when it is known not to have (nothing was sent, or after a reconnect the device's
    shot log holds no shot of this ``fire`` and its lifetime counter did not move), ``None`` while unknown.
    Example: ``fire(5)`` cut after 2 shots raises ``ConnectionLost`` with ``CommandOutcome("fire", 1234, True,
    shots=<2 shots>)``; after ``reconnect()``, ``outcome_of`` returns all 5 the device fired for seq 1234.
    """

    command: str
    """The command's wire name (``fire``, ``set_parameters`` for ``configure``, ``arm``…)."""
    seq: int | None
    """Its sequence number (each ``fire``'s shots carry it as ``fire_seq``); ``None`` if it never got one."""
    executed: bool | None
    shots: FiredShots = field(default_factory=_no_shots)
    """The shots the device fired for it that the host has (``shots.fired`` the count); empty but for ``fire``."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """The command's fields as sent (what the device's status is compared with)."""
    shots_before: int | None = None
    """``fire`` only: the device's lifetime shot count before it (its shots have higher indices)."""


class LinkError(MesogunError):
    """The link to the device failed: no answer after all retries, port gone, connection closed.

    Example: the USB cable was pulled mid-burst; a command got no ack after 3 retries. Raised from a command,
    ``outcome`` says what became of it (:class:`CommandOutcome`); ``None`` for a failure outside any command.
    """

    code = "MG400"
    exit_code = 4

    def __init__(self, message: str | Wording = "", *, outcome: CommandOutcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome

    def with_outcome(self, outcome: CommandOutcome) -> Self:
        """A copy of this error carrying ``outcome`` (one loss reaches many callers: each gets its own)."""
        twin = copy.copy(self)
        twin.outcome = outcome
        return twin


class LinkTimeout(LinkError):
    """A command got no reply within its timeout after every retry (each reusing the same seq).

    Example: "fire got no reply after 4 attempts of 0.25 s each (seq 1234)" on a line that lost every
    frame. Because retries reuse the seq, the device executed the command at most once; whether it did is
    ``outcome.executed`` (``None`` here: ask the device with ``await gun.outcome_of(error)``).
    """

    code = "MG401"

    def __init__(
        self,
        message: str | Wording = "",
        *,
        command: str = "",
        attempts: int = 0,
        timeout: float = 0.0,
        outcome: CommandOutcome | None = None,
    ) -> None:
        super().__init__(message, outcome=outcome)
        self.command = command
        self.attempts = attempts
        self.timeout = timeout


class ConnectionLost(LinkError):
    """The transport closed or the device fell silent past the link's silence timeout.

    Examples: the USB cable was pulled (pyserial's "device reports readiness to read but returned no
    data"); the TCP peer closed; no status for a second although the device sends one every 100 ms.
    Every command waiting for a reply, every ``fire()`` and every ``events()`` iterator get this error; one
    raised from a command carries its ``outcome`` (whether the device executed it, and ``fire``'s shots so far).
    """

    code = "MG402"


class PortNotFound(LinkError):
    """The port or URL could not be opened, or no port has the gun's serial number.

    Examples: ``connect("/dev/ttyACM9")`` with nothing plugged in; ``socket://127.0.0.1:1`` refused;
    a reconnect after an unplug while the gun is still away.
    """

    code = "MG403"


class ProtocolViolation(LinkError):
    """The device answered with something the protocol does not allow (e.g. ``ack`` to ``hello``).

    Example: a device whose firmware answers ``get_status`` with an ``ack``; the host stops trusting it.
    """

    code = "MG404"


class DeviceAlarm(MesogunError):
    """The device raised an alarm that stopped what was asked (occlusion, empty syringe, …).

    Examples: ``fire(count=10)`` when the line occludes after 5 shots (``alarm`` is
    ``AlarmCode.OCCLUSION`` and ``shots`` holds the 5 delivered); ``prime()`` when the syringe runs empty;
    the device's communication watchdog tripped because the host stopped sending.
    ``alarm`` is the :class:`~firmware_protocol.AlarmCode` (``None`` if the device only reported its
    alarm state); ``shots`` the shot records delivered before the alarm stopped the command, and ``fired`` the
    device's own count of the shots it fired for it (more than ``len(shots)`` when some shots' details were lost).
    """

    code = "MG500"
    exit_code = 5
    cause = ""
    """What stopped a firing command (an alarm's name, or the device's state), for :meth:`firing_stopped`."""

    def __init__(self, message: str | Wording, *, alarm: AlarmCode | None = None, shots: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.alarm = alarm
        self.shots: list[Any] = list(shots)
        self.fired = len(self.shots)

    @classmethod
    def firing_stopped(
        cls, cause: str, fired: int, count: int, *, alarm: AlarmCode | None, shots: Sequence[object]
    ) -> DeviceAlarm:
        """``firing stopped by occlusion after 5 of 30 shots``: ``fired`` is the device's count of the shots it
        fired for the command (``count`` 0: unlimited), ``shots`` those whose details the host has."""
        error = cls(
            f"firing stopped by {cause} after {fired} of {count or 'unlimited'} shots", alarm=alarm, shots=shots
        )
        error.fired = max(fired, len(error.shots))
        error.cause = cause
        return error


class ShotsNotReceived(UserWarning):
    """A warning: the device fired shots for a ``fire()`` whose details the host could not get.

    Example: "fire: the device fired 20 shots, the details of 2 were not received (their events were lost
    and the device's shot log no longer holds them)". The result (:class:`~mesogun.models.FiredShots`) holds
    the others; its ``fired`` is the device's count and ``unreceived`` the difference.
    """


class RecordError(MesogunError):
    """The treatment record cannot be opened or written (disk full, permissions, no such session).

    A host that cannot record must not fire: the record is part of the treatment.
    """

    code = "MG600"
    exit_code = 6


class NoSuchSession(RecordError):
    """The treatment record holds no session with this number (``record show --session 999``): a usage error (exit 2).

    Example: "no session 999 in the treatment record /home/u/.local/share/mesogun/treatment-record.sqlite
    (see 'mesogun record list')".
    """

    code = "MG601"
    exit_code = 2


class AuditChainBroken(RecordError):
    """The record's audit log does not verify (``mesogun record verify``): an entry was altered, inserted or deleted
    behind the program's back, or the log is not the one whose head was noted (``--expect-head``).

    Example: "the audit log is broken at entry 5 (visit.open at 2025-01-02T10:00:00.000+00:00): altered: its
    fields no longer give its hash".
    """

    code = "MG780"
    exit_code = 6


class ClinicalRecordMismatch(RecordError):
    """A clinical table does not hold what the audit log says (``mesogun record verify``): a row changed, inserted
    or deleted behind the program's back while the chain stayed whole.

    Example: "the clinical record does not match its audit log: overrides row 3, reason: the row holds "patient
    insisted", the audit log says "clinically indicated" (entry 12)".
    """

    code = "MG781"
    exit_code = 6


class ServiceUnreachable(LinkError):
    """No gun service answers at the URL a client was given or found (nothing listens, the socket is gone).

    Example: "no gun service answers at unix:///run/user/1000/mesogun/service.sock (given with --service): …".
    """

    code = "MG405"


class ServiceRequestError(MesogunError):
    """The gun service refused a request as malformed, too large, or naming a gun, visit, session or route it does
    not have (its other ``MG9xx`` codes): a usage error (exit 2); nothing changed."""

    code = "MG900"
    exit_code = 2


class AccessDenied(MesogunError):
    """The gun service refused a request for who is asking: not signed in, a role missing, locked out (its codes
    ``MG910``–``MG912``); nothing changed."""

    code = "MG910"
    exit_code = 3


_FAMILIES: tuple[tuple[str, type[MesogunError]], ...] = (
    ("MG1", ParameterError),
    ("MG2", StateError),
    ("MG3", DeviceRefused),
    ("MG4", LinkError),
    ("MG5", DeviceAlarm),
    ("MG6", RecordError),
    ("MG7", ParameterError),  # the clinic's refusals (mesogun.clinic.errors): bad input
    ("MG910", AccessDenied),  # unauthenticated
    ("MG911", AccessDenied),  # forbidden
    ("MG912", AccessDenied),  # locked out
    ("MG9", ServiceRequestError),
)
"""A code this host does not know (a newer service's) is taken as its family's base class: same exit code."""

_BY_KIND: dict[str, type[MesogunError]] = {"not_connected": ConnectionLost, "accounts_unavailable": RecordError}
"""Classes by the reply's ``kind`` where the code alone would say less: the service's ``not_connected``
(``MG406``) is a :class:`ConnectionLost`, not just a link error; its ``accounts_unavailable`` (``MG914``, a store
that cannot be opened) is no refusal of who asks but a store that failed, as the record can (exit 6)."""


def _known() -> dict[str, type[MesogunError]]:
    from mesogun.balance.errors import INSTRUMENT_ERRORS  # they import this module
    from mesogun.calibration.errors import CALIBRATION_ERRORS
    from mesogun.clinic.errors import CLINIC_ERRORS
    from mesogun.firmware.errors import FIRMWARE_ERRORS
    from mesogun.firmware.smp_errors import SMP_ERRORS
    from mesogun.record.calibrations import NoSuchCalibration
    from mesogun.record.visits import NoSuchVisit, VisitAlreadyOpen

    classes: tuple[type[MesogunError], ...] = (
        ParameterError,
        StateError,
        DeviceRefused,
        IncompatibleDevice,
        LinkError,
        LinkTimeout,
        ConnectionLost,
        PortNotFound,
        ProtocolViolation,
        ServiceUnreachable,
        DeviceAlarm,
        RecordError,
        NoSuchSession,
        AuditChainBroken,
        ClinicalRecordMismatch,
        NoSuchVisit,
        VisitAlreadyOpen,
        NoSuchCalibration,
        ServiceRequestError,
        AccessDenied,
        *CLINIC_ERRORS,
        *INSTRUMENT_ERRORS,
        *FIRMWARE_ERRORS,
        *SMP_ERRORS,
        *CALIBRATION_ERRORS,
    )
    return {cls.code: cls for cls in classes}


def error_class_for_code(code: str, kind: str | None = None) -> type[MesogunError]:
    """The exception class whose ``code`` is ``code`` (``MG100`` → :class:`ParameterError`); a code this host
    does not know maps to its family's base class (``MG2xx`` → :class:`StateError`, the clinic's ``MG7xx`` →
    :class:`ParameterError`, ``MG910``–``MG912`` → :class:`AccessDenied`, other ``MG9xx`` →
    :class:`ServiceRequestError`), anything else to :class:`MesogunError`. ``kind`` (a service reply's) settles a
    code the service uses with another meaning."""
    if kind is not None and kind in _BY_KIND:
        return _BY_KIND[kind]
    known = _known().get(code)
    if known is not None:
        return known
    for prefix, cls in _FAMILIES:
        if code.startswith(prefix):
            return cls
    return MesogunError


def error_from_reply(
    code: str,
    message: str,
    *,
    kind: str | None = None,
    field: str | None = None,
    value: object = None,
    hint: Hint | None = None,
    details: Mapping[str, Any] | None = None,
) -> MesogunError:
    """The exception a service's error reply stands for: the class of ``code`` with the reply's ``message``
    (as the Python API worded it), ``field`` and ``value``, ``hint``, and what ``details`` carry (``state`` and
    ``reason`` of a :class:`StateError`, ``nak`` of a :class:`DeviceRefused`, ``alarm`` and ``fired`` of a
    :class:`DeviceAlarm`). ``error.code`` is the reply's code even when the class is a family's base."""
    cls = error_class_for_code(code, kind)
    more = dict(details or {})
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.hint = hint
    attrs: dict[str, Any] = {"field": field or "", "value": value}
    if issubclass(cls, StateError):
        attrs |= {"command": "", "state": more.get("state") or "", "reason": more.get("reason") or ""}
    if issubclass(cls, DeviceRefused):
        nak = more.get("nak")
        nak_code = NakCode[nak.upper()] if isinstance(nak, str) and nak.upper() in NakCode.__members__ else None
        attrs |= {"command": "", "nak_code": nak_code, "detail": ""}
    if issubclass(cls, LinkError):
        attrs["outcome"] = None
    if issubclass(cls, LinkTimeout):
        attrs |= {"command": "", "attempts": 0, "timeout": 0.0}
    if issubclass(cls, DeviceAlarm):
        alarm = more.get("alarm")
        code_of_alarm = (
            AlarmCode[alarm.upper()] if isinstance(alarm, str) and alarm.upper() in AlarmCode.__members__ else None
        )
        fired = more.get("fired")
        attrs |= {"alarm": code_of_alarm, "shots": [], "fired": fired if isinstance(fired, int) else 0}
    vars(error).update(attrs)
    if code != cls.code:
        error.code = code  # an instance's own code: the reply's, under its family's class
    return error
