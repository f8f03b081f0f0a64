"""Fakes of the gun's calibration family and the balance, with a hidden physical truth, for the procedure's
step-by-step and bad-input tests (a balance that never settles, disconnects or overloads, a device refusing a
write): each fault is one attribute here. The accuracy end to end runs on sim:// and sim-balance:// instead
(test_accuracy.py).

:class:`FakeGun` keeps a device calibration and applies it as DESIGN-16 says (to deliver D it pushes D / gain;
to reach S it drives to (S − offset) / gain; its timer runs at R / rate_gain), and a hidden truth it never
reports; :class:`FakeBalance` weighs what truly left the needle (as water at 20 °C), with evaporation and noise.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from firmware_protocol import NakCode
from firmware_protocol.messages import make
from firmware_protocol.rules import REFERENCE_IDENTITY
from mesogun.calibration.metrology import air_density_kg_m3, water_density_kg_m3
from mesogun.calibration.seams import (
    BalanceError,
    BalanceIdentity,
    DeviceCalibration,
    Environment,
    Reading,
    ShotSeen,
)
from mesogun.errors import DeviceRefused, ParameterError, StateError
from mesogun.models import FiredShots, GunInfo, ShotRecord

FACTORY = DeviceCalibration(0, {}, 0, 1.0, 1.0, None, None, "", "")


def gun_info(serial: str = "SIM0001") -> GunInfo:
    """The reference device's identity, as the host parses it."""
    return GunInfo.from_identity(make("identity", **{**REFERENCE_IDENTITY, "serial_number": serial}))


@dataclass
class Truth:
    """The gun's hidden physical truth (DESIGN-16's defaults)."""

    volume_gain: float = 1.03
    volume_gain_by_brand: Mapping[str, float] = field(default_factory=dict)
    depth_offset_um: float = 80.0
    depth_gain: float = 1.0
    rate_gain: float = 1.0

    def gain(self, brand: str) -> float:
        return self.volume_gain_by_brand.get(brand, self.volume_gain)


@dataclass
class TrueShot:
    """What truly happened at a shot (the ground truth the accuracy test checks)."""

    set_dose_ul: float
    true_ul: float
    at: float


class FakeGun:
    """A gun that applies a device calibration over a hidden truth: the :class:`CalibrationTarget` of a test."""

    def __init__(self, info: GunInfo, truth: Truth | None = None, *, refuse_write: bool = False) -> None:
        self._info = info
        self.truth = truth or Truth()
        self.calibration = FACTORY
        self.next_id = 1
        self.brand = ""
        self.armed = False
        self.loaded_ml = 0.0
        self.reservoir_ul = 0.0
        self.depth_um: float | None = None
        self.shots: list[TrueShot] = []
        self.writes: list[DeviceCalibration] = []
        self.refuse_write = refuse_write
        self.outflow: list[Any] = []

    # the target
    async def info(self) -> GunInfo:
        return replace(self._info, calibration_id=self.calibration.calibration_id)

    async def read(self) -> DeviceCalibration:
        await asyncio.sleep(0.01)
        return self.calibration

    async def write(self, new: DeviceCalibration) -> DeviceCalibration:
        await asyncio.sleep(0.01)
        if self.armed:
            raise StateError("write_calibration needs the gun disarmed; it is armed", command="write_calibration")
        if self.refuse_write:
            raise DeviceRefused("write_calibration", NakCode.OUT_OF_RANGE, "volume_gain.BD=1.5 outside 0.8–1.2")
        for brand, gain in new.volume_gain_by_brand.items():
            if not 0.8 <= gain <= 1.2:
                raise ParameterError(f"volume_gain.{brand}={gain} outside 0.8–1.2", field="volume_gain")
        self.calibration = replace(new, calibration_id=self.next_id)
        self.next_id += 1
        self.writes.append(self.calibration)
        return self.calibration

    async def set_syringe_brand(self, brand: str) -> None:
        self.brand = brand

    async def hold_depth(self, depth_mm: float) -> None:
        c = self.calibration
        motor = (depth_mm * 1000 - c.depth_offset_um) / c.depth_gain
        await asyncio.sleep(0.2)
        self.depth_um = self.truth.depth_gain * motor + self.truth.depth_offset_um

    async def release_depth(self) -> None:
        self.depth_um = None

    def true_needle_depth_um(self) -> float:
        assert self.depth_um is not None, "the needle is not held"
        return self.depth_um

    def _pushed_ul(self, dose_ul: float) -> float:
        return dose_ul / self.calibration.volume_gain_by_brand.get(self.brand, 1.0)

    async def deliver(
        self, count: int, dose_ml: float, rate_hz: float, *, on_shot: ShotSeen | None = None
    ) -> FiredShots:
        if not self.armed:
            raise StateError("deliver needs the gun armed", command="deliver")
        loop = asyncio.get_running_loop()
        period = 1 / (rate_hz / self.calibration.rate_gain * self.truth.rate_gain)
        shots = []
        for i in range(count):
            if i:
                await asyncio.sleep(period)
            true_ul = self._pushed_ul(dose_ml * 1000) * self.truth.gain(self.brand)
            self.shots.append(TrueShot(dose_ml * 1000, true_ul, loop.time()))
            for listener in self.outflow:
                listener(true_ul)
            shot = ShotRecord(index=len(self.shots), depth_mm=2.0, dose_ml=dose_ml, device_time=0.0, fire_seq=1)
            shots.append(shot)
            if on_shot is not None:  # the event reaches the host 3 ms later
                loop.call_later(0.003, _arrive, on_shot, shot, loop)
        await asyncio.sleep(0.01)
        return FiredShots(shots, fired=count)

    async def load_syringe(self, capacity_ml: float, fill_ml: float) -> None:
        self.loaded_ml = capacity_ml
        self.reservoir_ul = fill_ml * 1000
        self.brand = ""

    async def prime(self, volume_ml: float) -> None:
        for listener in self.outflow:
            listener(volume_ml * 1000 * self.truth.gain(self.brand))

    async def arm(self) -> None:
        self.armed = True

    async def disarm(self) -> None:
        self.armed = False


