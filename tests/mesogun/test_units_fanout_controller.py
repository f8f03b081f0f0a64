"""Unit conversions against device limits, the fan-out policy, and the state machine's rule table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from firmware_protocol import DeviceState
from mesogun.errors import ConnectionLost, ParameterError, StateError
from mesogun.session.controller import COMMANDS, CONNECTED, Controller, HostState
from mesogun.session.fanout import FanOut
from mesogun.units import DEPTH, DOSE, RATE, WireRange, to_wire, to_wire_int

DEPTH_RANGE = WireRange(1000, 4000, 100)


@pytest.mark.parametrize(
    ("q", "value", "limits", "wire"),
    [
        (DEPTH, 1.5, DEPTH_RANGE, 1500),
        (DEPTH, 4, DEPTH_RANGE, 4000),
        (DOSE, 0.02, WireRange(1000, 200_000, 1000), 20_000),
        (DOSE, 0.1 * 3, WireRange(1000, 400_000, 1000), 300_000),  # float noise is tolerated
        (RATE, 0.5, WireRange(500, 10_000, 100), 500),
    ],
)
def test_user_values_convert_to_wire_units(q: Any, value: float, limits: WireRange, wire: int) -> None:
    assert to_wire(q, value, limits) == wire


def test_limits_come_from_the_device_not_from_hard_coded_copies() -> None:
    """A device reporting a 2–6 mm range accepts 5 mm, which the reference device would refuse."""
    assert to_wire(DEPTH, 5.0, WireRange(2000, 6000, 500)) == 5000
    with pytest.raises(ParameterError, match=r"depth_mm=1.5 is outside the device's range 2.0–6.0 mm"):
        to_wire(DEPTH, 1.5, WireRange(2000, 6000, 500))
    with pytest.raises(ParameterError, match=r"resolution 0.5 mm \(nearest settings: 2.5 or 3.0 mm\)"):
        to_wire(DEPTH, 2.7, WireRange(2000, 6000, 500))


def test_parameter_error_names_field_and_value() -> None:
    with pytest.raises(ParameterError) as caught:
        to_wire(DEPTH, 4.05, DEPTH_RANGE)
    assert str(caught.value) == "depth_mm=4.05 is outside the device's range 1.0–4.0 mm"
    assert (caught.value.field, caught.value.value) == ("depth_mm", 4.05)


def test_values_finer_than_a_wire_unit_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"finer than the wire resolution"):
        to_wire_int(DEPTH, 1.0004)


def test_fanout_never_blocks_the_publisher_and_ends_subscribers_with_the_reason(virtual: Any) -> None:
    async def scenario() -> None:
        fan: FanOut[int] = FanOut()
        a, b = fan.subscribe(3), fan.subscribe(100)
        for i in range(10):
            fan.publish(i)  # synchronous: cannot wait for anyone
        assert a.take_missed() == 7 and a.take_missed() == 0
        assert [await a.get() for _ in range(3)] == [7, 8, 9]
        fan.close(ConnectionLost("gone"))
        assert [await b.get() for _ in range(10)] == list(range(10))
        with pytest.raises(ConnectionLost, match="gone"):
            await b.get()
        late = fan.subscribe()
        with pytest.raises(ConnectionLost):
            await late.get()
        c_fan: FanOut[int] = FanOut()
        c = c_fan.subscribe()
        c.close()
        assert c_fan.subscriber_count == 0
        with pytest.raises(StopAsyncIteration):
            await c.get()

    virtual(scenario)


def test_a_waiting_subscriber_wakes_on_publish(virtual: Any) -> None:
    async def scenario() -> None:
        fan: FanOut[str] = FanOut()
        sub = fan.subscribe()
        task = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        fan.publish("x")
        assert await task == "x"

    virtual(scenario)


def test_every_command_is_checked_in_every_state(virtual: Any) -> None:
    """The rule table: each command is allowed exactly in its listed states, refused with StateError elsewhere."""

    async def scenario() -> None:
        controller = Controller()
        for name, allowed, _dest in COMMANDS:
            for state in HostState:
                await controller.go(state)
                if state in allowed:
                    controller.check(name)
                elif state in (HostState.DISCONNECTED, HostState.CONNECTING):
                    with pytest.raises(ConnectionLost, match=f"{name} needs a connected gun; it is {state.value}"):
                        controller.check(name)
                else:
                    with pytest.raises(StateError, match=f"{name} needs the gun .*; it is {state.value}"):
                        controller.check(name)

    virtual(scenario)


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


def test_clear_alarm_with_nothing_latched_says_so_instead_of_a_next_step(virtual: Any) -> None:
    """clear_alarm on a ready gun: the hint says nothing is latched (not 'call arm() first')."""

    async def scenario() -> None:
        controller = Controller()
        await controller.go(HostState.CONNECTING)
        await controller.reconcile(DeviceState.READY)
        with pytest.raises(StateError, match="nothing to clear") as caught:
            controller.check("clear_alarm")
        assert "arm()" not in str(caught.value)

    virtual(scenario)
