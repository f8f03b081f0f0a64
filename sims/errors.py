"""The one exception hierarchy of the simulator, each class with a stable error code.

Everything a user of :mod:`sims` can see derives from :class:`SimError`; option errors are also
``ValueError`` so callers parsing a ``sim://`` URL can treat them like any bad value.
"""

from __future__ import annotations


class SimError(Exception):
    """Base of every simulator error."""

    code = "SIM000"


class SimConfigError(SimError, ValueError):
    """A simulator option is unknown, malformed or out of range; nothing was started.

    Example: ``sim://?drop=1.5`` gives "drop=1.5 is out of range: allowed 0 to 1 (probability per byte)".
    """

    code = "SIM100"

    def __init__(self, option: str, value: object, allowed: str, unit: str = "", reason: str = "is invalid") -> None:
        unit_part = f" ({unit})" if unit else ""
        super().__init__(f"{option}={value!s} {reason}: allowed {allowed}{unit_part}")
        self.option = option
        self.value = value
        self.allowed = allowed
        self.unit = unit


class NvmError(SimError):
    """The non-volatile memory file cannot be read or written (not JSON, wrong fields, disk error).

    Example: ``--nvm gun.json`` where gun.json was truncated by hand.
    """

    code = "SIM200"


class ServeError(SimError):
    """Serving the simulator failed: the TCP address is taken, the serial port does not open, …"""

    code = "SIM300"