def _arrive(on_shot: ShotSeen, shot: ShotRecord, loop: asyncio.AbstractEventLoop) -> None:
    on_shot(shot, loop.time())


@dataclass
class BalanceFaults:
    """What can go wrong with the fake balance."""

    never_settles: bool = False
    disconnect_after: int | None = None
    """Readings served before the line goes dead."""


class FakeBalance:
    """A balance weighing the liquid a :class:`FakeGun` truly delivered into its vessel (water at the
    environment's temperature, buoyancy as a real balance reads it), evaporating at ``evaporation_mg_s``."""

    def __init__(
        self,
        gun: FakeGun,
        *,
        environment: Environment | None = None,
        identity: BalanceIdentity | None = None,
        evaporation_mg_s: float = 0.002,
        noise_g: float = 0.00001,
        settle_s: float = 3.0,
        seed: int = 7,
        faults: BalanceFaults | None = None,
    ) -> None:
        self.identity = identity or BalanceIdentity("XPR205", "B123456789", "2.1.4", 0.00001, 220.0)
        self.faults = faults or BalanceFaults()
        self.evaporation_mg_s = evaporation_mg_s
        self.noise_g = noise_g
        self.settle_s = settle_s
        self._rng = random.Random(seed)
        environment = environment or Environment(20.0, 1013.25, 50.0)
        t, p, h = environment.temperature_c, environment.pressure_hpa, environment.humidity_pct
        rho_w, rho_a = water_density_kg_m3(t, p), air_density_kg_m3(t, p, h)
        self._g_per_ul = rho_w / 1_000_000 * (1 - rho_a / rho_w) / (1 - rho_a / 8000.0)
        self.liquid_g = 0.0
        self.load_g = 20.0  # the vessel
        self.extra_g = 0.0  # a check weight placed
        self.tare_g = 0.0
        self.zero_g = 0.0
        self._since = 0.0
        self.readings = 0
        gun.outflow.append(self._poured)

    def _poured(self, true_ul: float) -> None:
        self.liquid_g += true_ul * self._g_per_ul

    def _gross(self) -> float:
        now = asyncio.get_running_loop().time()
        self.liquid_g = max(self.liquid_g - self.evaporation_mg_s / 1000 * (now - self._since), 0.0)
        self._since = now
        return self.load_g + self.liquid_g + self.extra_g

    def _check_line(self) -> None:
        if self.faults.disconnect_after is not None and self.readings >= self.faults.disconnect_after:
            raise BalanceError("balance XPR205 B123456789: no reply (disconnected)")

    async def identify(self) -> BalanceIdentity:
        self._check_line()
        self._since = asyncio.get_running_loop().time()
        return self.identity

    async def zero(self) -> None:
        self._check_line()
        self.zero_g = self._gross() - self.extra_g

    async def tare(self) -> float:
        self._check_line()
        await asyncio.sleep(self.settle_s)
        self.tare_g = self._gross() - self.zero_g
        return self.tare_g

    async def stable_weight(self, timeout_s: float = 30.0) -> Reading:
        self._check_line()
        if self.faults.never_settles:
            await asyncio.sleep(timeout_s)
            raise BalanceError(f"balance XPR205 B123456789: no stable weight within {timeout_s:g} s")
        await asyncio.sleep(self.settle_s)
        self.readings += 1
        net = self._gross() - self.zero_g - self.tare_g
        if net + self.tare_g > self.identity.capacity_g:
            raise BalanceError("balance XPR205 B123456789: overload (S +)")
        noisy = net + self._rng.gauss(0.0, self.noise_g)
        step = self.identity.readability_g
        return Reading(round(round(noisy / step) * step, 9), True)


class FakeGauge:
    """A dial indicator reading where the needle tip truly is, to 0.001 mm."""

    reference = "Mitutoyo 543-390B S/N G0042 (fake)"
    resolution_um = 1.0

    def __init__(self, gun: FakeGun) -> None:
        self.gun = gun

    async def read_mm(self) -> float:
        await asyncio.sleep(0.5)
        return round(self.gun.true_needle_depth_um() / 1000, 3)
