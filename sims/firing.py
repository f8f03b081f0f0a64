"""Firing: plunger strokes at the set rate, shot events, the end of a burst, and halting all motion.

A stroke starts (faults and an empty reservoir are checked then), takes the plunger time of the dose, and
ends in a shot: the lifetime counter is persisted before the ``shot`` event is sent. A stroke cut short by an
alarm (or an emergency stop) after the plunger started moving is a *partial* shot: liquid went in, so it takes
the next index and is reported with the device's estimate of what left (the dose × the fraction of the
stroke time done).

The device applies its calibration (NVM) and the hardware its hidden truth (configuration): the plunger pushes
dose / the device's gain for the declared brand and truly delivers that × the brand's hidden gain; the shot
period is the set period × the device's rate gain by its own clock, which runs at the hidden rate gain. Reported
values stay in set units (the device's estimate); the ground-truth shot record keeps the true volume and depth.
"""

from __future__ import annotations

from firmware_protocol import AlarmCode, DeviceState, Mode, ShotSource
from sims.alarms import Alarms
from sims.core import DeviceCore, ShotRecord
from sims.nvm import LoggedShot
from sims.statemachine import Event

_STROKE = "stroke"
_PRIME = "prime"
_MID_STROKE_FAULT = "mid_stroke_fault"
_MILLI = 1000
"""Milli-shots per shot: a rate of ``rate_mhz`` fires every ``_MILLI / rate_mhz`` seconds."""


