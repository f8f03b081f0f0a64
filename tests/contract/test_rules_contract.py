"""The device rules are one contract: the simulator and the host's controller both follow every cell of
:data:`firmware_protocol.rules.STATE_TABLE` (and so docs/protocol.md, which renders it).

The simulator is driven through its wire protocol only (commands, and fault injection for ``alarm``) into
each device state, on a virtual-time loop, and answers one command per fresh device.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from smp import os_management as smpos

from firmware_protocol import DeviceState, Flag, Message, NakCode, StreamDecoder, decode_message, make, rules, to_wire
from mesogun.errors import StateError
from mesogun.session.controller import FROM_DEVICE, WIRE_COMMANDS, Controller
from sims.clock import run_virtual
from sims.device import SimulatedGun

S = DeviceState
SYRINGE = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}
PRIME_VOLUME_NL = 50_000
PRIME_WAIT_S = 1.5
"""Longer than priming PRIME_VOLUME_NL takes at the simulator's priming flow (1 s)."""
STROKE_WAIT_S = 0.1
"""Longer than the longest plunger stroke (60 ms): a stop while firing takes effect by then."""

VALID_FIELDS: dict[str, dict[str, Any]] = {
    "set_parameters": {"depth_um": 2000, "dose_nl": 10_000, "rate_mhz": 2000, "mode": "continuous"},
    "load_syringe": SYRINGE,
    "prime": {"volume_nl": PRIME_VOLUME_NL},
    "fire": {"count": 0},
    "get_shot_log": {"from_index": 0, "count": 1},  # from the oldest shot held: valid on an empty log too
    "set_burst_count": {"burst_count": 3},
    "write_calibration": {
        "volume_gains": [{"brand": "BD", "gain_ppm": 1_030_000}],
        "depth_offset_um": 80,
        "depth_gain_ppm": 1_000_000,
        "rate_gain_ppm": 1_000_000,
        "calibrated_at": 1_700_000_000,
        "due_at": 1_731_536_000,
        "technician": "T. Nguyen",
        "certificate_id": "CAL-0001",
    },
    "set_syringe_brand": {"brand": "BD"},
    "hold_depth": {"depth_um": 2000},
    "deliver": {"count": 2, "dose_nl": 10_000, "rate_mhz": 2000},
    "smp_request": {"frame": bytes(smpos.EchoWriteRequest(d="contract", sequence=1))},  # os_mgmt echo
}
"""Values inside the reference limits, so that only the state rules (not a range check) can refuse."""


