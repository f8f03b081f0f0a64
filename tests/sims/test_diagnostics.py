"""The simulated gun's diagnostics (``sims.diagnostics``): each figure moves when what it counts happens."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cobs import cobs

from firmware_protocol import CATALOG, AlarmCode, Frame, Message
from firmware_protocol.framing import DELIMITER, frame_body
from firmware_protocol.rules import REFERENCE_LIMITS, REFERENCE_MODEL
from sims.nvm import Nvm, NvmData
from sims.physics import LINE_PRESSURE_OCCLUDED_KPA, SUPPLY_NOMINAL_MV


async def _diagnostics(host: Any) -> Message:
    reply = await host.request("get_diagnostics")
    assert reply.name == "diagnostics", reply
    return reply


def _bad_crc_heartbeat(seq: int) -> bytes:
    """A heartbeat frame whose CRC's last byte is flipped (its COBS and length are sound)."""
    body = bytearray(frame_body(Frame(CATALOG.by_name["heartbeat"].type_id, seq)))
    body[-1] ^= 0xFF
    return DELIMITER + cobs.encode(bytes(body)) + DELIMITER


async def _fire(host: Any, count: int) -> None:
    before = len(host.events("shot"))
    await host.request("fire", count=count)
    await host.wait_for(lambda m: m.name == "shot" and len(host.events("shot")) >= before + count)


