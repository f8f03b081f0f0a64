"""The simulated guns alive in this process, by serial number: how ``sim-balance://?gun=SERIAL`` (and the
simulated depth gauge) find the gun whose hidden truth they measure.

An in-process simulator (:class:`sims.inprocess.InProcessSim`) registers its gun when it starts and removes it
when it closes; a test that builds a :class:`~sims.device.SimulatedGun` itself may :func:`register` it. Weak
references only: a gun nobody holds any more is never kept alive by this registry.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from sims.errors import SimConfigError

if TYPE_CHECKING:
    from sims.device import SimulatedGun

_LIVE: weakref.WeakSet[SimulatedGun] = weakref.WeakSet()


def register(gun: SimulatedGun) -> None:
    """``gun`` can be found by its serial number from now on (until :func:`unregister`)."""
    _LIVE.add(gun)


def unregister(gun: SimulatedGun) -> None:
    """``gun`` is gone (closed); idempotent."""
    _LIVE.discard(gun)


def find_gun(serial_number: str) -> SimulatedGun | None:
    """The live simulated gun whose serial number (as in its NVM now) is ``serial_number``, if any."""
    for gun in list(_LIVE):
        if gun.nvm.data.serial_number == serial_number:
            return gun
    return None


def live_serials() -> list[str]:
    """The serial numbers of the live simulated guns, sorted (for a message naming what could be found)."""
    return sorted(gun.nvm.data.serial_number for gun in list(_LIVE))


def named_gun(serial_number: str) -> SimulatedGun:
    """The live simulated gun an instrument's ``gun=SERIAL`` option names; :class:`SimConfigError` naming the guns
    that do run here if none has that serial number."""
    gun = find_gun(serial_number)
    if gun is None:
        running = ", ".join(live_serials()) or "none; open its sim:// URL first"
        raise SimConfigError(
            "gun",
            serial_number,
            f"a running gun's serial number ({running})",
            reason="names no simulated gun running in this process",
        )
    return gun