class Device:
    """A simulated gun spoken to in raw frames: each request returns the reply to it."""

    def __init__(self) -> None:
        self.gun = SimulatedGun()
        self._decoder = StreamDecoder()
        self.replies: list[Message] = []
        self._seq = 0

    async def start(self) -> None:
        await self.gun.start()
        self.gun.attach(self._on_bytes)

    def _on_bytes(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            message = decode_message(frame)
            if message.flags & Flag.REPLY:
                self.replies.append(message)

    def request(self, name: str) -> Message:
        """Send ``name`` with valid fields; the device answers synchronously."""
        self._seq += 1
        self.gun.receive(to_wire(make(name, seq=self._seq, **VALID_FIELDS.get(name, {}))))
        reply = self.replies[-1]
        assert reply.seq == self._seq
        return reply

    def ok(self, name: str) -> None:
        reply = self.request(name)
        assert reply.name != "nak", reply


async def _idle_empty(d: Device) -> None:
    d.ok("hello")


async def _idle_loaded(d: Device) -> None:
    d.ok("hello")
    d.ok("load_syringe")


async def _priming(d: Device) -> None:
    await _idle_loaded(d)
    d.ok("prime")


async def _ready(d: Device) -> None:
    await _priming(d)
    await asyncio.sleep(PRIME_WAIT_S)
    d.ok("set_parameters")


async def _armed(d: Device) -> None:
    await _ready(d)
    d.ok("arm")


async def _firing(d: Device) -> None:
    await _armed(d)
    d.ok("fire")


async def _alarm(d: Device) -> None:
    await _ready(d)
    d.gun.inject("occlusion", at_s=0.01)
    await asyncio.sleep(STROKE_WAIT_S)


async def _emergency_stop(d: Device) -> None:
    await _ready(d)
    d.ok("emergency_stop")


@dataclass(frozen=True)
class Setup:
    """A way to bring a fresh device into one state through the protocol."""

    name: str
    state: DeviceState
    drive: Callable[[Device], Awaitable[None]]


SETUPS = (
    Setup("idle-no-syringe", S.IDLE, _idle_empty),
    Setup("idle-syringe-unprimed", S.IDLE, _idle_loaded),
    Setup("priming", S.PRIMING, _priming),
    Setup("ready", S.READY, _ready),
    Setup("armed", S.ARMED, _armed),
    Setup("firing", S.FIRING, _firing),
    Setup("alarm", S.ALARM, _alarm),
    Setup("emergency_stop", S.EMERGENCY_STOP, _emergency_stop),
)


def test_every_state_is_reached() -> None:
    assert {setup.state for setup in SETUPS} == set(DeviceState)


def _condition(code: NakCode, device: SimulatedGun) -> bool:
    """Whether the condition behind ``code`` holds, judged from the device's snapshot (not its code)."""
    snap = device.snapshot()
    if code is NakCode.NO_SYRINGE:
        return snap.syringe_capacity_nl == 0
    if code is NakCode.NOT_PRIMED:
        return not snap.primed
    return False  # valid values, a motor at rest and a full syringe: no other check can refuse


def _expected_refusal(rule: rules.Outcome, device: SimulatedGun) -> NakCode | None:
    """The nak the rules predict: refused cells take their first holding code; accepted cells their checks."""
    if not rule.accepted:
        return next((c for c in rule.naks[:-1] if _condition(c, device)), rule.naks[-1])
    return next((c for c in rule.naks if _condition(c, device)), None)


def _sweep(setup: Setup, command: str) -> tuple[Message, DeviceState, DeviceState]:
    async def main() -> tuple[Message, DeviceState, DeviceState]:
        device = Device()
        await device.start()
        try:
            await setup.drive(device)
            before = device.gun.state
            assert before is setup.state, f"{setup.name} reached {before.json_name}"
            expected = _expected_refusal(rules.outcome(command, before), device.gun)
            reply = device.request(command)
            after = device.gun.state
            rule = rules.outcome(command, before)
            if reply.name != "nak" and rule.to and after not in rule.to:
                await asyncio.sleep(STROKE_WAIT_S)  # stop while firing: at the end of the stroke in progress
                after = device.gun.state
            if expected is None:
                assert reply.name != "nak", f"{command} in {setup.name}: {reply}"
            else:
                assert (reply.name, reply["code"]) == ("nak", expected), f"{command} in {setup.name}: {reply}"
            return reply, before, after
        finally:
            await device.gun.close()

    return run_virtual(main)


@pytest.mark.parametrize("command", rules.COMMANDS)
@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s.name)
def test_simulator_follows_the_rules_cell(setup: Setup, command: str) -> None:
    reply, before, after = _sweep(setup, command)
    rule = rules.outcome(command, before)
    if reply.name == "nak":
        assert after is before, "a refused command changed the state"
    elif rule.to:
        assert after in rule.to, f"{command} in {before.json_name} led to {after.json_name}"
    else:
        assert after is before, f"{command} in {before.json_name} changed the state to {after.json_name}"


HOST_COMMANDS = sorted(WIRE_COMMANDS)


