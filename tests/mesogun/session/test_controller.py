"""The host's state machine: safe commands everywhere, following the device, and hints that fit the state.

Which command is allowed in which state is checked against the device rules by the contract test.
"""

from __future__ import annotations

from typing import Any

import pytest

from firmware_protocol import DeviceState
from mesogun.errors import StateError
from mesogun.session.controller import CONNECTED, Controller, HostState


def test_stop_and_emergency_stop_are_allowed_in_every_connected_state() -> None:
    controller = Controller()
    for name in ("stop", "emergency_stop"):
        assert set(CONNECTED) <= set(controller.allowed_states(name))


def test_reconcile_follows_the_device_and_accepted_commands_take_their_transition(virtual: Any) -> None:
    async def scenario() -> None:
        controller = Controller()
        await controller.go(HostState.CONNECTING)
        assert await controller.reconcile(DeviceState.READY)
        assert not await controller.reconcile(DeviceState.READY)
        await controller.accepted("arm")
        assert controller.state is HostState.ARMED
        await controller.accepted("fire")
        assert controller.state is HostState.FIRING
        await controller.reconcile(DeviceState.ALARM)
        assert controller.state is HostState.ALARM
        with pytest.raises(StateError, match=r"fire needs the gun armed; it is alarm \(call clear_alarm\(\)"):
            controller.check("fire")

    virtual(scenario)


def test_clear_alarm_is_allowed_with_nothing_latched(virtual: Any) -> None:
    """clear_alarm on a ready gun is sent (it clears notices such as brownout_reset), never refused."""

    async def scenario() -> None:
        controller = Controller()
        await controller.go(HostState.CONNECTING)
        await controller.reconcile(DeviceState.READY)
        controller.check("clear_alarm")
        assert controller.is_allowed("clear_alarm")

    virtual(scenario)


def test_a_refusal_carries_its_hint_as_actions_each_audience_renders(virtual: Any) -> None:
    """One hint, two languages: the API's message says "call clear_alarm()", and the same error rendered with
    another action renderer (the CLI's) says that audience's command; the state and reason are fields."""

    async def scenario() -> None:
        controller = Controller()
        await controller.go(HostState.CONNECTING)
        await controller.reconcile(DeviceState.IDLE)
        with pytest.raises(StateError) as idle:
            controller.check("arm")
        assert str(idle.value) == (
            "arm needs the gun ready; it is idle (load a syringe and prime it first: call load_syringe(), "
            "then call prime())"
        )
        assert (idle.value.state, idle.value.reason) == ("idle", "the gun is idle")
        await controller.reconcile(DeviceState.EMERGENCY_STOP)
        with pytest.raises(StateError) as latched:
            controller.check("fire")
        assert latched.value.hint is not None and latched.value.hint.actions == ("clear_alarm",)
        assert "call clear_alarm() to release the emergency stop" in str(latched.value)
        said = latched.value.describe(lambda action: f"press <{action}>")
        assert said.endswith("(press <clear_alarm> to release the emergency stop)") and "call" not in said

    virtual(scenario)
