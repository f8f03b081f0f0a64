"""The technician's calibration run, step by step: volume (gravimetric, ISO 8655-6), depth (a gauge at several
depths) and rate (shots timed on the host's clock over at least 60 s).

Each step is one small method, run in order by :meth:`Procedure.volume`, :meth:`Procedure.depth` or
:meth:`Procedure.rate`; each reports itself (started, done) and what it found to the :class:`~.seams.Reporter`.
The figures come from :mod:`mesogun.calibration.figures` (the metrology), the gun from a
:class:`~.seams.CalibrationTarget`, the instruments and the technician from their seams.

Only a run that passes and is signed leaves its constants on the device. Anything else after the write (as-left
outside the limits, the sign-off declined, Ctrl-C, a balance error, a link failure) writes the old constants back;
before the write nothing on the device changed. An abort at any step still yields the run's record
(:attr:`Procedure.run`, outcome ``aborted`` with the step and the reason) before the error goes on to the caller.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mesogun.calibration import figures
from mesogun.calibration.errors import CalibrationAborted, CalibrationRefused
from mesogun.calibration.seams import (
    BalanceIdentity,
    CalibrationKind,
    CalibrationRun,
    CalibrationTarget,
    ConstantsSnapshot,
    DepthGauge,
    DeviceCalibration,
    Environment,
    InstrumentIdentity,
    Prompter,
    Reporter,
    RunOutcome,
    SeriesResult,
    ShotSeen,
    Signature,
    WeighingInstrument,
    WrongBalanceModel,
)
from mesogun.errors import MesogunError, ParameterError
from mesogun.models import GunInfo, ShotRecord

log = logging.getLogger(__name__)

DUE_IN_DAYS = 365
"""A passed calibration is due again this many days later."""
RATE_MARGIN = 1.25
"""Shots enough for the rate's span to last ``seconds`` even on a gun firing 20 % fast (the plausible bound)."""
BLANK_WEIGHINGS = 4
"""Weighings of the evaporation blank, spread over its time (after the tare)."""
DEFAULT_MEANING = "I performed this calibration and the results recorded are true and complete"
"""What the technician's signature means, unless they say otherwise."""


@dataclass(frozen=True)
class VolumePlan:
    """What the volume run measures (defaults: ISO 8655-6's 10 weighings at 100, 50 and 10 % of the range)."""

    nominal_ul: float | None = None
    """The range's top (default: the device's largest drop)."""
    fractions: tuple[float, ...] = (1.0, 0.5, 0.1)
    readings: int = 10
    rate_hz: float | None = None
    """Firing rate of the deliveries (default 2 shots/s, within the device's range)."""
    syringe_ml: float | None = None
    """The syringe loaded (default: the device's largest), filled full."""
    prime_ml: float = 0.05
    blank_s: float = 60.0
    """How long the evaporation blank watches the vessel."""
    check_weight_tolerance_mg: float | None = None
    """Largest error of the check weight (default: 0.05 % of it, at least 3 digits of the balance)."""
    due_in_days: int = DUE_IN_DAYS


@dataclass(frozen=True)
class DepthPlan:
    """What the depth run measures: ``points`` depths across the range, ``repeats`` gauge readings at each."""

    points: int = 5
    repeats: int = 3
    hand_resolution_um: float = 10.0
    """Resolution of readings typed in by hand (a dial indicator's 0.01 mm)."""
    due_in_days: int = DUE_IN_DAYS


@dataclass(frozen=True)
class RatePlan:
    """What the rate run measures: shots fired for at least ``seconds`` at each rate (default: half the range's
    top), timed on the host's clock."""

    rates_hz: tuple[float, ...] | None = None
    seconds: float = figures.MIN_RATE_SPAN_S
    syringe_ml: float | None = None
    prime_ml: float = 0.05
    due_in_days: int = DUE_IN_DAYS


