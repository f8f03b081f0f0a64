"""The device's own state machine (``transitions``): which state changes exist, and nothing else.

States are :class:`firmware_protocol.DeviceState` members; events are :class:`Event` members. The
firmware model checks preconditions itself (to answer with the precise nak code) and then fires an
event; an event that is not allowed from the current state is a bug and raises ``MachineError``.
Synchronous ``Machine`` with ``queued=True``: every callback is non-blocking, so no asyncio machine is needed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from transitions import EventData, Machine

from firmware_protocol import DeviceState

S = DeviceState


class Event(enum.StrEnum):
    """Events of the device state machine."""

    LOAD = "load"
    PRIME = "prime"
    PRIMED = "primed"
    ARM = "arm"
    DISARM = "disarm"
    FIRE = "fire"
    BURST_END = "burst_end"
    FAULT = "fault"
    ESTOP = "estop"
    CLEAR_TO_READY = "clear_to_ready"
    CLEAR_TO_IDLE = "clear_to_idle"
    REBOOT = "reboot"


_TRANSITIONS: tuple[tuple[Event, list[DeviceState] | str, DeviceState], ...] = (
    (Event.LOAD, [S.IDLE, S.READY], S.IDLE),
    (Event.PRIME, [S.IDLE, S.READY], S.PRIMING),
    (Event.PRIMED, [S.PRIMING], S.READY),
    (Event.ARM, [S.READY], S.ARMED),
    (Event.DISARM, [S.ARMED], S.READY),
    (Event.FIRE, [S.ARMED], S.FIRING),
    (Event.BURST_END, [S.FIRING], S.ARMED),
    (Event.FAULT, [S.IDLE, S.READY, S.PRIMING, S.ARMED, S.FIRING, S.ALARM], S.ALARM),
    (Event.ESTOP, "*", S.EMERGENCY_STOP),
    (Event.CLEAR_TO_READY, [S.ALARM, S.EMERGENCY_STOP], S.READY),
    (Event.CLEAR_TO_IDLE, [S.ALARM, S.EMERGENCY_STOP], S.IDLE),
    (Event.REBOOT, "*", S.IDLE),
)


class DeviceStateMachine:
    """Holds the device state; ``on_change(old, new)`` runs after every transition."""

    state: DeviceState

    def __init__(self, on_change: Callable[[DeviceState, DeviceState], None]) -> None:
        self._on_change = on_change
        self._machine = Machine(
            model=self,
            states=DeviceState,
            initial=S.IDLE,
            transitions=[{"trigger": e.value, "source": src, "dest": dst} for e, src, dst in _TRANSITIONS],
            queued=True,
            auto_transitions=False,
            send_event=True,
            after_state_change=self._changed,
            model_override=False,
        )

    def _changed(self, event: EventData) -> None:
        transition = event.transition
        assert transition is not None
        self._on_change(_state(transition.source), _state(transition.dest))

    def can(self, event: Event) -> bool:
        """Whether ``event`` is allowed from the current state."""
        return event.value in self._machine.get_triggers(self.state)

    def send(self, event: Event) -> None:
        """Fire ``event`` (must be allowed: check :meth:`can` or the state first)."""
        self._trigger(event.value)

    def _trigger(self, name: str) -> Any:
        return self._machine.events[name].trigger(self)


def _state(value: Any) -> DeviceState:
    if isinstance(value, DeviceState):
        return value
    return DeviceState[str(value)]
