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