@dataclass
class _Draft:
    """The run as it is being made (a :class:`CalibrationRun` once it ends)."""

    kind: CalibrationKind
    started_at: datetime
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    info: GunInfo | None = None
    syringe_brand: str = ""
    balance: BalanceIdentity | None = None
    reference: str = ""
    environment: Environment | None = None
    z_factor: float | None = None
    technician: str = ""
    as_found: tuple[SeriesResult, ...] = ()
    as_left: tuple[SeriesResult, ...] = ()
    before: DeviceCalibration | None = None
    after: DeviceCalibration | None = None
    certificate_id: str = ""
    due_at: datetime | None = None
    signature: Signature | None = None
    step: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def finish(self, outcome: RunOutcome, reason: str, now: datetime) -> CalibrationRun:
        info = self.info
        return CalibrationRun(
            run_id=self.run_id,
            kind=self.kind,
            device_serial=info.serial_number if info else "",
            device_model=info.model if info else "",
            firmware_version=info.firmware_version if info else "",
            syringe_brand=self.syringe_brand,
            balance=_instrument(self.balance, self.notes.get("balance_due")),
            reference=self.reference,
            environment=self.environment,
            z_factor=self.z_factor,
            technician=self.technician,
            started_at=self.started_at,
            finished_at=now,
            as_found=self.as_found,
            as_left=self.as_left,
            constants_before=_snapshot(self.before),
            constants_after=_snapshot(self.after),
            outcome=outcome,
            reason=reason,
            certificate_id=self.certificate_id if outcome is RunOutcome.PASSED else "",
            due_at=self.due_at if outcome is RunOutcome.PASSED else None,
            signature=self.signature,
            evaporation_mg_per_s=self.notes.get("evaporation", {}).get("mg_per_s"),
            notes=tuple(_note(key, value) for key, value in self.notes.items() if key in NOTED),
        )


NOTED = ("check_weight", "restored", "cleanup_failed")
RESTORED_NOTE = "the constants in force before the run were written back"
"""The note of a run whose write was undone (an abort, a failed run, a record that could not keep it)."""
"""What a run's record notes besides its fields."""


def _note(key: str, value: object) -> str:
    if key == "check_weight" and isinstance(value, dict):
        return (
            f"check weight {value['nominal_g']:g} g read {value['read_g']:.6g} g "
            f"(tolerance ±{value['tolerance_mg']:.3g} mg)"
        )
    if key == "restored":
        return RESTORED_NOTE
    return f"{key}: {value}"


def _instrument(balance: BalanceIdentity | None, due: object) -> InstrumentIdentity | None:
    if balance is None:
        return None
    return InstrumentIdentity.of_balance(balance, date.fromisoformat(due) if isinstance(due, str) else None)


