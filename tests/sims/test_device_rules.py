"""The device's own hard limits and state rules: refused commands get the right nak and change nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from firmware_protocol import FINGERPRINT, Flag, Frame, NakCode, decode_message
from firmware_protocol.framing import encode_frame

FILL = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}


def _snapshot(status: Any) -> dict[str, Any]:
    fields = dict(status.fields)
    fields.pop("device_time_ms")
    return fields


def test_hello_reports_identity_and_hard_limits(sim_run):
    async def test(sim, host):
        reply = await host.request("hello")
        assert reply.name == "identity" and reply.flags & Flag.REPLY
        assert reply["model"] == "MG-1 (simulated)"
        assert reply["serial_number"] == "SIM0007"
        assert reply["fingerprint"] == FINGERPRINT
        assert (reply["depth_min_um"], reply["depth_max_um"], reply["depth_step_um"]) == (1000, 4000, 100)
        assert (reply["dose_min_nl"], reply["dose_max_nl"], reply["dose_step_nl"]) == (1000, 200_000, 1000)
        assert (reply["rate_min_mhz"], reply["rate_max_mhz"], reply["rate_step_mhz"]) == (500, 10_000, 100)
        assert [m.json_name for m in reply["modes"]] == ["single", "burst", "continuous", "nappage"]
        assert reply["syringe_sizes_nl"] == [2_000_000, 3_000_000, 5_000_000, 10_000_000]
        assert (reply["watchdog_ms"], reply["status_period_ms"]) == (1000, 100)

    sim_run(test, "serial=SIM0007")


def test_out_of_range_parameters_are_refused_and_change_nothing(sim_run):
    async def test(sim, host):
        before = _snapshot(await host.request("get_status"))
        cases = [
            ({"depth_um": 5000, "dose_nl": 10_000, "rate_mhz": 2000}, "depth_um=5000 above max 4000"),
            ({"depth_um": 900, "dose_nl": 10_000, "rate_mhz": 2000}, "depth_um=900 below min 1000"),
            ({"depth_um": 2000, "dose_nl": 250_000, "rate_mhz": 2000}, "dose_nl=250000 above max 200000"),
            ({"depth_um": 2000, "dose_nl": 10_000, "rate_mhz": 10_100}, "rate_mhz=10100 above max 10000"),
        ]
        for fields, detail in cases:
            reply = await host.request("set_parameters", mode="burst", **fields)
            assert host.code(reply) == "out_of_range"
            assert reply["detail"] == detail
        reply = await host.request("load_syringe", capacity_nl=4_000_000, fill_nl=1000)
        assert host.code(reply) == "out_of_range" and "capacity_nl=4000000" in reply["detail"]
        reply = await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=2_000_001)
        assert host.code(reply) == "out_of_range"
        assert _snapshot(await host.request("get_status")) == before
        assert sim.device.counters.commands_executed == 2  # the two get_status

    sim_run(test)


def test_values_off_the_step_are_rounded_and_the_ack_echoes_them(sim_run):
    async def test(sim, host):
        reply = await host.request("set_parameters", depth_um=2049, dose_nl=10_400, rate_mhz=2050, mode="burst")
        assert reply.name == "ack"
        assert (reply["depth_um"], reply["dose_nl"], reply["rate_mhz"]) == (2000, 10_000, 2100)
        assert (sim.device.depth_um, sim.device.dose_nl, sim.device.rate_mhz) == (2000, 10_000, 2100)

    sim_run(test)


def test_commands_in_the_wrong_state_get_the_precise_nak(sim_run):
    async def test(sim, host):
        assert host.code(await host.request("fire", count=1)) == "wrong_state"
        assert host.code(await host.request("arm")) == "no_syringe"
        assert host.code(await host.request("prime", volume_nl=10_000)) == "no_syringe"
        await host.request("load_syringe", **FILL)
        assert host.code(await host.request("arm")) == "not_primed"
        assert host.code(await host.request("disarm")) == "wrong_state"
        await host.request("prime", volume_nl=50_000)
        assert (
            host.code(await host.request("set_parameters", depth_um=2000, dose_nl=10_000, rate_mhz=2000, mode="burst"))
            == "busy"
        )  # priming
        assert sim.device.state.json_name == "priming"

    sim_run(test)


def test_set_parameters_and_load_syringe_are_refused_while_firing(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        await host.request("fire", count=10)
        assert sim.device.state.json_name == "firing"
        before = (sim.device.depth_um, sim.device.dose_nl)
        reply = await host.request("set_parameters", depth_um=3000, dose_nl=20_000, rate_mhz=2000, mode="burst")
        assert host.code(reply) == "wrong_state"
        assert host.code(await host.request("load_syringe", **FILL)) == "wrong_state"
        assert host.code(await host.request("fire", count=1)) == "wrong_state"
        assert (sim.device.depth_um, sim.device.dose_nl) == before

    sim_run(test)


def test_fire_is_refused_busy_while_the_depth_motor_moves_then_accepted(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        # 2.0 → 4.0 mm at 5 mm/s takes 400 ms of device time.
        await host.request("set_parameters", depth_um=4000, dose_nl=10_000, rate_mhz=2000, mode="single")
        reply = await host.request("fire", count=1)
        assert host.code(reply) == "busy" and "depth motor" in reply["detail"]
        assert sim.device.motor_moving
        assert sim.device.needle_depth_um < 4000
        await asyncio.sleep(0.41)
        assert not sim.device.motor_moving and sim.device.needle_depth_um == 4000
        assert (await host.request("fire", count=1)).name == "ack"

    sim_run(test)


def test_single_mode_fires_one_shot_whatever_the_count(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(mode="single")
        reply = await host.request("fire", count=5)
        assert reply["count"] == 1
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")
        assert len(host.events("shot")) == 1

    sim_run(test)


def test_unknown_type_bad_payload_and_device_messages_are_refused(sim_run):
    async def test(sim, host):
        await host.connection.write(encode_frame(Frame(0x3E, 77, b"")))
        reply = await host.wait_for(lambda m: m.seq == 77 and m.name == "nak")
        assert reply["code"] is NakCode.UNKNOWN_TYPE and reply["command"] == 0x3E
        await host.connection.write(encode_frame(Frame(0x10, 78, b"\x01\x02")))  # set_parameters, too short
        reply = await host.wait_for(lambda m: m.seq == 78 and m.name == "nak")
        assert reply["code"] is NakCode.BAD_PAYLOAD and reply["command"] == "set_parameters"
        assert reply["detail"] == (  # protocol terms (field, wire type, lengths), never a decoder's own message
            "set_parameters.dose_nl (u32) at payload offset 2 runs past the end of the 2-byte payload "
            "(0 bytes left; set_parameters takes 9 bytes)"
        )
        reply = await host.request("ack", command="arm")
        assert reply["code"] is NakCode.UNKNOWN_TYPE
        assert sim.device.counters.commands_executed == 0

    sim_run(test)


def test_raw_unknown_type_nak_decodes_with_firmware_protocol():
    """The hand-built nak for an unknown type id round-trips through decode_message."""
    from firmware_protocol import CATALOG

    nak = CATALOG.by_name["nak"]
    payload = nak.struct.build({"command": 0x3E, "code": 1, "detail": "x"})
    message = decode_message(Frame(nak.type_id, 5, bytes(payload), Flag.REPLY))
    assert message["command"] == 0x3E


# ---------------------------------------------------------------------------------------------------
# The answers docs/protocol.md gives to the questions an independent implementation had to guess.


def _alarm_changes(host: Any, start: int = 0) -> list[tuple[str, bool]]:
    return [(m["code"].json_name, bool(m["raised"])) for m in host.events("alarm")[start:]]


def test_reservoir_empty_is_cleared_by_clear_alarm_then_a_new_syringe_is_loaded(sim_run):
    """load_syringe is refused in alarm; clear_alarm clears reservoir_empty (its stroke is over) and the empty
    syringe then refuses arm with insufficient_volume until a new one is loaded."""

    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        sim.device.inject("empty", after_shots=0)
        assert (await host.request("fire", count=5)).name == "ack"
        await host.wait_for(lambda m: m.name == "alarm" and m["code"].json_name == "reservoir_empty")
        assert host.code(await host.request("load_syringe", **FILL)) == "alarm_active"
        assert (await host.request("clear_alarm")).name == "ack"
        status = await host.request("get_status")
        assert status["state"].json_name == "ready" and status["reservoir_nl"] == 0
        assert "reservoir_empty" not in [a.json_name for a in status["active_alarms"]]
        assert host.code(await host.request("arm")) == "insufficient_volume"
        assert (await host.request("load_syringe", **FILL)).name == "ack"
        assert sim.device.state.json_name == "idle"

    sim_run(test)


def test_clear_alarm_with_one_cause_still_present_is_refused_and_clears_nothing(sim_run):
    """A nak changes nothing: the alarms whose cause is gone stay latched beside the one that persists."""
    from firmware_protocol import AlarmCode

    async def test(sim, host):
        await host.ready_to_fire()
        sim.device.inject("occlusion", at_s=0.01)
        sim.device.inject("stall", at_s=0.02)
        await asyncio.sleep(0.1)
        sim.device.hold_cause(AlarmCode.OCCLUSION)
        seen = len(host.events("alarm"))
        reply = await host.request("clear_alarm")
        assert host.code(reply) == "alarm_active"
        assert reply["detail"] == "clear_alarm refused: occlusion still present; nothing cleared"
        assert sim.device.active_alarms == [AlarmCode.OCCLUSION, AlarmCode.MOTOR_STALL]
        assert sim.device.state.json_name == "alarm" and _alarm_changes(host, seen) == []
        sim.device.hold_cause(AlarmCode.OCCLUSION, present=False)
        assert (await host.request("clear_alarm")).name == "ack"
        assert sim.device.active_alarms == [] and sim.device.state.json_name == "ready"
        assert _alarm_changes(host, seen) == [("occlusion", False), ("motor_stall", False)]

    sim_run(test)


def test_power_on_values_and_priming_time_are_the_reference_models(sim_run):
    from firmware_protocol.rules import REFERENCE_MODEL as MODEL

    async def test(sim, host):
        status = await host.request("get_status")
        assert (status["depth_um"], status["dose_nl"], status["rate_mhz"], status["mode"]) == (
            MODEL.power_on_depth_um,
            MODEL.power_on_dose_nl,
            MODEL.power_on_rate_mhz,
            MODEL.power_on_mode,
        )
        assert status["needle_depth_um"] == MODEL.power_on_depth_um and status["state"].json_name == "idle"
        await host.request("load_syringe", **FILL)
        await host.request("prime", volume_nl=50_000)  # 50 µL at 50 µL/s: 1 s
        await asyncio.sleep(0.95)
        assert sim.device.state.json_name == "priming"
        await asyncio.sleep(0.1)
        assert sim.device.state.json_name == "ready" and sim.device.primed

    sim_run(test)


def test_the_largest_dose_at_the_fastest_rate_is_accepted_by_the_reference_device(sim_run):
    """The plunger rule: the reference stroke (at most 60 ms) always fits the shortest shot period (100 ms)."""

    async def test(sim, host):
        reply = await host.request("set_parameters", depth_um=2000, dose_nl=200_000, rate_mhz=10_000, mode="burst")
        assert reply.name == "ack" and (reply["dose_nl"], reply["rate_mhz"]) == (200_000, 10_000)

    sim_run(test)


def test_first_shot_comes_one_stroke_after_the_ack_and_stop_between_strokes_is_immediate(sim_run):
    """fire at 2 shots/s, 10 µL: the first stroke starts at once and its shot ends 22 ms later; a stop while no
    stroke is in progress returns the device to armed at once, with no further shot."""

    async def test(sim, host):
        await host.ready_to_fire(mode="continuous")
        host.start_heartbeat()
        before = (await host.request("get_status"))["device_time_ms"]
        assert (await host.request("fire", count=0)).name == "ack"
        shot = await host.wait_for(lambda m: m.name == "shot")
        assert shot["device_time_ms"] - before == 22  # 20 ms + 40 ms × 10 µL / 200 µL
        await asyncio.sleep(0.2)  # between the first stroke and the second (due 500 ms after the first)
        assert (await host.request("stop")).name == "ack"
        assert sim.device.state.json_name == "armed"
        await asyncio.sleep(1.0)
        assert len(host.events("shot")) == 1

    sim_run(test)


def test_stop_during_a_stroke_lets_that_shot_finish_then_arms(sim_run):
    """ "The end of the shot in progress": a stroke under way completes and is reported; no stroke follows."""

    async def test(sim, host):
        await host.ready_to_fire(mode="continuous")
        host.start_heartbeat()
        await host.request("fire", count=0)
        await asyncio.sleep(0.51)  # the second stroke runs from 500 to 522 ms
        assert sim.device.snapshot().firing.in_stroke
        assert (await host.request("stop")).name == "ack"
        assert sim.device.state.json_name == "firing"
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")
        await asyncio.sleep(1.0)
        shots = host.events("shot")
        assert len(shots) == 2
        assert [(s["partial"], s["delivered_nl"]) for s in shots] == [(False, s["dose_nl"]) for s in shots]

    sim_run(test)


def test_burst_with_count_zero_fires_until_stop(sim_run):
    async def test(sim, host):
        await host.ready_to_fire(mode="burst")
        host.start_heartbeat()
        reply = await host.request("fire", count=0)
        assert reply.name == "ack" and reply["count"] == 0
        await asyncio.sleep(1.6)
        status = await host.request("get_status")
        assert status["state"].json_name == "firing" and status["shots_remaining"] == 0
        assert len(host.events("shot")) == 4
        await host.request("stop")
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")

    sim_run(test)


def test_ties_round_up_and_prime_rounds_to_the_dose_step(sim_run):
    async def test(sim, host):
        reply = await host.request("set_parameters", depth_um=2050, dose_nl=10_500, rate_mhz=2050, mode="burst")
        assert (reply["depth_um"], reply["dose_nl"], reply["rate_mhz"]) == (2100, 11_000, 2100)
        await host.request("load_syringe", **FILL)
        assert (await host.request("prime", volume_nl=2_499))["volume_nl"] == 2_000
        await asyncio.sleep(0.1)
        await host.request("load_syringe", **FILL)
        assert (await host.request("prime", volume_nl=2_500))["volume_nl"] == 3_000
        assert host.code(await host.request("prime", volume_nl=999)) == "busy"  # priming: state first

    sim_run(test)


def test_reservoir_low_is_raised_where_the_reservoir_goes_down_and_only_a_new_syringe_clears_it(sim_run):
    async def test(sim, host):
        await host.request("hello")
        await host.request("load_syringe", capacity_nl=2_000_000, fill_nl=140_000)
        await host.request("prime", volume_nl=50_000)
        await asyncio.sleep(1.1)  # about 90 µL left (88.5 with the hidden +3 %): 8 or 9 doses of the power-on 10 µL
        assert _alarm_changes(host) == [("reservoir_low", True)]
        assert host.alarms_raised() == [("reservoir_low", "low")]
        await host.request("set_parameters", depth_um=2000, dose_nl=1000, rate_mhz=2000, mode="single")
        await host.request("clear_alarm")
        status = await host.request("get_status")
        assert [a.json_name for a in status["active_alarms"]] == ["reservoir_low"]  # a dose change clears nothing
        assert status["state"].json_name == "ready"
        await host.request("load_syringe", **FILL)
        assert _alarm_changes(host) == [("reservoir_low", True), ("reservoir_low", False)]

    sim_run(test)


def test_a_brownout_restarts_counters_clock_and_session_and_clear_alarm_clears_its_notice(sim_run):
    from firmware_protocol.rules import REFERENCE_MODEL as MODEL

    async def test(sim, host):
        await host.ready_to_fire(mode="burst")
        host.start_heartbeat()
        await host.request("fire", count=3)
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")
        seq = await host.send("set_parameters", depth_um=3000, dose_nl=10_000, rate_mhz=2000, mode="burst")
        await asyncio.sleep(5.0)
        executed = sim.device.counters.executed["set_parameters"]
        sim.device.brownout()
        status = await host.request("get_status")
        assert status["state"].json_name == "idle"
        assert (status["shots_session"], status["shots_lifetime"]) == (0, 3)
        assert status["device_time_ms"] < 100 and status["syringe_capacity_nl"] == 0 and not status["primed"]
        assert (status["depth_um"], status["dose_nl"], status["mode"]) == (
            MODEL.power_on_depth_um,
            MODEL.power_on_dose_nl,
            MODEL.power_on_mode,
        )
        assert [a.json_name for a in status["active_alarms"]] == ["brownout_reset"]
        notice = next(m for m in host.events("alarm") if m["code"].json_name == "brownout_reset")
        assert notice.seq == 0 and notice["device_time_ms"] == 0  # the event counter and the clock restart
        # The reply cache is lost: a retry of a command answered before the brown-out is carried out anew.
        await host.request("set_parameters", seq=seq, flags=Flag.RETRY, depth_um=3000, dose_nl=10_000,
                           rate_mhz=2000, mode="burst")  # fmt: skip
        assert sim.device.counters.executed["set_parameters"] == executed + 1
        assert (await host.request("clear_alarm")).name == "ack"  # in idle: clears the notice
        assert sim.device.active_alarms == [] and sim.device.state.json_name == "idle"
        assert _alarm_changes(host)[-1] == ("brownout_reset", False)

    sim_run(test)


def test_commands_before_any_hello_are_carried_out_and_events_flow_without_one(sim_run):
    async def test(sim, host):
        await asyncio.sleep(0.35)
        assert len(host.events("status")) == 3  # every status_period_ms from power-on, hello or not
        assert [m.seq for m in host.events("status")] == [0, 1, 2]
        assert (await host.request("load_syringe", **FILL)).name == "ack"
        assert sim.device.syringe_capacity_nl == 2_000_000

    sim_run(test)