def test_a_fresh_device_reports_its_first_boot_and_nominal_readings(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await asyncio.sleep(1.0)
        d = await _diagnostics(host)
        assert d["boot_count"] == 1
        assert 1000 <= d["uptime_ms"] <= 1100
        assert d["frames_received"] == 1  # this get_diagnostics
        assert d["strokes"] == d["stroke_last_us"] == d["plunger_stalls"] == 0
        assert d["line_pressure_kpa"] == 0
        assert d["supply_mv"] == SUPPLY_NOMINAL_MV
        assert d["alarms"] == []

    sim_run(main)


def test_a_frame_with_a_bad_crc_counts_one_crc_error_and_is_not_received(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        before = await _diagnostics(host)
        await host.connection.write(_bad_crc_heartbeat(seq=77))
        after = await _diagnostics(host)
        assert after["crc_errors"] == before["crc_errors"] + 1
        assert after["frames_received"] == before["frames_received"] + 1  # only the second get_diagnostics
        assert not [m for m in host.messages if m.seq == 77]  # a bad frame is never answered

    sim_run(main)


def test_noise_on_the_line_counts_as_discarded_bytes_and_survives_a_reconnect(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        before = await _diagnostics(host)
        await host.connection.write(b"\x00\x55\x01" + b"\x00")  # a run too mangled to show a header
        mid = await _diagnostics(host)
        moved = (mid["bytes_discarded"] - before["bytes_discarded"]) + (
            mid["framing_errors"] - before["framing_errors"]
        )
        assert moved > 0
        await host.close()
        other = type(host)(sim.connect())  # a new connection: the device's counters are since power-on
        try:
            after = await _diagnostics(other)
            assert after["bytes_discarded"] >= mid["bytes_discarded"]
            assert after["framing_errors"] >= mid["framing_errors"]
            assert after["frames_received"] == mid["frames_received"] + 1
        finally:
            await other.close()

    sim_run(main)


def test_a_repeated_command_counts_one_replay(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        assert (await host.request("hello")).name == "identity"
        before = await _diagnostics(host)
        first = await host.request("load_syringe", seq=500, capacity_nl=2_000_000, fill_nl=2_000_000)
        again = await host.request("load_syringe", seq=500, capacity_nl=2_000_000, fill_nl=2_000_000)
        assert first.name == again.name == "ack"
        after = await _diagnostics(host)
        assert after["replays"] == before["replays"] + 1
        assert sim.device.snapshot().executed["load_syringe"] == 1

    sim_run(main)


def test_get_diagnostics_is_never_answered_from_the_replay_cache(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        first = await host.request("get_diagnostics", seq=900)
        await asyncio.sleep(0.5)
        again = await host.request("get_diagnostics", seq=900)
        assert again["uptime_ms"] >= first["uptime_ms"] + 500
        assert again["replays"] == first["replays"] == 0

    sim_run(main)


def test_a_bad_payload_is_counted(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        before = await _diagnostics(host)
        prime = CATALOG.by_name["prime"].type_id
        await host.connection.write(DELIMITER + cobs.encode(frame_body(Frame(prime, 321, b"\x01"))) + DELIMITER)
        nak = await host.wait_for(lambda m: m.seq == 321)
        assert host.code(nak) == "bad_payload"
        after = await _diagnostics(host)
        assert after["bad_payloads"] == before["bad_payloads"] + 1

    sim_run(main)


def test_strokes_are_counted_and_timed(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire(dose_nl=10_000)
        host.start_heartbeat()
        sent_before = (await _diagnostics(host))["frames_sent"]
        await _fire(host, 5)
        d = await _diagnostics(host)
        stroke_us = round(REFERENCE_MODEL.stroke_ms(10_000, REFERENCE_LIMITS.dose_max_nl) * 1000)
        assert d["strokes"] == 5
        assert d["stroke_last_us"] == d["stroke_mean_us"] == d["stroke_max_us"] == stroke_us
        assert d["frames_sent"] >= sent_before + 5 + 1  # five shot events and the fire's ack at least

    sim_run(main)


def test_an_occlusion_raises_the_line_pressure_and_is_in_the_alarm_list_with_its_time(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        sim.device.inject("occlusion", after_shots=2)
        await host.request("fire", count=5)
        event = await host.wait_for(lambda m: m.name == "alarm" and m["code"] is AlarmCode.OCCLUSION)
        d = await _diagnostics(host)
        assert d["line_pressure_kpa"] == LINE_PRESSURE_OCCLUDED_KPA
        (entry,) = [a for a in d["alarms"] if a["code"] is AlarmCode.OCCLUSION]
        assert entry["raised"] is True
        assert entry["priority"] is event["priority"]
        assert entry["device_time_ms"] == event["device_time_ms"]
        assert entry["boot"] == d["boot_count"]
        assert (await host.request("clear_alarm")).name == "ack"
        cleared = await _diagnostics(host)
        assert cleared["line_pressure_kpa"] == 0
        assert [(a["code"], a["raised"]) for a in cleared["alarms"]][-1] == (AlarmCode.OCCLUSION, False)

    sim_run(main)


def test_a_brownout_adds_a_boot_restarts_the_counters_and_lowers_the_supply(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await asyncio.sleep(2.0)
        before = await _diagnostics(host)
        sim.device.brownout()
        after = await _diagnostics(host)
        assert after["boot_count"] == before["boot_count"] + 1
        assert after["uptime_ms"] < before["uptime_ms"]
        assert after["frames_received"] == 1  # RAM counters restart at power-on: only this request
        assert after["supply_mv"] < SUPPLY_NOMINAL_MV  # still recovering from the dip
        (entry,) = [a for a in after["alarms"] if a["code"] is AlarmCode.BROWNOUT_RESET]
        assert entry["raised"] is True and entry["boot"] == after["boot_count"]
        await asyncio.sleep(3.0)
        assert (await _diagnostics(host))["supply_mv"] == SUPPLY_NOMINAL_MV

    sim_run(main)


def test_a_stall_is_counted_for_the_device_s_life(sim_run: Any) -> None:
    async def main(sim: Any, host: Any) -> None:
        await host.ready_to_fire()
        host.start_heartbeat()
        sim.device.inject("stall", after_shots=1)
        await host.request("fire", count=3)
        await host.wait_for(lambda m: m.name == "alarm" and m["code"] is AlarmCode.MOTOR_STALL)
        assert (await _diagnostics(host))["plunger_stalls"] == 1
        sim.device.brownout()
        d = await _diagnostics(host)
        assert d["plunger_stalls"] == 1  # non-volatile
        assert d["strokes"] == 0  # since power-on
        assert AlarmCode.MOTOR_STALL in [a["code"] for a in d["alarms"]]  # the alarm log outlives the brown-out

    sim_run(main)


def test_boot_and_stall_counts_are_kept_in_the_nvm_file(tmp_path: Path) -> None:
    path = tmp_path / "gun.json"
    nvm = Nvm(path, NvmData("SIM0042", "SIM-A"))
    nvm.update(boot_count=7, stall_count=2)
    reloaded = Nvm(path, NvmData("other", "other"))
    assert (reloaded.data.boot_count, reloaded.data.stall_count) == (7, 2)


def test_an_nvm_file_written_before_the_boot_count_existed_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    old = {"format": 1, "serial_number": "SIM0042", "hardware_revision": "SIM-A", "shots_lifetime": 12}
    path.write_text(json.dumps({**old, "volume_gain": 1.0, "depth_offset_um": 0}), encoding="utf-8")
    nvm = Nvm(path, NvmData("other", "other"))
    assert (nvm.data.shots_lifetime, nvm.data.boot_count, nvm.data.stall_count) == (12, 0, 0)
