"""The communication watchdog: while armed or firing, no valid frame within ``watchdog_ms`` raises
``communication_lost``; while the needle is held out for a depth gauge (``hold_depth``), no valid frame within
``watchdog_ms`` releases it (the device's own safety: a host gone silent leaves no needle extended)."""

from __future__ import annotations

from collections.abc import Callable

from firmware_protocol import AlarmCode, DeviceState
from sims.calibration import release
from sims.core import DeviceCore

_GUARDED = (DeviceState.ARMED, DeviceState.FIRING)
_TIMER = "watchdog"
_HOLD_TIMER = "hold_watchdog"
_CLOCK_TOLERANCE_S = 1e-9
"""Float slack when comparing loop times: a deadline exactly reached counts as reached."""


class Watchdog:
    """Fed by every valid frame; runs only in the guarded states (armed, firing)."""

    def __init__(self, core: DeviceCore, raise_alarm: Callable[[AlarmCode], None]) -> None:
        self._core = core
        self._raise_alarm = raise_alarm
        self.last_rx = 0.0
        """Loop time of the last valid frame from the host."""

    def feed(self) -> None:
        """A valid frame arrived now."""
        self.last_rx = self._core.now()

    def on_state_change(self, old: DeviceState, new: DeviceState) -> None:
        """Start the watchdog on entering armed/firing, stop it on leaving them."""
        if new in _GUARDED and old not in _GUARDED:
            self._arm()  # entered from ready by an arm frame, which just fed the watchdog
        elif new not in _GUARDED and self._core.started:
            self._core.timers.cancel(_TIMER)

    def _period_s(self) -> float:
        return self._core.config.watchdog_ms / 1000

    def _arm(self) -> None:
        self._core.timers.at(_TIMER, self.last_rx + self._period_s(), self._check)

    def guard_hold(self) -> None:
        """A ``hold_depth`` began (its frame just fed the watchdog): release it if the host then goes silent."""
        self._core.timers.at(_HOLD_TIMER, self.last_rx + self._period_s(), self._check_hold)

    def _check_hold(self) -> None:
        if self._core.ram.held_depth_um is None:
            return
        silent_s = self._core.now() - self.last_rx
        if silent_s >= self._period_s() - _CLOCK_TOLERANCE_S:
            self._core.mark_watchdog_trip(silent_s)
            release(self._core)
        else:
            self.guard_hold()

    def _check(self) -> None:
        if self._core.state not in _GUARDED:
            return
        silent_s = self._core.now() - self.last_rx
        if silent_s >= self._period_s() - _CLOCK_TOLERANCE_S:
            self._core.mark_watchdog_trip(silent_s)
            self._core.ram.host_id = 0  # the host is gone: its session is closed
            self._raise_alarm(AlarmCode.COMMUNICATION_LOST)
        else:
            self._arm()