def _snapshot(constants: DeviceCalibration | None) -> ConstantsSnapshot | None:
    return None if constants is None else ConstantsSnapshot.of(constants)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Procedure:
    """One calibration run on ``target``, asking ``prompter`` (the technician), telling ``reporter``.

    ``clock`` (default: the running loop's) times the evaporation blank, the weighing cycles and the shots'
    arrivals; ``now`` (UTC) dates the run, the sign-off and the due date.
    """

    def __init__(
        self,
        target: CalibrationTarget,
        prompter: Prompter,
        reporter: Reporter,
        *,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.target = target
        self.prompter = prompter
        self.reporter = reporter
        self._clock = clock
        self._now = now
        self.run: CalibrationRun | None = None
        """The run's record once it ended: passed, failed, or aborted (also when the run raised)."""
        self.notes: dict[str, Any] = {}
        """What the run found besides its record: the check weight, the blank, the balance's due date, a restore."""
        self._draft: _Draft | None = None
        self._write_sent = False
        self._armed = False
        self._holding = False

    def clock(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    # ------------------------------------------------------------------------------------------ the runs

    async def volume(self, balance: WeighingInstrument, plan: VolumePlan = VolumePlan()) -> CalibrationRun:
        """Calibrate the volume for one syringe brand by weighing, ISO 8655-6: identify, environment, check
        weight, syringe, evaporation blank, as-found, correction, write, as-left, verdict, sign-off."""
        return await self._conduct(CalibrationKind.VOLUME, lambda d: self._volume_steps(d, balance, plan))

    async def depth(self, gauge: DepthGauge | None, plan: DepthPlan = DepthPlan()) -> CalibrationRun:
        """Calibrate the needle depth with a gauge (or readings entered by hand when ``gauge`` is None)."""
        return await self._conduct(CalibrationKind.DEPTH, lambda d: self._depth_steps(d, gauge, plan))

    async def rate(self, plan: RatePlan = RatePlan()) -> CalibrationRun:
        """Calibrate the firing rate from shots timed on the host's clock for at least 60 s."""
        return await self._conduct(CalibrationKind.RATE, lambda d: self._rate_steps(d, plan))

    async def _conduct(
        self, kind: CalibrationKind, steps: Callable[[_Draft], Awaitable[tuple[RunOutcome, str]]]
    ) -> CalibrationRun:
        draft = self._draft = _Draft(kind, self._now())
        self.notes = draft.notes
        self._write_sent = False
        try:
            outcome, reason = await steps(draft)
        except BaseException as error:  # Ctrl-C (cancelled), a balance error, a refusal, the technician declining
            reason = f"aborted at {draft.step}: {_reason(error)}"
            self.reporter.step(draft.step, "aborted", reason=reason)
            await self._leave_as_found(draft, reason)
            self.run = draft.finish(RunOutcome.ABORTED, reason, self._now())
            self.reporter.finished(self.run)
            raise
        self.run = draft.finish(outcome, reason, self._now())
        self.reporter.finished(self.run)
        return self.run

    async def abandon(self, why: str) -> CalibrationRun:
        """The run ended but cannot be kept (its record's save failed: ``why``): put the device back as an abort
        does (the old constants written back if a write was sent) and make the run aborted at ``save`` with that
        reason; return it (:attr:`run`). A run without a record must not leave its constants on the device."""
        draft = self._draft
        assert draft is not None and self.run is not None, "abandon() after a run"
        draft.step = "save"
        reason = f"aborted at save: {why}"
        self.reporter.step("save", "aborted", reason=reason)
        await self._leave_as_found(draft, reason)
        self.run = draft.finish(RunOutcome.ABORTED, reason, self._now())
        self.reporter.finished(self.run)
        return self.run

    async def _step(self, draft: _Draft, name: str, body: Callable[[], Awaitable[dict[str, Any] | None]]) -> None:
        draft.step = name
        self.reporter.step(name, "started")
        found = await body()
        self.reporter.step(name, "done", **(found or {}))

    async def _volume_steps(self, d: _Draft, balance: WeighingInstrument, plan: VolumePlan) -> tuple[RunOutcome, str]:
        points: list[float] = []
        await self._step(d, "identify", lambda: self._identify_volume(d, balance, plan, points))
        await self._step(d, "environment", lambda: self._environment(d, z_factor=True))
        await self._step(d, "check_weight", lambda: self._check_weight(d, balance, plan))
        await self._step(d, "syringe", lambda: self._syringe(d, plan.syringe_ml, plan.prime_ml, brand=True))
        evaporation: list[figures.Evaporation] = []
        await self._step(d, "evaporation_blank", lambda: self._blank(d, balance, plan.blank_s, evaporation))
        rate = self._delivery_rate(d, plan.rate_hz)

        async def weigh(series: str) -> tuple[SeriesResult, ...]:
            return await self._weigh_all(d, balance, series, points, plan.readings, rate, evaporation[0])

        await self._step(d, "as_found", lambda: self._measured(d, "as_found", weigh))
        await self._step(d, "correction", lambda: self._correct(d, _volume_corrected(_b(d), d)))
        await self._step(d, "write", lambda: self._write(d, plan.due_in_days))
        await self._step(d, "as_left", lambda: self._measured(d, "as_left", weigh))
        return await self._close(d)

    async def _depth_steps(self, d: _Draft, gauge: DepthGauge | None, plan: DepthPlan) -> tuple[RunOutcome, str]:
        depths: list[float] = []
        await self._step(d, "identify", lambda: self._identify_depth(d, gauge, plan, depths))
        await self._step(d, "environment", lambda: self._environment(d, z_factor=False))

        async def gauge_all(series: str) -> tuple[SeriesResult, ...]:
            return await self._gauge_all(series, gauge, depths, plan)

        await self._step(d, "as_found", lambda: self._measured(d, "as_found", gauge_all))
        await self._step(d, "correction", lambda: self._correct(d, _depth_corrected(_b(d), d)))
        await self._step(d, "write", lambda: self._write(d, plan.due_in_days))
        await self._step(d, "as_left", lambda: self._measured(d, "as_left", gauge_all))
        return await self._close(d)

    async def _rate_steps(self, d: _Draft, plan: RatePlan) -> tuple[RunOutcome, str]:
        rates: list[float] = []
        await self._step(d, "identify", lambda: self._identify_rate(d, plan, rates))
        await self._step(d, "environment", lambda: self._environment(d, z_factor=False))
        await self._step(d, "syringe", lambda: self._syringe(d, plan.syringe_ml, plan.prime_ml, brand=False))

        async def time_all(series: str) -> tuple[SeriesResult, ...]:
            return await self._time_all(d, series, rates, plan.seconds)

        await self._step(d, "as_found", lambda: self._measured(d, "as_found", time_all))
        await self._step(d, "correction", lambda: self._correct(d, _rate_corrected(_b(d), d)))
        await self._step(d, "write", lambda: self._write(d, plan.due_in_days))
        await self._step(d, "as_left", lambda: self._measured(d, "as_left", time_all))
        return await self._close(d)

    async def _close(self, d: _Draft) -> tuple[RunOutcome, str]:
        verdict: list[tuple[RunOutcome, str]] = []
        await self._step(d, "verdict", lambda: self._verdict(d, verdict))
        await self._step(d, "sign_off", lambda: self._sign_off(d))
        outcome, reason = verdict[0]
        if outcome is not RunOutcome.PASSED:
            await self._step(d, "restore", lambda: self._restore(d))
        return outcome, reason

    # ------------------------------------------------------------------------------------------ identify

    async def _identify_device(self, d: _Draft) -> dict[str, Any]:
        info = d.info = await self.target.info()
        d.before = await self.target.read()
        d.technician = (await self.prompter.ask("technician", "Technician's name")).strip()
        if not d.technician:
            raise ParameterError("technician: a name is needed (who signs the run)", field="technician", value="")
        return {
            "device_serial": info.serial_number,
            "device_model": info.model,
            "firmware_version": info.firmware_version,
            "calibration_id": d.before.calibration_id,
            "technician": d.technician,
        }

    async def _identify_volume(
        self, d: _Draft, balance: WeighingInstrument, plan: VolumePlan, points: list[float]
    ) -> dict[str, Any]:
        found = await self._identify_device(d)
        d.syringe_brand = (await self.prompter.ask("syringe_brand", "Syringe brand (e.g. BD, Terumo)")).strip()
        identity = d.balance = await balance.identify()
        due = _date("balance_due", await self.prompter.ask("balance_due", "Balance calibration due (YYYY-MM-DD)"))
        today = self._now().date()
        if due < today:
            raise CalibrationRefused(
                f"balance {identity.model} {identity.serial_number}: its calibration was due {due.isoformat()} "
                f"(today is {today.isoformat()}): calibrate the balance first"
            )
        assert d.info is not None
        points[:] = _volume_points(d.info, plan)
        smallest = min(p * figures.shots_per_reading(p) for p in points)
        needed = figures.required_readability_mg(smallest)
        if identity.readability_g * 1000 > needed * (1 + 1e-9):
            raise WrongBalanceModel(
                f"balance {identity.model} reads to {identity.readability_g * 1000:g} mg; weighing {smallest:g} µL "
                f"needs {needed:g} mg or finer (ISO 8655-6): use a finer balance"
            )
        syringe_ml = _syringe_ml(d.info, plan.syringe_ml)
        per_run_ml = sum(p * figures.shots_per_reading(p) * plan.readings for p in points) / 1000
        if 2 * per_run_ml + plan.prime_ml > syringe_ml:
            raise CalibrationRefused(
                f"the run delivers {2 * per_run_ml + plan.prime_ml:.3f} mL; a {syringe_ml:g} mL syringe holds less: "
                "use a larger syringe or fewer readings"
            )
        d.notes["balance_due"] = due.isoformat()
        d.notes["volumes_ul"] = list(points)
        return found | {
            "syringe_brand": d.syringe_brand,
            "balance_model": identity.model,
            "balance_serial": identity.serial_number,
            "balance_firmware": identity.firmware,
            "balance_readability_g": identity.readability_g,
            "balance_due": due.isoformat(),
            "volumes_ul": list(points),
        }

    async def _identify_depth(
        self, d: _Draft, gauge: DepthGauge | None, plan: DepthPlan, depths: list[float]
    ) -> dict[str, Any]:
        found = await self._identify_device(d)
        d.reference = gauge.reference if gauge is not None else "depth gauge, readings entered by hand"
        assert d.info is not None
        depths[:] = _depth_points(d.info, plan.points)
        return found | {"gauge": d.reference, "depths_mm": list(depths)}

    async def _identify_rate(self, d: _Draft, plan: RatePlan, rates: list[float]) -> dict[str, Any]:
        found = await self._identify_device(d)
        assert d.info is not None
        rates[:] = plan.rates_hz or (_on_grid(d.info.rate_range_hz[1] / 2, d.info.limits.rate_mhz.step / 1000),)
        d.reference = "host clock (monotonic), shot events' arrival"
        return found | {"rates_hz": list(rates), "seconds": plan.seconds}

    # ------------------------------------------------------------------------------------------ environment

    async def _environment(self, d: _Draft, *, z_factor: bool) -> dict[str, Any]:
        ask = self.prompter.ask_number
        env = Environment(  # each checked as it is given: a terminal asks again, not aborts later
            temperature_c=await ask(
                "temperature_c", "Water and room temperature", unit="°C", check=figures.check_temperature_c
            ),
            pressure_hpa=await ask("pressure_hpa", "Air pressure", unit="hPa", check=figures.check_pressure_hpa),
            humidity_pct=await ask("humidity_pct", "Relative humidity", unit="%", check=figures.check_humidity_pct),
        )
        figures.check_environment(env)
        d.environment = env
        found: dict[str, Any] = {
            "temperature_c": env.temperature_c,
            "pressure_hpa": env.pressure_hpa,
            "humidity_pct": env.humidity_pct,
        }
        if z_factor:
            d.z_factor = figures.z_factor(env.temperature_c, env.pressure_hpa)
            found["z_factor"] = d.z_factor
        return found

    # ------------------------------------------------------------------------------------------ volume

    async def _check_weight(self, d: _Draft, balance: WeighingInstrument, plan: VolumePlan) -> dict[str, Any]:
        await self._go_on("empty_pan", "Empty the balance pan (it is zeroed next)")
        await balance.zero()
        nominal_g = await self.prompter.ask_number("check_weight_g", "Check weight's nominal mass", unit="g")
        if not nominal_g > 0:
            raise ParameterError(
                f"check_weight_g={nominal_g:g} g: a check weight is heavier than 0 g",
                field="check_weight_g",
                value=nominal_g,
            )
        reference = await self.prompter.ask(
            "check_weight_id", "Check weight's id", default=f"check weight {nominal_g:g} g"
        )
        await self._go_on("place_check_weight", f"Place the {nominal_g:g} g check weight on the pan")
        reading = await balance.stable_weight()
        await self._go_on("remove_check_weight", "Remove the check weight; put the vessel with some water on the pan")
        assert d.balance is not None
        tolerance_mg = plan.check_weight_tolerance_mg or max(nominal_g * 0.5, 3 * d.balance.readability_g * 1000)
        error_mg = (reading.grams - nominal_g) * 1000
        d.reference = reference
        d.notes["check_weight"] = {"nominal_g": nominal_g, "read_g": reading.grams, "tolerance_mg": tolerance_mg}
        if abs(error_mg) > tolerance_mg:
            raise CalibrationRefused(
                f"the balance reads the {nominal_g:g} g check weight as {reading.grams:.6g} g: {error_mg:+.3f} mg, "
                f"outside its tolerance ±{tolerance_mg:.3g} mg: check or calibrate the balance"
            )
        return {"reference": reference, "read_g": reading.grams, "error_mg": error_mg, "tolerance_mg": tolerance_mg}

    async def _syringe(self, d: _Draft, syringe_ml: float | None, prime_ml: float, *, brand: bool) -> dict[str, Any]:
        assert d.info is not None
        capacity = _syringe_ml(d.info, syringe_ml)
        what = f"a {capacity:g} mL {d.syringe_brand} syringe" if brand else f"a {capacity:g} mL syringe"
        await self._go_on("load_syringe", f"Load {what} filled with water, the needle over the vessel")
        await self.target.load_syringe(capacity, capacity)
        if brand:
            await self.target.set_syringe_brand(d.syringe_brand)
        await self.target.prime(prime_ml)
        return {"syringe_ml": capacity, "primed_ml": prime_ml} | ({"syringe_brand": d.syringe_brand} if brand else {})

    async def _blank(
        self, d: _Draft, balance: WeighingInstrument, seconds: float, found: list[figures.Evaporation]
    ) -> dict[str, Any]:
        """The vessel weighed over ``seconds`` with nothing delivered (ISO 8655-6's evaporation blank)."""
        assert d.balance is not None
        await balance.tare()
        start = self.clock()
        times, masses = [0.0], [0.0]
        for _ in range(BLANK_WEIGHINGS):
            await asyncio.sleep(max(start + seconds * len(times) / BLANK_WEIGHINGS - self.clock(), 0.0))
            reading = await balance.stable_weight()
            times.append(self.clock() - start)
            masses.append(reading.grams * 1000)
        readability_mg = d.balance.readability_g * 1000
        found[:] = [figures.evaporation_from_blank(times, masses, readability_mg=readability_mg)]
        d.notes["evaporation"] = {"times_s": times, "masses_mg": masses, "mg_per_s": found[0].rate_mg_per_s}
        return {"loss_mg": -masses[-1], "seconds": times[-1], "mg_per_s": found[0].rate_mg_per_s}

    def _delivery_rate(self, d: _Draft, rate_hz: float | None) -> float:
        assert d.info is not None
        low, high = d.info.rate_range_hz
        return rate_hz if rate_hz is not None else min(max(2.0, low), high)

    async def _weigh_all(
        self,
        d: _Draft,
        balance: WeighingInstrument,
        series: str,
        points: Sequence[float],
        readings: int,
        rate_hz: float,
        evaporation: figures.Evaporation,
    ) -> tuple[SeriesResult, ...]:
        assert d.environment is not None and d.balance is not None
        results = []
        await self._arm()
        for nominal in points:
            shots = figures.shots_per_reading(nominal)
            masses: list[float] = []
            cycles: list[float] = []
            for index in range(readings):
                await balance.tare()
                start = self.clock()
                await self.target.deliver(shots, nominal / 1000, rate_hz)
                reading = await balance.stable_weight()
                cycles.append(self.clock() - start)
                masses.append(reading.grams * 1000)
                self.reporter.reading(
                    series, nominal_ul=nominal, index=index + 1, shots=shots, mass_mg=masses[-1], cycle_s=cycles[-1]
                )
            result = figures.volume_series(
                nominal_ul=nominal,
                readings_mg=masses,
                shots_per_reading=shots,
                environment=d.environment,
                cycle_time_s=statistics.fmean(cycles),
                readability_mg=d.balance.readability_g * 1000,
                evaporation=evaporation,
            )
            results.append(result)
        await self._disarm()
        return tuple(results)

    # ------------------------------------------------------------------------------------------ depth

    async def _gauge_all(
        self, series: str, gauge: DepthGauge | None, depths: Sequence[float], plan: DepthPlan
    ) -> tuple[SeriesResult, ...]:
        results = []
        resolution_um = gauge.resolution_um if gauge is not None else plan.hand_resolution_um
        for depth in depths:
            readings: list[float] = []
            for index in range(plan.repeats):
                self._holding = True  # before the command, as for arming: release_depth is harmless
                await self.target.hold_depth(depth)
                if gauge is not None:
                    reading = await gauge.read_mm()
                else:
                    reading = await self.prompter.ask_number(
                        "depth_reading",
                        f"Gauge reading with the needle held at {depth:g} mm",
                        unit="mm",
                        check=figures.depth_reading_check(depth),
                    )
                await self.target.release_depth()
                self._holding = False
                readings.append(reading * 1000)
                self.reporter.reading(series, set_mm=depth, index=index + 1, gauge_mm=reading)
            results.append(
                figures.depth_series(
                    set_depth_um=depth * 1000, gauge_readings_um=readings, gauge_resolution_um=resolution_um
                )
            )
        return tuple(results)

    # ------------------------------------------------------------------------------------------ rate

    async def _time_all(
        self, d: _Draft, series: str, rates: Sequence[float], seconds: float
    ) -> tuple[SeriesResult, ...]:
        assert d.info is not None
        dose_ml = d.info.dose_range_ml[0]
        results = []
        await self._arm()
        for rate in rates:
            count = math.ceil(seconds * rate * RATE_MARGIN) + 1
            arrivals: list[float] = []
            await self.target.deliver(count, dose_ml, rate, on_shot=_arrivals_into(arrivals))
            result = figures.rate_series(set_rate_hz=rate, arrival_times_s=arrivals)
            self.reporter.reading(
                series, set_hz=rate, shots=len(arrivals), seconds=arrivals[-1] - arrivals[0], measured_hz=result.mean
            )
            results.append(result)
        await self._disarm()
        return tuple(results)

    # ------------------------------------------------------------------------------------------ shared steps

    async def _measured(
        self, d: _Draft, series: str, measure: Callable[[str], Awaitable[tuple[SeriesResult, ...]]]
    ) -> dict[str, Any]:
        results = await measure(series)
        setattr(d, series, results)
        return {"results": [_series_summary(s) for s in results], "passed": all(s.passed for s in results)}

    async def _correct(self, d: _Draft, new: DeviceCalibration) -> dict[str, Any]:
        d.notes["correction"] = new
        return {"before": _constants(_b(d)), "after": _constants(new)}

    async def _write(self, d: _Draft, due_in_days: int) -> dict[str, Any]:
        new: DeviceCalibration = d.notes["correction"]
        assert d.info is not None
        now = self._now()
        d.certificate_id = f"CAL-{d.info.serial_number}-{now:%Y%m%d%H%M%S}"
        d.due_at = now + timedelta(days=due_in_days)
        new = replace(new, calibrated_at=now, due_at=d.due_at, technician=d.technician, certificate_id=d.certificate_id)
        await self._go_on("write", f"Write the corrected calibration to gun {d.info.serial_number}")
        self._write_sent = True
        d.after = await self.target.write(new)
        return {"calibration_id": d.after.calibration_id, "certificate_id": d.certificate_id}

    async def _verdict(self, d: _Draft, verdict: list[tuple[RunOutcome, str]]) -> dict[str, Any]:
        failing = [s for s in d.as_left if not s.passed]
        if not failing:
            verdict.append((RunOutcome.PASSED, ""))
        else:
            reason = "as-left outside the limits: " + "; ".join(_failure(s) for s in failing)
            verdict.append((RunOutcome.FAILED, reason))
        return {"outcome": verdict[0][0].value, "reason": verdict[0][1]}

    async def _sign_off(self, d: _Draft) -> dict[str, Any]:
        meaning = await self.prompter.ask("meaning", "What your signature means", default=DEFAULT_MEANING)
        await self._go_on("sign_off", f"Sign this run as {d.technician}: {meaning!r}")
        d.signature = Signature(signer=d.technician, signed_at=self._now(), meaning=meaning)
        return {"signer": d.technician, "meaning": meaning}

    async def _restore(self, d: _Draft) -> dict[str, Any]:
        """A failed run: the device goes back to the constants it had before."""
        d.after = await self.target.write(_restoring(_b(d)))
        return {"calibration_id": d.after.calibration_id, "constants": _constants(d.after)}

    async def _go_on(self, key: str, question: str) -> None:
        if not await self.prompter.confirm(key, question):
            raise CalibrationAborted(f"the technician declined: {question}")

    async def _arm(self) -> None:
        self._armed = True  # before the command: an abort while it is on its way still disarms (idempotent)
        await self.target.arm()

    async def _disarm(self) -> None:
        await self.target.disarm()
        self._armed = False

    async def _leave_as_found(self, d: _Draft, reason: str) -> None:
        """After an abort: the gun disarmed, the needle released, and the old constants back if a write was sent
        (each attempted once; a link that is gone leaves the note why)."""
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        if self._armed:
            steps.append(("disarm", self._disarm))
        if self._holding:
            steps.append(("release_depth", self.target.release_depth))
        if self._write_sent and d.before is not None:
            steps.append(("restore", lambda: self._restore_after_abort(d)))
        for name, undo in steps:
            try:
                await asyncio.shield(undo())
            except (MesogunError, OSError, asyncio.CancelledError) as error:
                d.notes.setdefault("cleanup_failed", {})[name] = _reason(error)
                log.warning("after the abort (%s): %s failed: %s", reason, name, _reason(error))

    async def _restore_after_abort(self, d: _Draft) -> None:
        assert d.before is not None
        current = await self.target.read()
        if current.calibration_id != d.before.calibration_id:
            d.after = await self.target.write(_restoring(d.before))
            d.notes["restored"] = True


# ---------------------------------------------------------------------------------------------- helpers


def _arrivals_into(arrivals: list[float]) -> ShotSeen:
    """A shot listener that keeps each shot's arrival time (host clock)."""

    def seen(shot: ShotRecord, at: float) -> None:
        arrivals.append(at)

    return seen


def _volume_corrected(old: DeviceCalibration, d: _Draft) -> DeviceCalibration:
    brand = d.syringe_brand
    gain = figures.corrected_volume_gain(old.volume_gain_by_brand.get(brand, 1.0), d.as_found, brand=brand)
    return replace(old, volume_gain_by_brand={**old.volume_gain_by_brand, brand: round(gain, 6)})


def _depth_corrected(old: DeviceCalibration, d: _Draft) -> DeviceCalibration:
    fit = figures.fit_depth_series(d.as_found)
    offset_um, gain = figures.corrected_depth(old.depth_offset_um, old.depth_gain, fit)
    return replace(old, depth_offset_um=offset_um, depth_gain=round(gain, 6))


def _rate_corrected(old: DeviceCalibration, d: _Draft) -> DeviceCalibration:
    return replace(old, rate_gain=round(figures.corrected_rate_gain(old.rate_gain, d.as_found), 6))


def _b(d: _Draft) -> DeviceCalibration:
    assert d.before is not None
    return d.before


def _restoring(before: DeviceCalibration) -> DeviceCalibration:
    """The constants in force before the run, to write back (the device gives them a new id)."""
    return before


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
        return "interrupted (Ctrl-C or the command stopped)"
    if isinstance(error, MesogunError):
        return f"{error.code}: {error}"
    return f"{type(error).__name__}: {error}"


def _date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ParameterError(f"{name}={text!r} is not a date (YYYY-MM-DD)", field=name, value=text) from None


def _on_grid(value: float, step: float) -> float:
    return round(round(value / step) * step, 6)


def _volume_points(info: GunInfo, plan: VolumePlan) -> list[float]:
    """The test volumes, µL per drop: ``fractions`` of the nominal, on the device's dose grid and within its range."""
    low, high = (v * 1000 for v in info.dose_range_ml)
    step = info.limits.dose_nl.step / 1000
    nominal = plan.nominal_ul if plan.nominal_ul is not None else high
    points = [_on_grid(nominal * f, step) for f in plan.fractions]
    for p in points:
        if not low <= p <= high:
            raise ParameterError(
                f"nominal_ul={nominal:g}: a test volume of {p:g} µL is outside the device's range {low:g}–{high:g} µL",
                field="nominal_ul",
                value=nominal,
            )
    return points


def _depth_points(info: GunInfo, points: int) -> list[float]:
    low, high = info.depth_range_mm
    step = info.limits.depth_um.step / 1000
    return sorted({_on_grid(low + (high - low) * i / (points - 1), step) for i in range(points)})


def _syringe_ml(info: GunInfo, asked: float | None) -> float:
    sizes = [s / 1_000_000 for s in info.limits.syringe_sizes_nl]
    if asked is None:
        return max(sizes)
    if not any(math.isclose(asked, s) for s in sizes):
        raise ParameterError(
            f"syringe_ml={asked:g} mL is not one of the device's syringes: {', '.join(f'{s:g}' for s in sizes)} mL",
            field="syringe_ml",
            value=asked,
        )
    return asked


def _series_summary(s: SeriesResult) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "nominal": s.nominal,
        "unit": s.unit,
        "mean": s.mean,
        "systematic_error": s.systematic_error,
        "systematic_pct": s.systematic_pct,
        "random_pct": s.random_pct,
        "passed": s.passed,
    }
    if s.shots_per_reading > 1:
        summary["shots_per_reading"] = s.shots_per_reading
        summary["single_shot_spread_pct"] = s.single_shot_spread_pct
    return summary


def _failure(s: SeriesResult) -> str:
    limits = s.limits
    said = [
        f"systematic {s.systematic_error:+.4g} {s.unit} ({s.systematic_pct:+.2f} %)",
        f"random {s.random_pct:.2f} %",
    ]
    allowed = [
        f"±{limits.systematic_pct:g} %" if limits.systematic_pct is not None else "",
        f"±{limits.systematic_abs:g} {s.unit}" if limits.systematic_abs is not None else "",
        f"random {limits.random_pct:g} %" if limits.random_pct is not None else "",
    ]
    return f"{s.nominal:g} {s.unit}: {', '.join(said)} (limits {', '.join(a for a in allowed if a)})"


def _constants(c: DeviceCalibration) -> dict[str, Any]:
    return {
        "calibration_id": c.calibration_id,
        "volume_gain_by_brand": dict(c.volume_gain_by_brand),
        "depth_offset_um": c.depth_offset_um,
        "depth_gain": c.depth_gain,
        "rate_gain": c.rate_gain,
    }
