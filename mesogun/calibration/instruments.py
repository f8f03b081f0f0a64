"""The depth gauge as the procedure reads it (:class:`~mesogun.calibration.seams.DepthGauge`): a gauge driver
(:mod:`mesogun.balance.gauge`) opened by URL and identified once, its model and serial number the certificate's
reference."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mesogun.balance.gauge import Gauge, open_gauge


@dataclass(frozen=True)
class IdentifiedGauge:
    """A gauge with its identity said once: ``reference`` (model, serial number, firmware) and resolution."""

    gauge: Gauge
    reference: str
    resolution_um: float

    async def read_mm(self) -> float:
        return await self.gauge.read_mm()


@asynccontextmanager
async def open_depth_gauge(url: str | None) -> AsyncIterator[IdentifiedGauge | None]:
    """The gauge at ``url`` (serial port, ``socket://`` or ``sim-gauge://``) identified, closed after; ``None``
    for no URL (the readings are typed in)."""
    if url is None:
        yield None
        return
    gauge = await open_gauge(url)
    try:
        identity = await gauge.identify()
        reference = f"{identity.model} S/N {identity.serial_number} (firmware {identity.firmware})"
        yield IdentifiedGauge(gauge, reference, identity.resolution_mm * 1000)
    finally:
        await gauge.close()
