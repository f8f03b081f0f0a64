"""Link impairments: line time from baud, latency, drop, corruption, split writes, unplug."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from firmware_protocol import make, to_wire
from sims.errors import SimConfigError
from sims.impairments import ImpairedPipe, Impairments
from sims.options import parse_query


def test_line_time_from_baud_shows_in_virtual_time(sim_run):
    """At 9600 baud each byte takes 10/9600 s; a hello round trip takes at least both frames' line time."""

    async def test(sim, host):
        loop = asyncio.get_running_loop()
        request = to_wire(make("hello", seq=1))
        start = loop.time()
        reply = await host.request("hello", seq=1)
        elapsed = loop.time() - start
        reply_len = len(to_wire(reply))
        expected = (len(request) + reply_len) * 10 / 9600
        assert expected <= elapsed <= expected + 0.005

    sim_run(test, "baud=9600&status_period_ms=0")


def test_latency_adds_to_each_direction(sim_run):
    async def test(sim, host):
        loop = asyncio.get_running_loop()
        start = loop.time()
        await host.request("heartbeat")
        assert 0.1 <= loop.time() - start <= 0.101

    sim_run(test, "latency_ms=50&status_period_ms=0")


@pytest.mark.parametrize("query", ["latency_ms=50", "latency_ms=50&split_writes=1", "baud=115200&latency_ms=1"])
def test_bytes_arrive_in_the_order_they_were_sent_even_when_due_on_the_same_tick(virtual: Any, query: str) -> None:
    """A line is first in, first out. Pieces due at the same virtual instant (sent on the same tick, or a
    status and a reply one after the other) used to come out in the timer heap's order, not the line's: a
    status sent before a ``fire`` ack then arrived after it and ended the burst with no shots."""
    impairments = parse_query(query).impairments

    async def scenario() -> list[bytes]:
        received: list[bytes] = []
        pipe = ImpairedPipe(received.append, impairments, random.Random(1), asyncio.get_running_loop())
        for i in range(40):
            pipe.send(bytes([i, i]))
            if i % 10 == 9:
                await asyncio.sleep(0.01)
        await asyncio.sleep(1)
        return received

    assert b"".join(virtual(scenario)) == bytes(i for i in range(40) for _ in range(2))


def test_closing_the_line_loses_what_is_in_flight(virtual: Any) -> None:
    async def scenario() -> list[bytes]:
        received: list[bytes] = []
        pipe = ImpairedPipe(received.append, Impairments(latency_ms=50), random.Random(1), asyncio.get_running_loop())
        pipe.send(b"early")
        await asyncio.sleep(0.06)
        pipe.send(b"late")
        pipe.close()
        pipe.send(b"after")
        await asyncio.sleep(1)
        return received

    assert virtual(scenario) == [b"early"]


def test_drop_and_corruption_damage_bytes_but_valid_frames_still_get_through(sim_run):
    """Fault: 2 % byte drop and 2 % corruption, fixed seed. Must hold: damage is detected (CRC/garbage
    counters), never acted on, and retried commands eventually succeed exactly once."""

    async def test(sim, host):
        conn = host.connection
        for seq in range(1, 301):
            await host.send("heartbeat", seq=seq)
        await asyncio.sleep(1)
        stats = sim.device.decoder_stats
        assert conn.to_device.stats.dropped > 0 and conn.to_device.stats.corrupted > 0
        assert stats["crc_errors"] + stats["garbage_bytes"] + stats["truncated"] + stats["bad_length"] > 0
        assert 0 < sim.device.counters.executed["heartbeat"] < 300
        assert conn.to_host.stats.dropped > 0
        # Retrying a load_syringe until acked executes it exactly once.
        for _ in range(50):
            await host.send("load_syringe", seq=1000, flags=1, capacity_nl=2_000_000, fill_nl=1_000_000)
            await asyncio.sleep(0.05)
            if any(m.seq == 1000 and m.name == "ack" for m in host.messages):
                break
        assert sim.device.counters.executed["load_syringe"] == 1

    sim_run(test, "drop=0.02&corrupt=0.02&seed=7&status_period_ms=0")


def test_the_same_seed_gives_the_same_damage(sim_run):
    results = []

    async def test(sim, host):
        for seq in range(1, 101):
            await host.send("heartbeat", seq=seq)
        await asyncio.sleep(0.5)
        results.append((sim.device.decoder_stats, sorted(m.seq for m in host.messages)))

    sim_run(test, "drop=0.01&corrupt=0.01&seed=3&status_period_ms=0")
    sim_run(test, "drop=0.01&corrupt=0.01&seed=3&status_period_ms=0")
    assert results[0] == results[1]


def test_split_writes_deliver_frames_in_pieces_that_still_decode(sim_run):
    async def test(sim, host):
        for seq in range(1, 21):
            assert (await host.request("get_status", seq=seq)).name == "status"
        assert host.connection.to_host.stats.bytes_out == host.connection.to_host.stats.bytes_in

    sim_run(test, "split_writes=1&seed=1&baud=115200")


def test_unplug_ends_the_connection_and_replug_sees_the_same_device(sim_run):
    """Fault: cable pulled while armed. Must hold: read() gives EOF, write() raises, the device keeps
    running (its watchdog trips), and a new connection sees that state."""

    async def test(sim, host):
        await host.ready_to_fire()
        conn = host.connection
        sim.unplug()
        assert await conn.read() == b"" or host.eof
        with pytest.raises(ConnectionError):
            await conn.write(b"\x00")
        await asyncio.sleep(1.5)
        assert sim.device.state.json_name == "alarm"
        await host.close()
        host.__init__(sim.connect())
        status = await host.request("get_status")
        assert status["state"].json_name == "alarm"
        assert [a.json_name for a in status["active_alarms"]] == ["communication_lost"]

    sim_run(test)


def test_disconnect_at_s_unplugs_the_link(sim_run):
    async def test(sim, host):
        await host.request("heartbeat")
        await asyncio.sleep(2.5)
        assert host.eof
        with pytest.raises(ConnectionError):
            await host.connection.write(b"\x00")

    sim_run(test, "disconnect_at_s=2")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("drop=1.5", "drop=1.5 is out of range: allowed 0 to 1 (probability per byte)"),
        ("baud=fast", "baud=fast is not a number"),
        ("watchdog_ms=10", "watchdog_ms=10 is out of range: allowed 100 to 60000 (ms)"),
        ("colour=red", "colour=red is not a simulator option"),
        ("fault=leak:at_s=1", "fault=leak is not a known fault"),
        ("latency_ms=1&latency_ms=2", "latency_ms=1,2 is given more than once"),
    ],
)
def test_bad_options_raise_a_value_error_naming_option_value_and_range(query, words):
    with pytest.raises(SimConfigError) as info:
        parse_query(query)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(words)


def test_query_options_reach_the_device():
    options = parse_query("serial=SIM9&watchdog-ms=500&status_period_ms=0&fingerprint=0xABCD&split_writes=true&seed=4")
    assert options.device.serial_number == "SIM9"
    assert (options.device.watchdog_ms, options.device.status_period_ms) == (500, 0)
    assert options.device.fingerprint == 0xABCD
    assert options.impairments.split_writes and options.seed == 4
