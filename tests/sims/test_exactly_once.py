"""Exactly-once: a command repeating a recent seq gets the cached reply and is not executed again."""

from __future__ import annotations

import asyncio

from firmware_protocol import Flag

FILL = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}


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
