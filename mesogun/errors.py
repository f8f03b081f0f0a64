"""The one exception hierarchy of the host, with error codes and CLI exit codes.

Every exception a user of :mod:`mesogun` can see derives from :class:`MesogunError`. Each class has a
stable ``code`` (for logs and support) and the process ``exit_code`` the CLI uses for it:
0 success, 2 bad usage or a value out of range, 3 refused by the device (nak), 4 link failure or
timeout, 5 device alarm.
"""

from __future__ import annotations

from firmware_protocol import NakCode


class MesogunError(Exception):
    """Base of every host error."""

    code = "MG000"
    exit_code = 1


class ParameterError(MesogunError, ValueError):
    """A value is out of range or malformed; raised before anything is sent, so nothing changed.

    Example: ``configure(depth_mm=4.05)`` on a device whose range is 1.0–4.0 mm gives
    "depth_mm=4.05 is outside the device's range 1.0–4.0 mm".
    """

    code = "MG100"
    exit_code = 2

    def __init__(self, message: str, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class StateError(MesogunError):
    """The host's state machine does not allow this command now (e.g. ``fire()`` while not armed).

    Nothing was sent. The message names the current state and what the command needs.
    """

    code = "MG200"
    exit_code = 3


class DeviceRefused(MesogunError):
    """The device answered a command with a ``nak``; the command changed nothing on the device.

    ``nak_code`` is the device's :class:`~firmware_protocol.NakCode`; ``detail`` its one-line reason.
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
    """The device speaks another protocol version or catalog: the message names both sides' versions."""

    code = "MG301"

    def __init__(self, message: str) -> None:
        MesogunError.__init__(self, message)
        self.command = "hello"
        self.nak_code = NakCode.INCOMPATIBLE_VERSION
        self.detail = message


class LinkError(MesogunError):
    """The link to the device failed: no answer after all retries, port gone, connection closed.

    Example: the USB cable was pulled mid-burst; a command got no ack after 3 retries.
    """

    code = "MG400"
    exit_code = 4


class LinkTimeout(LinkError):
    """A command got no reply within its timeout after every retry (each reusing the same seq)."""

    code = "MG401"


class ConnectionLost(LinkError):
    """The transport closed or the device fell silent past the link's silence timeout."""

    code = "MG402"


class DeviceAlarm(MesogunError):
    """The device raised an alarm that stopped what was asked (occlusion, empty syringe, …).

    ``alarm`` is the :class:`~firmware_protocol.AlarmCode`.
    """

    code = "MG500"
    exit_code = 5
