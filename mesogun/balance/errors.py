"""The errors of the calibration instruments (the balance and the depth gauge), codes ``MG800`` upward.

Each says what the instrument reported and what a technician does about it. A bad URL or option is no instrument
error but a :class:`~mesogun.errors.ParameterError` (nothing was opened).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesogun.errors import MesogunError

if TYPE_CHECKING:
    from mesogun.balance.mtsics import Reading


class BalanceError(MesogunError):
    """The balance failed a command: it could not be opened, fell silent, disconnected, refused, or never settled."""

    code = "MG800"
    exit_code = 4

    def __init__(self, message: str, *, url: str = "", command: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.command = command
        """The MT-SICS command that failed (``S``, ``Z``…), ``""`` if none."""


class BalanceUnavailable(BalanceError):
    """The balance's port or URL does not open (unplugged, mistyped path, permissions, nothing listening)."""

    code = "MG801"


class BalanceDisconnected(BalanceError):
    """The balance's line closed or failed while it was in use (cable pulled, balance switched off)."""

    code = "MG802"


class BalanceTimeout(BalanceError):
    """The balance sent no reply within the reply timeout (wrong baud rate or interface, switched off, asleep)."""

    code = "MG803"

    def __init__(self, message: str, *, url: str = "", command: str = "", timeout_s: float = 0.0) -> None:
        super().__init__(message, url=url, command=command)
        self.timeout_s = timeout_s


class BalanceNeverSettles(BalanceError):
    """The balance answered, but never with a stable weight within ``timeout_s`` (drafts, vibration, temperature).

    ``last`` is the last reading seen (unstable), ``None`` if the balance showed none.
    """

    code = "MG804"

    def __init__(
        self, message: str, *, url: str = "", command: str = "", timeout_s: float = 0.0, last: Reading | None = None
    ) -> None:
        super().__init__(message, url=url, command=command)
        self.timeout_s = timeout_s
        self.last = last


class BalanceOverload(BalanceError):
    """The balance reports overload (``S +``, ``T +``, ``Z +``): more on the pan than its range (exit 5)."""

    code = "MG805"
    exit_code = 5


class BalanceUnderload(BalanceError):
    """The balance reports underload (``S -``, ``T -``, ``Z -``): less than its zero allows, e.g. the pan lifted."""

    code = "MG806"
    exit_code = 5


class BalanceNotExecuted(BalanceError):
    """The balance did not execute a command (``S I``, ``Z I``, ``T I``): busy, or no stability in its own time."""

    code = "MG807"
    exit_code = 3


class BalanceCommandError(BalanceError):
    """The balance answered ``ES``, ``ET`` or ``EL``: it did not understand or could not accept the command.

    ``reply`` is the balance's two letters.
    """

    code = "MG808"

    def __init__(self, message: str, *, url: str = "", command: str = "", reply: str = "") -> None:
        super().__init__(message, url=url, command=command)
        self.reply = reply


class BalanceSyntaxError(BalanceCommandError):
    """``ES``: the balance does not know the command (its interface is not MT-SICS, or a lower MT-SICS level)."""

    code = "MG809"


class BalanceTransmissionError(BalanceCommandError):
    """``ET``: the balance received garbled bytes (baud rate, parity or a noisy cable)."""

    code = "MG810"


class BalanceLogicalError(BalanceCommandError):
    """``EL``: the balance knows the command but cannot execute it as sent (a parameter it does not allow)."""

    code = "MG811"


class BalanceProtocolError(BalanceError):
    """The balance answered something MT-SICS does not allow (a reply this driver cannot read, an unknown unit)."""

    code = "MG812"


class WrongBalanceModel(BalanceError):
    """The balance is not of the model family the procedure asked for (exit 2: the wrong instrument was given)."""

    code = "MG813"
    exit_code = 2

    def __init__(self, message: str, *, url: str = "", model: str = "", expected: str = "") -> None:
        super().__init__(message, url=url, command="I2")
        self.model = model
        self.expected = expected


class GaugeError(BalanceError):
    """The depth gauge failed (the instruments share one hierarchy): cannot open, silent, disconnected, or an
    answer it should not give. Its unavailable, disconnected and timeout errors are also the balance's kinds (an
    ``except BalanceTimeout`` catches either instrument's silence)."""

    code = "MG820"


class GaugeUnavailable(GaugeError, BalanceUnavailable):
    """The gauge's port or URL does not open."""

    code = "MG821"


class GaugeDisconnected(GaugeError, BalanceDisconnected):
    """The gauge's line closed or failed while it was in use."""

    code = "MG822"


class GaugeTimeout(GaugeError, BalanceTimeout):
    """The gauge sent no reply within the reply timeout."""

    code = "MG823"


class GaugeReadError(GaugeError):
    """The gauge answered with an error (``ERR …``: out of its range, unknown command) or something unreadable."""

    code = "MG824"


INSTRUMENT_ERRORS: tuple[type[BalanceError], ...] = (
    BalanceError,
    BalanceUnavailable,
    BalanceDisconnected,
    BalanceTimeout,
    BalanceNeverSettles,
    BalanceOverload,
    BalanceUnderload,
    BalanceNotExecuted,
    BalanceCommandError,
    BalanceSyntaxError,
    BalanceTransmissionError,
    BalanceLogicalError,
    BalanceProtocolError,
    WrongBalanceModel,
    GaugeError,
    GaugeUnavailable,
    GaugeDisconnected,
    GaugeTimeout,
    GaugeReadError,
)
"""Every instrument error class (each code once), for a registry of codes."""
