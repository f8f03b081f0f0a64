"""The gun a calibration run drives (:class:`~mesogun.calibration.seams.CalibrationTarget`), opened directly:
a :class:`GunTarget` over a connected :class:`~mesogun.Gun` and its calibration family
(:class:`~mesogun.calibration.device.CalibrationPort`).

Shots a measurement delivers are timed on the host's clock as their events arrive (the rate run's truth: the
device's own clock runs as wrong as its rate).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Protocol

from firmware_protocol import ShotSource
from mesogun.calibration.device import CalibrationPort
from mesogun.calibration.seams import DeviceCalibration, ShotSeen
from mesogun.models import FiredShots, GunInfo, ShotEvent
from mesogun.session.gun import EventStream, Gun

DRAIN_S = 0.5
"""After a delivery, how long to wait for shot events still on their way (the host already has the shots)."""


class SyringeAndArming(Protocol):
    """The gun operations a run needs beside its calibration family: a :class:`Gun`, or a gun through the service
    (:class:`~mesogun.cli.remote.RemoteGun`)."""

    async def load_syringe(self, *, capacity_ml: float, fill_ml: float | None = None) -> object: ...
    async def prime(self, *, volume_ml: float) -> object: ...
    async def arm(self) -> object: ...
    async def disarm(self) -> object: ...


class GunOperations:
    """A target's syringe, priming and arming: straight to its gun (a :class:`Gun` or a gun through the service)."""

    gun: SyringeAndArming

    async def load_syringe(self, capacity_ml: float, fill_ml: float) -> None:
        await self.gun.load_syringe(capacity_ml=capacity_ml, fill_ml=fill_ml)

    async def prime(self, volume_ml: float) -> None:
        await self.gun.prime(volume_ml=volume_ml)

    async def arm(self) -> None:
        await self.gun.arm()

    async def disarm(self) -> None:
        await self.gun.disarm()


class GunTarget(GunOperations):
    """A calibration target over a gun opened directly."""

    def __init__(self, gun: Gun, port: CalibrationPort) -> None:
        self.gun: Gun = gun
        self.port = port

    async def info(self) -> GunInfo:
        return self.gun.info

    async def read(self) -> DeviceCalibration:
        return await self.port.read()

    async def write(self, new: DeviceCalibration) -> DeviceCalibration:
        return await self.port.write(new)

    async def set_syringe_brand(self, brand: str) -> None:
        await self.port.set_syringe_brand(brand)

    async def hold_depth(self, depth_mm: float) -> None:
        await self.port.hold_depth(depth_mm)

    async def release_depth(self) -> None:
        await self.port.release_depth()

    async def deliver(
        self, count: int, dose_ml: float, rate_hz: float, *, on_shot: ShotSeen | None = None
    ) -> FiredShots:
        if on_shot is None:
            return await self.port.deliver(count, dose_ml, rate_hz)
        return await timed(self.gun, on_shot, self.port.deliver(count, dose_ml, rate_hz))


class EventSource(Protocol):
    """What :func:`timed` listens to: a :class:`Gun`, or a gun through the service (its event stream)."""

    def events(self, maxsize: int = 256) -> EventStream: ...


async def timed(gun: EventSource, on_shot: ShotSeen, delivery: Awaitable[FiredShots]) -> FiredShots:
    """Run ``delivery`` (a coroutine) while a listener stamps each host-fired shot event with the loop's clock."""
    loop = asyncio.get_running_loop()
    seen = 0
    all_seen = asyncio.Event()
    wanted: list[int] = []

    async def listen() -> None:
        nonlocal seen
        async with gun.events() as events:
            async for event in events:
                if isinstance(event, ShotEvent) and event.shot.source is ShotSource.REMOTE:
                    on_shot(event.shot, loop.time())
                    seen += 1
                    if wanted and seen >= wanted[0]:
                        all_seen.set()

    listener = asyncio.ensure_future(listen())
    await asyncio.sleep(0)  # subscribed before the first shot can arrive
    try:
        shots = await delivery
        wanted.append(len(shots))
        if seen < len(shots):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_seen.wait(), DRAIN_S)
        return shots
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
