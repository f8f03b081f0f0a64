"""The device's calibration over a connected Gun: read it, write a new one, and the measurement moves.

:class:`DeviceCalibration` is the calibration a device holds, in user units (gains as plain ratios, the depth
offset in µm, dates as UTC datetimes); :class:`CalibrationPort` sends the calibration family's commands
(docs/protocol.md, section 13) through :meth:`~mesogun.session.gun.Gun.family_command` and
:meth:`~mesogun.session.gun.Gun.family_fire`. Values are checked against the device's bounds
(:data:`firmware_protocol.rules.CALIBRATION_LIMITS`) and limits before anything is sent (:class:`ParameterError`
naming the field, value, limit and unit); the state rules are the host's controller's (:class:`StateError`);
a device without this host's calibration family is :class:`IncompatibleDevice` naming the family.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from firmware_protocol import views
from firmware_protocol.families import CALIBRATION
from firmware_protocol.rules import CALIBRATION_LIMITS, GAIN_PPM
from mesogun.errors import LinkTimeout, ParameterError
from mesogun.models import FiredShots
from mesogun.units import DEPTH, DOSE, RATE, check_count, to_wire

if TYPE_CHECKING:
    from mesogun.session.gun import Gun

__all__ = ["CalibrationPort", "DeviceCalibration"]

_U32_MAX = 0xFFFF_FFFF
_HOLD_POLL_S = 0.05
"""How often :meth:`CalibrationPort.hold_depth` asks for a status while the needle moves to its depth."""


@dataclass(frozen=True)
class DeviceCalibration:
    """A device's calibration: its model of itself, as a technician wrote it (factory: id 0, the identity)."""

    calibration_id: int
    """Assigned by the device, monotonic (0: factory)."""
    volume_gain_by_brand: Mapping[str, float]
    """Delivered / commanded per syringe brand (a brand not listed: 1.0)."""
    depth_offset_um: int
    """True depth = depth_gain × motor position + this (µm, signed)."""
    depth_gain: float
    rate_gain: float
    """True rate / set rate."""
    calibrated_at: datetime | None
    """UTC; ``None``: never calibrated."""
    due_at: datetime | None
    """UTC; ``None``: no due date."""
    technician: str
    certificate_id: str

    @classmethod
    def factory(cls) -> DeviceCalibration:
        """The factory calibration: the identity, id 0, no dates."""
        return cls(0, MappingProxyType({}), 0, 1.0, 1.0, None, None, "", "")

    def volume_gain(self, brand: str) -> float:
        """The device's volume gain for ``brand`` (1.0 for a brand it has none for)."""
        return self.volume_gain_by_brand.get(brand, 1.0)

    @classmethod
    def from_view(cls, v: views.Calibration) -> DeviceCalibration:
        """From a ``calibration`` reply."""
        return cls(
            calibration_id=v.calibration_id,
            volume_gain_by_brand=MappingProxyType({g.brand: g.gain_ppm / GAIN_PPM for g in v.volume_gains}),
            depth_offset_um=v.depth_offset_um,
            depth_gain=v.depth_gain_ppm / GAIN_PPM,
            rate_gain=v.rate_gain_ppm / GAIN_PPM,
            calibrated_at=_from_unix(v.calibrated_at),
            due_at=_from_unix(v.due_at),
            technician=v.technician,
            certificate_id=v.certificate_id,
        )

    def wire_fields(self) -> dict[str, Any]:
        """The fields of a ``write_calibration`` (checked: :class:`ParameterError` naming the first bad one)."""
        cal = CALIBRATION_LIMITS
        brands = dict(self.volume_gain_by_brand)
        if len(brands) > cal.brands_max:
            raise ParameterError(
                f"volume_gain_by_brand has {len(brands)} brands; the device keeps at most {cal.brands_max}",
                field="volume_gain_by_brand",
                value=len(brands),
            )
        gains = []
        for brand, gain in brands.items():
            name = f"volume_gain_by_brand[{brand}]"
            size = len(str(brand).encode("utf-8")) if isinstance(brand, str) else 0
            if not isinstance(brand, str) or not 1 <= size <= cal.brand_max_bytes:
                raise ParameterError(
                    f"{name}: a syringe brand is 1–{cal.brand_max_bytes} bytes of text", field=name, value=brand
                )
            gains.append({"brand": brand, "gain_ppm": _gain_ppm(name, gain)})
        offset = self.depth_offset_um
        top = cal.depth_offset_max_um
        if isinstance(offset, bool) or not isinstance(offset, int) or not -top <= offset <= top:
            raise ParameterError(
                f"depth_offset_um={offset!r} is outside the plausible range −{top}–{top} µm (a whole number)",
                field="depth_offset_um",
                value=offset,
            )
        texts = {"technician": self.technician, "certificate_id": self.certificate_id}
        for name, text in texts.items():
            if not isinstance(text, str) or len(text.encode("utf-8")) > cal.text_max_bytes:
                raise ParameterError(
                    f"{name}={text!r} is longer than the device keeps ({cal.text_max_bytes} bytes of UTF-8)",
                    field=name,
                    value=text,
                )
        return {
            "volume_gains": gains,
            "depth_offset_um": offset,
            "depth_gain_ppm": _gain_ppm("depth_gain", self.depth_gain),
            "rate_gain_ppm": _gain_ppm("rate_gain", self.rate_gain),
            "calibrated_at": _to_unix("calibrated_at", self.calibrated_at),
            "due_at": _to_unix("due_at", self.due_at),
            **texts,
        }


