"""The dispatcher's handler registry: a catalog message the device has no handler for is answered
``nak unknown_type`` (the calibration and firmware ranges are reserved), never an exception; and exactly-once:
a command repeating a recent seq gets the cached reply and is not executed again."""

from __future__ import annotations

import asyncio

from firmware_protocol import (
    CATALOG,
    Catalog,
    Direction,
    Flag,
    Frame,
    MessageSpec,
    NakCode,
    StreamDecoder,
    decode_message,
    encode_frame,
    make,
    to_wire,
)
from sims.clock import run_virtual
from sims.device import SimulatedGun

CALIBRATE_ID = 0x5F
"""The last type id of the firmware update range, free (the family's smp_request is 0x50)."""
FILL = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}


def test_a_catalog_message_without_a_handler_gets_nak_unknown_type() -> None:
    extended = Catalog(
        [*CATALOG, MessageSpec(CALIBRATE_ID, "begin_update", Direction.HOST_TO_DEVICE, "reserved", reply="ack")]
    )

    async def main() -> None:
        gun = SimulatedGun(catalog=extended)
        await gun.start()
        out: list[bytes] = []
        gun.attach(out.append)
        gun.receive(encode_frame(Frame(CALIBRATE_ID, 7, b"")))
        gun.receive(to_wire(make("get_status", seq=8)))  # the device still answers afterwards
        replies = [decode_message(f) for f in StreamDecoder().feed(b"".join(out))]
        replies = [m for m in replies if m.flags & Flag.REPLY]
        assert [(m.name, m.seq) for m in replies] == [("nak", 7), ("status", 8)]
        assert replies[0]["code"] is NakCode.UNKNOWN_TYPE
        assert replies[0]["command"] == CALIBRATE_ID
        assert "not implemented" in replies[0]["detail"]
        assert gun.snapshot().executed == {"get_status": 1}
        await gun.close()

    run_virtual(main)


def test_a_retried_fire_fires_once(sim_run):
    async def test(sim, host):
        await host.ready_to_fire()
        host.start_heartbeat()
        first = await host.request("fire", seq=500, count=3)
        again = await host.request("fire", seq=500, flags=Flag.RETRY, count=3)
        assert first.fields == again.fields and again.name == "ack"
        await host.wait_for(lambda m: m.name == "status" and m["state"].json_name == "armed")
        await asyncio.sleep(3)
        assert [s["shot_index"] for s in host.events("shot")] == [1, 2, 3]
        assert sim.device.counters.executed["fire"] == 1
        assert sim.device.counters.duplicates == 1
        snap = sim.device.snapshot()
        assert [(e.seq, e.name) for e in snap.executions if e.name == "fire"] == [(500, "fire")]
        assert [(r.seq, r.name) for r in snap.replays] == [(500, "fire")]

    sim_run(test)


def test_a_retried_load_syringe_does_not_reset_the_syringe_twice(sim_run):
    async def test(sim, host):
        await host.request("load_syringe", seq=10, **FILL)
        await host.request("prime", volume_nl=50_000)
        await asyncio.sleep(1.5)
        assert sim.device.primed
        reply = await host.request("load_syringe", seq=10, flags=Flag.RETRY, **FILL)
        assert reply.name == "ack"
        assert sim.device.primed, "the duplicate load_syringe must not clear the primed flag"
        assert sim.device.reservoir_nl < 2_000_000, "the duplicate must not refill the reservoir"
        assert sim.device.counters.executed["load_syringe"] == 1

    sim_run(test)


def test_a_retried_nak_is_answered_from_the_cache_too(sim_run):
    async def test(sim, host):
        first = await host.request("arm", seq=9)
        await host.request("load_syringe", **FILL)
        again = await host.request("arm", seq=9, flags=Flag.RETRY)
        assert host.code(first) == host.code(again) == "no_syringe"
        assert sim.device.counters.refused["arm"] == 1

    sim_run(test)


def test_a_reused_seq_with_a_different_command_is_executed(sim_run):
    """After the host's 16-bit seq wraps, the same seq carries a new command: it must run."""

    async def test(sim, host):
        await host.request("heartbeat", seq=42)
        reply = await host.request("load_syringe", seq=42, **FILL)
        assert reply.name == "ack" and reply["command"] == "load_syringe"
        assert sim.device.syringe_capacity_nl == 2_000_000

    sim_run(test)


def test_hello_starts_a_new_session_and_clears_the_reply_cache(sim_run):
    """A new host reusing an old seq after hello must get its command executed, not a stale cached reply."""

    async def test(sim, host):
        await host.request("load_syringe", seq=77, **FILL)
        await host.request("hello", seq=78)
        reply = await host.request("load_syringe", seq=77, **FILL)
        assert reply.name == "ack"
        assert sim.device.counters.executed["load_syringe"] == 2
        assert sim.device.counters.duplicates == 0

    sim_run(test)


def test_hello_of_another_protocol_version_gets_identity_then_every_command_is_refused(sim_run):
    """hello's layout is frozen: a host speaking protocol 2 still learns who the device is, then is refused."""
    from firmware_protocol import Frame, encode_frame, encode_message, make

    async def test(sim, host):
        hello = encode_message(make("hello", seq=5))
        start = len(host.messages)
        await host.connection.write(encode_frame(Frame(hello.msg_type, 5, hello.payload, version=2)))
        reply = await host.wait_for(lambda m: m.seq == 5 and bool(m.flags & Flag.REPLY), start=start)
        assert reply.name == "identity" and reply["protocol_version"] == 1
        refused = await host.request("load_syringe", **FILL)
        assert host.code(refused) == "incompatible_version"
        assert sim.device.counters.executed["load_syringe"] == 0

    sim_run(test)


def test_a_retried_get_status_is_answered_afresh_not_from_the_cache(sim_run):
    """Reads change nothing, so a repeat of get_status reports the state of now, never a stale copy."""

    async def test(sim, host):
        first = await host.request("get_status", seq=31)
        await host.request("load_syringe", **FILL)
        again = await host.request("get_status", seq=31, flags=Flag.RETRY)
        assert first["syringe_capacity_nl"] == 0 and again["syringe_capacity_nl"] == FILL["capacity_nl"]
        assert sim.device.counters.duplicates == 0

    sim_run(test)
