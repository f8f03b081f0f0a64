"""The handpiece trigger and the foot pedal: what a press does in each firing mode, and the ``trigger`` events.

A press the device acts on (armed, depth motor at rest, at least one dose left, no other press held) sends a
``trigger`` event (pressed=1) and starts firing with source ``trigger`` or ``pedal``: ``single`` one shot,
``burst`` ``burst_count`` shots (the burst completes even if the switch is let go), ``continuous`` and
``nappage`` at the set rate until the release, which stops at the end of the shot in progress (as ``stop``
does). Its release sends a ``trigger`` event (pressed=0). A press the device does not act on changes
nothing and sends nothing: :meth:`TriggerSwitch.press` returns why, for the simulator's API and its
control channel. RAM state: a brown-out forgets a press held across it.
"""

from __future__ import annotations

from firmware_protocol import DeviceState, Mode, ShotSource
from sims.core import DeviceCore
from sims.firing import Firing

_HOLD = "trigger_hold"
_MILLI = 1000
HOLD_MAX_MS = 3_600_000
"""Longest :meth:`TriggerSwitch.hold` (one hour)."""
SWITCHES = (ShotSource.TRIGGER, ShotSource.PEDAL)
"""The sources a press can come from (``remote`` is a host's ``fire``, not a switch)."""


class TriggerSwitch:
    """The trigger and the pedal (one press at a time): :meth:`press`, :meth:`release`, :meth:`hold`."""

    def __init__(self, core: DeviceCore, firing: Firing) -> None:
        self._core = core
        self._firing = firing
        self.pressed: ShotSource | None = None
        """The switch held down now whose press the device acted on (``None``: none)."""

    def reset(self) -> None:
        """Power-on: no press held."""
        self.pressed = None

    def press(self, source: ShotSource = ShotSource.TRIGGER) -> str | None:
        """Press ``source``; returns ``None`` if the device acted on it, else why it ignored it (nothing changed)."""
        if source not in SWITCHES:
            return f"source={source.json_name} is not a switch; one of trigger, pedal"
        refused = self._refusal()
        if refused is not None:
            return f"{source.json_name} press ignored: {refused}; nothing fired"
        core, ram = self._core, self._core.ram
        self.pressed = source
        core.emit("trigger", source=source, pressed=True, device_time_ms=core.device_time_ms())
        count = ram.burst_count if ram.mode is Mode.BURST else 0  # single: begin() fires one
        self._firing.begin(count, 0, source)
        return None

    def release(self) -> str | None:
        """Let go of the switch held; returns ``None``, or why there was nothing to release."""
        source = self.pressed
        if source is None:
            return "release ignored: no trigger or pedal press is held"
        core = self._core
        self.pressed = None
        core.timers.cancel(_HOLD)
        core.emit("trigger", source=source, pressed=False, device_time_ms=core.device_time_ms())
        if core.ram.mode in (Mode.CONTINUOUS, Mode.NAPPAGE) and self._firing.source is source:
            self._firing.stop()  # at the end of the shot in progress
        return None

    def hold(self, ms: float, source: ShotSource = ShotSource.TRIGGER) -> str | None:
        """Press ``source`` and release it ``ms`` device milliseconds later; ``None``, or why it was ignored."""
        if not 0 < ms <= HOLD_MAX_MS:
            return f"ms={ms:g} out of range: 0 < ms <= {HOLD_MAX_MS} ms"
        refused = self.press(source)
        if refused is None:
            core = self._core
            core.timers.at(_HOLD, core.now() + ms / _MILLI, self._release_after_hold)
        return refused

    def _release_after_hold(self) -> None:
        self.release()

    def _refusal(self) -> str | None:
        """Why a press would be ignored now, or ``None``."""
        core, ram = self._core, self._core.ram
        if self.pressed is not None:
            return f"the {self.pressed.json_name} is already pressed"
        if core.state is not DeviceState.ARMED:
            return f"the device is {core.state.json_name}, not armed"
        if ram.motor.moving(core.now()):
            return f"the depth motor is still moving to {ram.depth_um} µm"
        if ram.reservoir_nl < ram.dose_nl:
            return f"reservoir {ram.reservoir_nl} nL below one dose of {ram.dose_nl} nL"
        return None