class Firing:
    """One burst at a time: :meth:`begin`, strokes on the loop's timers, :meth:`stop` or :meth:`halt`."""

    def __init__(self, core: DeviceCore, alarms: Alarms) -> None:
        self._core = core
        self._alarms = alarms
        self.reset()

    def reset(self) -> None:
        """No burst in progress (power-on)."""
        self.fire_seq = 0
        self.dose_nl = 0
        """The dose of the burst in progress (the set dose; a ``deliver``'s own)."""
        self.rate_mhz = 0
        """The rate of the burst in progress (the set rate; a ``deliver``'s own)."""
        self.source = ShotSource.REMOTE
        self.host_id = 0
        self.shots_remaining = 0
        self.unbounded = False
        self.in_stroke = False
        self._stop_after_stroke = False
        self._next_stroke_at = 0.0
        self._stroke_began = 0.0
        self._stroke_s = 0.0

    @property
    def stroke_scheduled(self) -> bool:
        """Whether a stroke timer is pending."""
        return self._core.started and self._core.timers.active(_STROKE)

    def begin(
        self,
        count: int,
        fire_seq: int,
        source: ShotSource = ShotSource.REMOTE,
        *,
        dose_nl: int | None = None,
        rate_mhz: int | None = None,
    ) -> int:
        """Start a burst of ``count`` shots (0: until stop; single mode: one) fired by ``source`` (a trigger or
        pedal burst has ``fire_seq`` 0); returns the count applied. A measurement move (``deliver``) gives its own
        ``dose_nl`` and ``rate_mhz``: exactly ``count`` shots, whatever the mode, the set parameters unchanged."""
        core = self._core
        measuring = dose_nl is not None
        count = 1 if core.ram.mode is Mode.SINGLE and not measuring else count
        now = core.now()
        self.fire_seq = fire_seq
        self.dose_nl = core.ram.dose_nl if dose_nl is None else dose_nl
        self.rate_mhz = core.ram.rate_mhz if rate_mhz is None else rate_mhz
        self.source = source
        self.host_id = core.ram.host_id  # a remote burst stays its sender's, whoever says hello meanwhile
        self.shots_remaining = count
        self.unbounded = count == 0
        self._stop_after_stroke = False
        core.machine.send(Event.FIRE)
        self._next_stroke_at = now
        core.timers.at(_STROKE, now, self._stroke_start)
        return count

    def stop(self) -> None:
        """``stop``: end the burst now, or at the end of the stroke in progress."""
        if self._core.state is not DeviceState.FIRING:
            return
        if self.in_stroke:
            self._stop_after_stroke = True
        else:
            self._end()
            self._core.machine.send(Event.BURST_END)

    def start_priming(self, volume_nl: int) -> None:
        """Enter priming; the reservoir pays the volume and the line is primed when it is done."""
        core = self._core
        core.machine.send(Event.PRIME)
        duration = volume_nl / core.config.physics.prime_rate_nl_s
        core.timers.at(_PRIME, core.now() + duration, lambda: self._prime_done(volume_nl))

    def _prime_done(self, volume_nl: int) -> None:
        core = self._core
        if core.state is not DeviceState.PRIMING:
            return
        ram = core.ram
        ram.reservoir_nl = max(ram.reservoir_nl - volume_nl, 0)  # the device's estimate: what it commanded
        core.syringe.push(volume_nl, self._volume_ratio())  # the truth: what really left the syringe
        ram.primed = True
        core.machine.send(Event.PRIMED)
        self._check_reservoir_low()

    def _volume_ratio(self) -> float:
        """True volume / the device's estimate for the declared brand: hidden gain / the device's gain (1.0 once
        calibrated right)."""
        core, brand = self._core, self._core.ram.syringe_brand
        return core.config.hidden_truth.volume_gain_for(brand) / core.nvm.data.calibration.volume_gain(brand)

    def _period_s(self) -> float:
        """Loop seconds between shots: the set period × the device's rate gain on its own clock, which runs at the
        hidden rate gain (so the true rate is the set rate once calibrated right)."""
        core = self._core
        device_period_s = _MILLI / self.rate_mhz * core.nvm.data.calibration.rate_gain
        return device_period_s / core.config.hidden_truth.rate_gain

    def _check_reservoir_low(self) -> None:
        """Raise ``reservoir_low`` when fewer than ``low_reservoir_doses`` doses at the set dose are left.

        Checked where the reservoir goes down (after a shot, at the end of priming) and nowhere else: a dose
        change neither raises nor clears it; only ``load_syringe`` clears it.
        """
        core, ram = self._core, self._core.ram
        doses_left = ram.reservoir_nl // max(ram.dose_nl, 1)
        if doses_left < core.config.physics.low_reservoir_doses and AlarmCode.RESERVOIR_LOW not in ram.alarms:
            self._alarms.raise_alarm(AlarmCode.RESERVOIR_LOW)

    def halt(self) -> None:
        """Stop firing, priming and the depth motor at once (alarm, emergency stop); a stroke under way is
        reported as a partial shot."""
        if self.in_stroke:
            self._abort_stroke()
        self._end()
        self._core.timers.cancel(_PRIME)
        self._core.ram.motor.halt(self._core.now())

    def _end(self) -> None:
        self._core.timers.cancel(_STROKE)
        self.in_stroke = False
        self._stop_after_stroke = False
        self.shots_remaining = 0
        self.unbounded = False

    def _stroke_start(self) -> None:
        core = self._core
        if core.state is not DeviceState.FIRING:
            return
        due = self._alarms.due_shot_fault()
        if due is not None and due.mid_stroke is None:
            self._alarms.apply(due.name)  # before the plunger moves: no shot
            return
        ram = core.ram
        if ram.reservoir_nl < self.dose_nl or not core.syringe.holds(self.dose_nl, self._volume_ratio()):
            # by its own estimate, or the plunger bottomed out (the truth ran out first): the device knows it now
            ram.reservoir_nl = 0
            self._alarms.raise_alarm(AlarmCode.RESERVOIR_EMPTY)
            return
        self.in_stroke = True
        self._stroke_began = core.now()
        self._stroke_s = core.config.physics.plunger_s(self.dose_nl, core.config.limits.dose_max_nl)
        core.timers.at(_STROKE, core.now() + self._stroke_s, self._stroke_end)
        if due is not None:  # a mid-stroke fault: it hits halfway through this stroke
            name = due.name
            core.timers.at(_MID_STROKE_FAULT, core.now() + self._stroke_s / 2, lambda: self._alarms.apply(name))

    def _stroke_end(self) -> None:
        core, ram = self._core, self._core.ram
        self.in_stroke = False
        ram.plunger.record(round((core.now() - self._stroke_began) * 1_000_000))  # as the device times its strokes
        self._report_shot(self.dose_nl, partial=False)
        self._check_reservoir_low()
        if not self.unbounded:
            self.shots_remaining -= 1
        if self._stop_after_stroke or (not self.unbounded and self.shots_remaining <= 0):
            self._end()
            core.machine.send(Event.BURST_END)
            return
        self._next_stroke_at += self._period_s()
        core.timers.at(_STROKE, max(self._next_stroke_at, core.now()), self._stroke_start)

    def _abort_stroke(self) -> None:
        """The stroke under way stops where the plunger is: a partial shot if it had started moving.

        The device estimates what left from the time the plunger ran: the dose × the fraction of the stroke time
        done (rounded down, so a partial shot is always less than the dose).
        """
        core = self._core
        self.in_stroke = False
        core.timers.cancel(_MID_STROKE_FAULT)
        elapsed = core.now() - self._stroke_began
        if elapsed <= 0 or self._stroke_s <= 0:
            return  # the plunger never moved: nothing left the syringe, no shot
        fraction = min(elapsed / self._stroke_s, 1.0)
        dose = self.dose_nl
        self._report_shot(min(int(dose * fraction), dose), partial=True)

    def _report_shot(self, delivered_nl: int, *, partial: bool) -> None:
        """Count, persist, log and send one shot whose plunger pushed ``delivered_nl`` (the device's estimate)."""
        core, ram = self._core, self._core.ram
        calibration = core.nvm.data.calibration
        volume = core.syringe.push(delivered_nl, self._volume_ratio())  # the truth, for the shot record only
        ram.reservoir_nl = max(ram.reservoir_nl - delivered_nl, 0)  # the device's estimate: what it commanded
        ram.shots_session += 1
        lifetime = (core.nvm.data.shots_lifetime + 1) & 0xFFFF_FFFF  # a u32: after 2**32 - 1 comes 0
        core.nvm.update(shots_lifetime=lifetime)  # persisted before the shot is reported
        self._alarms.shot_delivered()
        motor_um = ram.motor.position(core.now())
        depth = round(calibration.believed_depth_um(motor_um))  # in set units: the device's estimate
        true_depth = round(core.config.hidden_truth.depth_um(motor_um))
        time_ms = core.device_time_ms()
        dose = self.dose_nl
        core.shot_log.append(ShotRecord(lifetime, self.fire_seq, depth, dose, true_depth, volume, time_ms))
        host_id = self.host_id if self.source is ShotSource.REMOTE else ram.host_id  # a switch: the session now
        calibration_id = calibration.calibration_id
        logged = LoggedShot(
            lifetime, self.fire_seq, depth, dose, time_ms, self.source, partial, delivered_nl, host_id, calibration_id
        )
        core.nvm.shot_log.append(logged)
        core.emit(
            "shot",
            shot_index=lifetime,
            fire_seq=self.fire_seq,
            depth_um=depth,
            dose_nl=dose,
            device_time_ms=time_ms,
            source=self.source,
            host_id=host_id,
            partial=partial,
            delivered_nl=delivered_nl,
            calibration_id=calibration_id,
        )