@pytest.mark.parametrize("state", list(DeviceState), ids=lambda s: s.json_name)
@pytest.mark.parametrize("host_command", HOST_COMMANDS)
def test_host_controller_allows_exactly_the_cells_a_host_sends(state: DeviceState, host_command: str) -> None:
    async def main() -> None:
        controller = Controller()
        await controller.go(FROM_DEVICE[state])
        rule = rules.outcome(WIRE_COMMANDS[host_command], state)
        assert controller.is_allowed(host_command) is rule.host_sends
        if not rule.host_sends:
            with pytest.raises(StateError, match=f"{host_command} needs the gun"):
                controller.check(host_command)

    asyncio.run(main())


def test_every_wire_command_but_hello_has_a_host_command() -> None:
    assert set(WIRE_COMMANDS.values()) == set(rules.COMMANDS) - {"hello"}


def test_disarm_while_priming_is_wrong_state_on_both_sides() -> None:
    """The one cell the spec and the simulator disagreed on (busy vs wrong_state), resolved in the table."""
    assert rules.outcome("disarm", S.PRIMING).naks == (NakCode.WRONG_STATE,)
    reply, _, _ = _sweep(SETUPS[2], "disarm")
    assert reply["code"] is NakCode.WRONG_STATE


# ---------------------------------------------------------------------------------------------------
# The host Gun over the simulator: it refuses (StateError, nothing sent) exactly the cells a host does not
# send, and the device carries out the ones it sends; disarm on a gun that is not armed returns False without
# sending (making a gun safe never fails because it is safe already).

GUN_CALLS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "configure": lambda g: g.configure(depth_mm=2.0, dose_ml=0.01, rate_hz=2.0, mode="burst"),
    "load_syringe": lambda g: g.load_syringe(capacity_ml=2, fill_ml=2),
    "prime": lambda g: g.prime(volume_ml=0.05),
    "arm": lambda g: g.arm(),
    "disarm": lambda g: g.disarm(),
    "fire": lambda g: g.fire(count=1),
    "stop": lambda g: g.stop(),
    "emergency_stop": lambda g: g.emergency_stop(),
    "clear_alarm": lambda g: g.clear_alarm(),
}


async def _gun_to(gun: Any, device: SimulatedGun, state: DeviceState) -> None:
    await gun.load_syringe(capacity_ml=2, fill_ml=2)  # idle, with a syringe (host-side volume checks pass)
    if state is S.IDLE:
        return
    await gun.prime(volume_ml=0.05)
    if state is S.ARMED:
        await gun.arm()
    elif state is S.ALARM:
        device.inject("occlusion", at_s=0.01)
        await asyncio.sleep(0.5)
    elif state is S.EMERGENCY_STOP:
        await gun.emergency_stop()


@pytest.mark.parametrize("state", [S.IDLE, S.READY, S.ARMED, S.ALARM, S.EMERGENCY_STOP], ids=lambda s: s.json_name)
@pytest.mark.parametrize("host_command", sorted(GUN_CALLS))
def test_gun_sends_exactly_the_cells_a_host_sends(state: DeviceState, host_command: str) -> None:
    from mesogun.testing import sim_gun

    wire = WIRE_COMMANDS[host_command]
    rule = rules.outcome(wire, state)

    async def main() -> None:
        async with sim_gun() as (gun, sim):
            device = sim.device
            await _gun_to(gun, device, state)
            assert device.state is state
            before = device.snapshot()
            if host_command == "disarm" and state is not S.ARMED:  # already disarmed: safe-making is idempotent
                assert await gun.disarm() is False
                after = device.snapshot()
                assert after.executed.get(wire, 0) == before.executed.get(wire, 0)
                assert after.refused.get(wire, 0) == before.refused.get(wire, 0), "the Gun sent a refused command"
            elif rule.host_sends:
                await GUN_CALLS[host_command](gun)
                assert device.snapshot().executed.get(wire, 0) == before.executed.get(wire, 0) + 1
            else:
                with pytest.raises(StateError):
                    await GUN_CALLS[host_command](gun)
                after = device.snapshot()
                assert after.executed.get(wire, 0) == before.executed.get(wire, 0)
                assert after.refused.get(wire, 0) == before.refused.get(wire, 0), "the Gun sent a refused command"

    run_virtual(main)
