"""Alarms and injected faults of the simulated gun.

An alarm is raised with the priority :data:`firmware_protocol.rules.ALARM_PRIORITIES` gives it; a
latching alarm (:data:`~firmware_protocol.rules.LATCHING_ALARMS`) halts all motion and puts the device in
``alarm``. Faults (occlusion, empty, stall, brown-out) are injected by time or after a number of shots.
Every change (raised or cleared) goes to the NVM's alarm log, for ``diagnostics``; an occlusion blocks the
fluid line (its pressure stays high until the alarm is cleared), a brown-out is a dip in the supply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from firmware_protocol import AlarmCode, AlarmPriority
from firmware_protocol.rules import ALARM_PRIORITIES, LATCHING_ALARMS
from sims.core import DeviceCore
from sims.faults import FaultName, FaultSpec
from sims.nvm import LoggedAlarm
from sims.statemachine import Event


class Alarms:
    """Raises and clears alarms, and applies injected faults."""

    def __init__(self, core: DeviceCore, halt_motion: Callable[[], None], reboot: Callable[[], None]) -> None:
        self._core = core
        self._halt_motion = halt_motion
        self._reboot = reboot
        self._fault_timers: list[asyncio.TimerHandle] = []
        self.shot_faults: list[tuple[FaultSpec, int]] = []
        """Faults waiting for shots: (fault, shots still delivered before it hits)."""
        self.persisting: set[AlarmCode] = set()
        """Alarms whose cause is still present (a test holds it): ``clear_alarm`` is refused while one is latched."""

    def raise_alarm(self, code: AlarmCode) -> None:
        """Raise ``code`` (once); a latching alarm halts motion and enters ``alarm``."""
        core = self._core
        if code in LATCHING_ALARMS:
            self._halt_motion()
            if core.machine.can(Event.FAULT):
                core.machine.send(Event.FAULT)
        alarms = core.ram.alarms
        if code in alarms:
            return
        priority = ALARM_PRIORITIES[code]
        alarms[code] = priority
        if code is AlarmCode.MOTOR_STALL:
            core.nvm.update(stall_count=core.nvm.data.stall_count + 1)
        self._report(code, priority, raised=True)

    def clear_alarm(self, code: AlarmCode) -> None:
        """Clear ``code`` if latched (sends the ``raised=0`` event); clearing an occlusion frees the line."""
        core = self._core
        priority = core.ram.alarms.pop(code, None)
        if code is AlarmCode.OCCLUSION:
            core.line.occluded = False
        if priority is not None:
            self._report(code, priority, raised=False)

    def _report(self, code: AlarmCode, priority: AlarmPriority, *, raised: bool) -> None:
        """Log an alarm change in NVM, then send its event."""
        core = self._core
        time_ms = core.device_time_ms()
        core.nvm.alarm_log.append(LoggedAlarm(code, priority, raised, core.nvm.data.boot_count, time_ms))
        core.emit("alarm", code=code, priority=priority, raised=raised, device_time_ms=time_ms)

    def schedule(self, spec: FaultSpec) -> None:
        """Schedule a checked fault: after ``after_shots`` shots (or halfway through the stroke after
        ``mid_stroke`` shots), or ``at_s`` loop seconds from now."""
        shots = spec.after_shots if spec.after_shots is not None else spec.mid_stroke
        if shots is not None:
            self.shot_faults.append((spec, shots))
            return
        assert spec.at_s is not None
        loop = self._core.loop
        if loop is None:
            raise RuntimeError("SimulatedGun.start() must be awaited first")
        self._fault_timers.append(loop.call_at(loop.time() + spec.at_s, self.apply, spec.name))

    def due_shot_fault(self) -> FaultSpec | None:
        """Take the shot-triggered fault whose shots have all been delivered, if any."""
        for index, (spec, left) in enumerate(self.shot_faults):
            if left <= 0:
                del self.shot_faults[index]
                return spec
        return None

    def shot_delivered(self) -> None:
        """One more shot: every waiting shot fault comes one shot closer."""
        self.shot_faults = [(spec, left - 1) for spec, left in self.shot_faults]

    def apply(self, name: FaultName) -> None:
        """The fault hits now."""
        if self._core.closed:
            return
        if name is FaultName.BROWNOUT:
            self._core.supply.dip(self._core.now())
            self._reboot()
        elif name is FaultName.OCCLUSION:
            self._core.line.occluded = True
            self.raise_alarm(AlarmCode.OCCLUSION)
        elif name is FaultName.EMPTY:
            self._core.ram.reservoir_nl = 0
            self._core.syringe.empty()
            self.raise_alarm(AlarmCode.RESERVOIR_EMPTY)
        else:
            self.raise_alarm(AlarmCode.MOTOR_STALL)

    def close(self) -> None:
        """Cancel time-triggered faults (power-off)."""
        for handle in self._fault_timers:
            handle.cancel()
        self._fault_timers.clear()