def _gain_ppm(name: str, gain: object) -> int:
    """A gain within the plausible bounds, in parts per million."""
    cal = CALIBRATION_LIMITS
    low, high = cal.gain_min_ppm / GAIN_PPM, cal.gain_max_ppm / GAIN_PPM
    if isinstance(gain, bool) or not isinstance(gain, int | float) or not math.isfinite(gain):
        raise ParameterError(f"{name}={gain!r} must be a number (a ratio, e.g. 1.03)", field=name, value=gain)
    ppm = round(gain * GAIN_PPM)
    if not cal.gain_min_ppm <= ppm <= cal.gain_max_ppm:
        raise ParameterError(
            f"{name}={gain:g} is outside the plausible range {low:.2f}–{high:.2f} (a ratio, 1.0: no correction)",
            field=name,
            value=gain,
        )
    return ppm


def _from_unix(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _to_unix(name: str, when: datetime | None) -> int:
    """A datetime as u32 Unix seconds (``None``: 0; a naive datetime is taken as UTC)."""
    if when is None:
        return 0
    if not isinstance(when, datetime):
        raise ParameterError(f"{name}={when!r} must be a datetime (UTC) or None", field=name, value=when)
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    seconds = math.floor(aware.timestamp())
    if not 1 <= seconds <= _U32_MAX:
        raise ParameterError(
            f"{name}={when.isoformat()} is outside what the device keeps (1970-01-01 to 2106-02-07 UTC)",
            field=name,
            value=when,
        )
    return seconds


class CalibrationPort:
    """The calibration family of one connected gun: typed calls in user units over its :class:`Gun`."""

    def __init__(self, gun: Gun) -> None:
        self._gun = gun

    async def _send(self, name: str, **fields: Any) -> Any:
        return await self._gun.family_command(CALIBRATION.name, name, **fields)

    async def read(self) -> DeviceCalibration:
        """The calibration in force on the device (``get_calibration``; any connected state)."""
        reply = await self._send("get_calibration")
        return DeviceCalibration.from_view(views.view_as(reply, views.Calibration))

    async def write(self, new: DeviceCalibration) -> DeviceCalibration:
        """Write ``new`` (its id is ignored: the device assigns the next one); return the calibration applied, with
        its id. The device keeps it in NVM before it answers. Refused while armed, firing or priming
        (:class:`StateError`), out of bounds (:class:`ParameterError`): nothing sent, nothing changed."""
        reply = await self._send("write_calibration", **new.wire_fields())
        return DeviceCalibration.from_view(views.view_as(reply, views.Calibration))

    async def set_syringe_brand(self, brand: str) -> None:
        """Declare the loaded syringe's brand (selects its volume gain; "" unknown); until the next load or
        power-on, so declare it after every load (:meth:`~mesogun.session.gun.Gun.load_syringe` with ``brand``
        does): :meth:`~mesogun.session.gun.Gun.set_syringe_brand`."""
        await self._gun.set_syringe_brand(brand)

    async def hold_depth(self, depth_mm: float) -> None:
        """Drive the needle to ``depth_mm`` (within the device's depth range and step) and hold it extended for a
        depth gauge; returns once the device reports it there. Disarmed only; :meth:`release_depth` ends it."""
        gun = self._gun
        wire = to_wire(DEPTH, depth_mm, gun.info.limits.depth_um)
        ack = await self._send("hold_depth", depth_um=wire)
        target = views.echoed(ack, views.HoldDepth).depth_um
        timeout = gun.timeouts.settle
        try:
            async with asyncio.timeout(timeout):
                while (await gun.refresh_status()).needle_depth_um != target:
                    await asyncio.sleep(_HOLD_POLL_S)
        except TimeoutError:
            raise LinkTimeout(
                f"the device did not report the needle at {target} µm within {timeout:g} s", command="hold_depth"
            ) from None

    async def release_depth(self) -> None:
        """End a :meth:`hold_depth`: the needle retracts to the set depth (any connected state)."""
        await self._send("release_depth")

    async def deliver(self, count: int, dose_ml: float, rate_hz: float) -> FiredShots:
        """Fire ``count`` shots of ``dose_ml`` at ``rate_hz`` into a vessel (armed; the set parameters stay) and
        return them as :meth:`~mesogun.session.gun.Gun.fire` does."""
        gun = self._gun
        limits = gun.info.limits
        shots = check_count("count", count, minimum=1, maximum=CALIBRATION_LIMITS.deliver_count_max)
        dose = to_wire(DOSE, dose_ml, limits.dose_nl)
        rate = to_wire(RATE, rate_hz, limits.rate_mhz)
        return await gun.family_fire(CALIBRATION.name, "deliver", count=shots, dose_nl=dose, rate_mhz=rate)
