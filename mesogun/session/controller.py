"""The host's state machine (``transitions`` AsyncMachine, enum states, queued): what is allowed when.

Every command is a trigger whose source states are the states that allow it, derived from the device rules
(:data:`firmware_protocol.rules.STATE_TABLE`: the states where the device carries it out); :meth:`Controller.check`
raises :class:`~mesogun.errors.StateError` (naming the current state and what is needed) before anything
is sent. The device remains the authority: :meth:`Controller.reconcile` moves the machine to whatever
state the device reports. All triggers are awaited from one task (the Gun's control task), one at a time,
and callbacks are never used, so the asyncio pitfalls of transitions (#459, #639, #640) cannot arise.
"""

from __future__ import annotations

import enum
from typing import Any

from transitions.extensions.asyncio import AsyncMachine

from firmware_protocol import DeviceState, rules
from mesogun.errors import ConnectionLost, Hint, StateError
from mesogun.i18n import N_
from mesogun.wording import AnyOf, Word, Wording


class HostState(enum.Enum):
    """The host's view of the gun."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    IDLE = "idle"
    READY = "ready"
    PRIMING = "priming"
    ARMED = "armed"
    FIRING = "firing"
    ALARM = "alarm"
    EMERGENCY_STOP = "emergency_stop"


S = HostState
CONNECTED = [S.IDLE, S.READY, S.PRIMING, S.ARMED, S.FIRING, S.ALARM, S.EMERGENCY_STOP]
"""States in which a session with the device is open."""

#: Device state → host state.
FROM_DEVICE: dict[DeviceState, HostState] = {
    DeviceState.IDLE: S.IDLE,
    DeviceState.READY: S.READY,
    DeviceState.PRIMING: S.PRIMING,
    DeviceState.ARMED: S.ARMED,
    DeviceState.FIRING: S.FIRING,
    DeviceState.ALARM: S.ALARM,
    DeviceState.EMERGENCY_STOP: S.EMERGENCY_STOP,
}

TO_DEVICE: dict[HostState, DeviceState] = {host: device for device, host in FROM_DEVICE.items()}
"""Host state → device state (for the connected states)."""

WIRE_COMMANDS: dict[str, str] = {
    "configure": "set_parameters",
    "load_syringe": "load_syringe",
    "prime": "prime",
    "arm": "arm",
    "disarm": "disarm",
    "fire": "fire",
    "stop": "stop",
    "emergency_stop": "emergency_stop",
    "clear_alarm": "clear_alarm",
    "heartbeat": "heartbeat",
    "get_status": "get_status",
    "get_shot_log": "get_shot_log",
    "get_diagnostics": "get_diagnostics",
    "set_burst_count": "set_burst_count",
    "get_calibration": "get_calibration",
    "write_calibration": "write_calibration",
    "set_syringe_brand": "set_syringe_brand",
    "hold_depth": "hold_depth",
    "release_depth": "release_depth",
    "deliver": "deliver",
    "smp_request": "smp_request",
}
"""Controller trigger (the Gun's command) → the wire command it sends."""

WHILE_CONNECTING = frozenset({"emergency_stop", "heartbeat", "get_status"})
"""Commands a host may send while the session is still opening (before the device's state is known)."""


def _command(name: str) -> tuple[str, list[HostState], HostState | None]:
    """One controller trigger derived from :data:`firmware_protocol.rules.STATE_TABLE`."""
    wire = WIRE_COMMANDS[name]
    sources = [
        host
        for host in HostState
        if (host is S.CONNECTING and name in WHILE_CONNECTING)
        or (host in TO_DEVICE and rules.outcome(wire, TO_DEVICE[host]).host_sends)
    ]
    expected = rules.expected_state(wire)
    return name, sources, FROM_DEVICE[expected] if expected is not None else None


#: (trigger = command name, states that allow it, expected state after the device accepted it; None: unchanged
#: or decided by the device's next status). Derived from the device rules, never written by hand.
COMMANDS: list[tuple[str, list[HostState], HostState | None]] = [_command(name) for name in WIRE_COMMANDS]

STATE_WORDS: dict[HostState, str] = {
    S.DISCONNECTED: N_("disconnected"),
    S.CONNECTING: N_("connecting"),
    S.IDLE: N_("idle"),
    S.READY: N_("ready"),
    S.PRIMING: N_("priming"),
    S.ARMED: N_("armed"),
    S.FIRING: N_("firing"),
    S.ALARM: N_("alarm"),
    S.EMERGENCY_STOP: N_("emergency stop"),
}
"""Each state as a person is told it (the gun "is ready"), for the catalog."""

COMMAND_WORDS: dict[str, str] = {
    "configure": N_("Changing the settings"),
    "load_syringe": N_("Loading a syringe"),
    "prime": N_("Priming"),
    "arm": N_("Arming"),
    "disarm": N_("Disarming"),
    "fire": N_("Remote firing"),
    "stop": N_("Stopping"),
    "clear_alarm": N_("Clearing the alarm"),
    "set_burst_count": N_("Setting the burst count"),
}
"""The commands a treatment uses as a person is told what was refused ("Arming needs the gun ready"), for the
catalog; the others are named as the API names them."""


def state_word(state: HostState) -> Word:
    """``state`` in a message: its value in English (``emergency_stop``), its word in another language."""
    return Word(state.value, STATE_WORDS[state])


def command_word(command: str) -> Word:
    """``command`` (a Gun method name) in a message: as it is in English, its word in another language."""
    return Word(command, COMMAND_WORDS.get(command, ""))


_HINTS: dict[HostState, Hint] = {
    S.IDLE: Hint(N_("load a syringe and prime it first: {0}, then {1}"), ("load_syringe", "prime")),
    S.READY: Hint(N_("{0} first"), ("arm",)),
    S.PRIMING: Hint(N_("wait for priming to finish")),
    S.ARMED: Hint(N_("{0} or {1}"), ("disarm", "fire")),
    S.FIRING: Hint(N_("wait for the burst to end or {0}"), ("stop",)),
    S.ALARM: Hint(N_("{0} once the cause is removed"), ("clear_alarm",)),
    S.EMERGENCY_STOP: Hint(N_("{0} to release the emergency stop"), ("clear_alarm",)),
}
"""What to do next, by current state, when a command on the way to firing is refused. The actions are Gun
method names: the API renders them as calls (``call clear_alarm()``), the CLI as its commands."""

_COMMAND_HINTS: dict[str, Hint] = {
    "disarm": Hint(N_("the gun is not armed: there is nothing to disarm")),
}
"""Hints for commands that are not a step towards firing, where the state's hint would mislead."""


class _Model:
    """The object whose ``state`` attribute the machine drives."""

    state: HostState


class Controller:
    """Owns the host state and the rules of which command is allowed in which state."""

    def __init__(self) -> None:
        self._model = _Model()
        transitions: list[dict[str, Any]] = [
            {"trigger": "connecting", "source": [S.DISCONNECTED], "dest": S.CONNECTING},
            {"trigger": "lost", "source": [S.CONNECTING, *CONNECTED], "dest": S.DISCONNECTED},
        ]
        for name, sources, dest in COMMANDS:
            transitions.append({"trigger": name, "source": sources, "dest": dest})
        self.machine = AsyncMachine(
            model=self._model,
            states=HostState,
            transitions=transitions,
            initial=S.DISCONNECTED,
            queued=True,
            auto_transitions=True,
        )

    @property
    def state(self) -> HostState:
        """The current host state."""
        return self._model.state

    def allowed_states(self, command: str) -> list[HostState]:
        """The states in which ``command`` may be sent."""
        event = self.machine.events[command]
        return [HostState[name] for name in event.transitions]

    def is_allowed(self, command: str) -> bool:
        """Whether ``command`` may be sent now."""
        return command in self.machine.get_triggers(self._model.state)

    def check(self, command: str) -> None:
        """Raise if ``command`` is not allowed now: :class:`ConnectionLost` when disconnected, else
        :class:`StateError` naming the current state, the states that allow it and a hint."""
        if self.is_allowed(command):
            return
        state = self._model.state
        if state in (S.DISCONNECTED, S.CONNECTING):
            raise ConnectionLost(
                Wording(
                    N_("{command} needs a connected gun; it is {state} (reconnect first)"),
                    command=command_word(command),
                    state=state_word(state),
                )
            )
        needed = AnyOf(tuple(state_word(s) for s in self.allowed_states(command) if s is not S.CONNECTING))
        raise StateError(
            Wording(
                N_("{command} needs the gun {needed}; it is {state}"),
                command=command_word(command),
                needed=needed,
                state=state_word(state),
            ),
            command=command,
            state=state.value,
            reason=f"the gun is {state.value}",
            hint=_COMMAND_HINTS.get(command) or _HINTS.get(state),
        )

    async def accepted(self, command: str) -> None:
        """The device accepted ``command``: take the transition it implies."""
        await self._model.trigger(command)  # type: ignore[attr-defined]

    async def reconcile(self, device_state: DeviceState) -> bool:
        """Move to the state the device reports; return True if the host's view changed."""
        target = FROM_DEVICE[device_state]
        if target is self._model.state:
            return False
        await self._model.trigger(f"to_{target.name}")  # type: ignore[attr-defined]
        return True

    async def go(self, state: HostState) -> None:
        """Move to ``state`` unconditionally (connection lifecycle: connecting, disconnected)."""
        if state is not self._model.state:
            await self._model.trigger(f"to_{state.name}")  # type: ignore[attr-defined]
