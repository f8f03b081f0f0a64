"""The depth gauge driver: a digital dial indicator with a serial output, read by request.

Its line protocol (the simulated indicator's, :mod:`sims.gauge`; docs/balance.md): ``?`` → ``+01.234 mm``;
``ID?`` → ``ID <model>,<serial>,<firmware>,<resolution mm>,<range mm>``; ``ERR <n> <text>`` for an error.
Opened by URL like the balance: a serial port (9600 8N1), ``socket://HOST:PORT``, or ``sim-gauge://?options``
(in process; ``gun=SERIAL`` or ``simulated_gun`` puts it on that simulated gun's needle). Entering a reading by
hand is the calibration wizard's job, not this driver's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from mesogun.balance.errors import GaugeDisconnected, GaugeReadError, GaugeTimeout, GaugeUnavailable
from mesogun.balance.lines import InProcessLine, LineErrors, LinePort, open_pyserial
from mesogun.errors import ParameterError

if TYPE_CHECKING:
    from sims.device import SimulatedGun
    from sims.gauge import InProcessGauge

BAUDRATE = 9600
REPLY_TIMEOUT_S = 2.0
"""A gauge answers at once; no reply in 2 s is a dead line."""

GAUGE_LINE = LineErrors(
    "depth gauge",
    GaugeUnavailable,
    GaugeDisconnected,
    GaugeTimeout,
    "check that it is on, cabled, and set to 9600 baud, 8 data bits, no parity, 1 stop bit",
)


@dataclass(frozen=True)
class GaugeIdentity:
    """Who the gauge is (``ID?``): model, serial number, firmware, resolution and range in mm."""

    model: str
    serial_number: str
    firmware: str
    resolution_mm: float
    range_mm: float


class Gauge:
    """A dial indicator on a line: :meth:`identify`, :meth:`read_mm`."""

    def __init__(
        self, port: LinePort, *, reply_timeout_s: float = REPLY_TIMEOUT_S, simulator: InProcessGauge | None = None
    ) -> None:
        self.url = port.url
        self._port = port
        self._lock = asyncio.Lock()
        self.reply_timeout_s = reply_timeout_s
        self.simulator = simulator
        """The in-process simulated gauge behind a ``sim-gauge://`` URL."""

    async def identify(self) -> GaugeIdentity:
        """``ID?``: model, serial number, firmware, resolution, range."""
        line = await self._request("ID?")
        fields = line[3:].split(",") if line.startswith("ID ") else []
        try:
            model, serial_number, firmware, resolution, range_mm = (f.strip() for f in fields)
            return GaugeIdentity(model, serial_number, firmware, float(resolution), float(range_mm))
        except ValueError:
            raise self._unreadable("ID?", line) from None

    async def read_mm(self) -> float:
        """``?``: the reading now, in mm."""
        line = await self._request("?")
        value, _, unit = line.partition(" ")
        try:
            if unit.strip() != "mm":
                raise ValueError(unit)
            return float(value)
        except ValueError:
            raise self._unreadable("?", line) from None

    async def close(self) -> None:
        """Close the line (and a simulated gauge); idempotent."""
        await self._port.close()
        if self.simulator is not None:
            self.simulator.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _request(self, command: str) -> str:
        async with self._lock:
            await self._port.send(command, command=command)
            line = await self._port.read_line(timeout_s=self.reply_timeout_s, command=command)
        if line.startswith("ERR"):
            raise GaugeReadError(
                f"the depth gauge at {self.url} answered {command!r} with {line!r}: is the needle within its range "
                "and the spindle on the needle tip?",
                url=self.url,
                command=command,
            )
        return line

    def _unreadable(self, command: str, line: str) -> GaugeReadError:
        return GaugeReadError(
            f"the depth gauge at {self.url} answered {command!r} with {line!r}, which this driver cannot read",
            url=self.url,
            command=command,
        )


async def open_gauge(
    url: str,
    *,
    simulated_gun: SimulatedGun | None = None,
    baudrate: int = BAUDRATE,
    reply_timeout_s: float = REPLY_TIMEOUT_S,
) -> Gauge:
    """Open the depth gauge at ``url`` (a serial port, ``socket://HOST:PORT`` or ``sim-gauge://?options``)."""
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) and "://" in url else ""
    simulator: InProcessGauge | None = None
    if scheme == "sim-gauge":
        from sims.gauge import start_inprocess_gauge

        try:
            simulator = start_inprocess_gauge(urlsplit(url).query, source=simulated_gun)
        except ValueError as exc:
            raise ParameterError(f"{url}: {exc}", field="url", value=url) from exc
        port = LinePort(InProcessLine(url, simulator.connection), GAUGE_LINE)
    else:
        if not isinstance(url, str) or not url.strip():
            raise ParameterError(f"url={url!r} must be a serial port, socket://HOST:PORT or sim-gauge://", field="url")
        if simulated_gun is not None:
            raise ParameterError(f"simulated_gun is for a sim-gauge:// URL, not {url!r}", field="simulated_gun")
        port = LinePort(await open_pyserial(url, baudrate=baudrate, errors=GAUGE_LINE), GAUGE_LINE)
    return Gauge(port, reply_timeout_s=reply_timeout_s, simulator=simulator)
