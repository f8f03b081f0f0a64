"""The calibration instruments: a laboratory balance speaking MT-SICS, and a depth gauge (:mod:`.gauge`).

Our own small driver on pyserial, because the PyPI options do not fit (checked 2026): ``mettler-toledo-device``
(last release 1.5.0, 2018) is blocking, built on ``serial_device2``, returns lists, and has no ``socket://`` or
asyncio; ``serial-scale-bench`` reads Kern-style ``GS``/``NT`` lines and bare numbers, not MT-SICS statuses;
``labmcp-mettler-toledo`` is an MCP server, not a library; ``mt-sics-emulator`` is a balance emulator, not a
driver. None reports ``S D``/``S I``/``S +``/``S -``/``ES``/``ET``/``EL`` as typed errors.

``await open_balance(url)`` opens a serial port, ``socket://HOST:PORT`` or ``sim-balance://?options`` (see
docs/balance.md); :class:`Balance` has one async method per MT-SICS command.
"""

from __future__ import annotations

from mesogun.balance.driver import BAUDRATE, Balance, open_balance
from mesogun.balance.mtsics import BalanceIdentity, Reading

__all__ = ["BAUDRATE", "Balance", "BalanceIdentity", "Reading", "open_balance"]
