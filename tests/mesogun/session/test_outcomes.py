"""What became of a command whose link failed (``mesogun.session.outcomes``), through the real Gun and the in-process
simulator in virtual time: the error says what the host knows, ``outcome_of`` what the device did, and the README's
retry recipe fires every requested shot exactly once (checked on the device's own execution log)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firmware_protocol import DeviceState, Message, StreamDecoder, decode_message
from mesogun import HostState
from mesogun.errors import CommandOutcome, ConnectionLost, LinkTimeout, ParameterError, PortNotFound
from mesogun.models import ShotEvent
from mesogun.session.gun import Gun, connect
from mesogun.transports.sim import SimTransport
from sims.inprocess import InProcessSim, start_inprocess

README = Path(__file__).resolve().parents[3] / "README.md"

FramePicker = Callable[[Message], bool]


def drop_frames(sim: InProcessSim, *, to_device: FramePicker | None = None, to_host: FramePicker | None = None) -> None:
    """From the next connection on, the line loses the frames the pickers pick (host→device, device→host)."""
    original = sim.connect

    def lossy(send: Callable[[bytes], None], picks: FramePicker) -> Callable[[bytes], None]:
        decoder = StreamDecoder()

        def filtered(data: bytes) -> None:
            if not any(picks(decode_message(frame)) for frame in decoder.feed(data)):
                send(data)

        return filtered

    def connect_lossy() -> Any:
        connection = original()
        if to_device is not None:
            connection.to_device.send = lossy(connection.to_device.send, to_device)  # type: ignore[method-assign,assignment]
        if to_host is not None:
            sim.device.attach(lossy(connection.to_host.send, to_host))
        return connection

    sim.connect = connect_lossy  # type: ignore[method-assign]


def first_fire_lost() -> FramePicker:
    """Picks every attempt (one seq) of the first ``fire`` frame: it never reaches the device."""
    lost: list[int] = []

    def picks(message: Message) -> bool:
        if message.name != "fire":
            return False
        if not lost:
            lost.append(message.seq)
        return message.seq == lost[0]

    return picks


def away_for(sim: InProcessSim, seconds: float) -> Callable[[], None]:
    """A cable pull after which the gun cannot be found for ``seconds`` (a USB gun re-enumerating)."""
    original = sim.connect
    back_at = [0.0]

    def connect_when_back() -> Any:
        if asyncio.get_running_loop().time() < back_at[0]:
            raise PortNotFound("sim://: the gun is not plugged in")
        return original()

    sim.connect = connect_when_back  # type: ignore[method-assign]

    def pull() -> None:
        back_at[0] = asyncio.get_running_loop().time() + seconds
        sim.unplug()

    return pull


async def make_ready(gun: Gun, *, rate_hz: float = 5.0) -> None:
    await gun.load_syringe(capacity_ml=2)
    await gun.prime(volume_ml=0.05)
    await gun.configure(mode="burst", rate_hz=rate_hz, dose_ml=0.01)
    await gun.arm()


async def replug(gun: Gun, sim: InProcessSim) -> None:
    """Pull the cable, let the host notice, reconnect."""
    sim.unplug()
    while gun.state is not HostState.DISCONNECTED:
        await asyncio.sleep(0.01)
    await gun.reconnect()


def unplug_after_shots(gun: Gun, shots: int, unplug: Callable[[], None]) -> asyncio.Task[None]:
    """A task that pulls the cable once ``shots`` shots of the next fire reached the caller."""
    events = gun.events()

    async def watch() -> None:
        seen = 0
        with contextlib.suppress(ConnectionLost):
            async for event in events:
                if isinstance(event, ShotEvent):
                    seen += 1
                    if seen == shots:
                        unplug()
                        break
        events.close()

    return asyncio.get_running_loop().create_task(watch())


def device_shots(sim: InProcessSim, fire_seq: int) -> list[int]:
    """The indices of the shots the device really fired for ``fire_seq`` (its ground truth)."""
    return [shot.shot_index for shot in sim.device.shot_log if shot.fire_seq == fire_seq]


@pytest.mark.parametrize("cut_after", [0, 2])
def test_a_burst_cut_after_its_ack_says_it_fired_and_outcome_of_returns_every_shot_of_it(
    virtual: Any, cut_after: int
) -> None:
    """The cable goes after the fire's ack (before any shot, or after 2): ConnectionLost says executed, with the
    shots delivered; after a reconnect, outcome_of returns every shot the device fired for that fire, none else."""

    async def main() -> tuple[CommandOutcome, CommandOutcome, InProcessSim]:
        sim = await start_inprocess("")
        try:
            async with connect(SimTransport.attach(sim)) as gun:
                await make_ready(gun)
                watcher = unplug_after_shots(gun, cut_after, sim.unplug) if cut_after else None
                with pytest.raises(ConnectionLost) as raised:
                    await gun.fire(8, on_ack=(lambda _: sim.unplug()) if not cut_after else None)
                if watcher is not None:
                    await watcher
                cut = raised.value.outcome
                assert cut is not None
                await gun.reconnect()
                settled = await gun.outcome_of(raised.value)
                assert sim.device.state is DeviceState.ARMED, "the burst is over when outcome_of returns"
                return cut, settled, sim
        finally:
            await sim.close()

    cut, settled, sim = virtual(main)
    assert (cut.command, cut.executed) == ("fire", True)
    assert cut.seq is not None
    delivered = [shot.index for shot in cut.shots]
    assert len(delivered) >= cut_after and delivered == list(range(1, len(delivered) + 1))
    assert cut.shots.fired == len(delivered)
    assert all(shot.fire_seq == cut.seq for shot in cut.shots)
    assert (settled.seq, settled.executed) == (cut.seq, True)
    assert [shot.index for shot in settled.shots] == device_shots(sim, cut.seq) == list(range(1, 9))
    assert settled.shots.fired == 8 and settled.shots.unreceived == 0
    assert [shot.index for shot in settled.shots if not shot.recovered] == delivered, "received details kept"


@pytest.mark.parametrize("cut_after", [0, 2])
def test_when_the_log_cannot_give_the_shots_the_outcome_still_counts_what_the_device_fired(
    virtual: Any, cut_after: int
) -> None:
    """A gun whose logs family is not this host's (its shot log is never read): the cable goes after the fire's
    ack (before any shot, or after 2 were received); outcome_of cannot read the rest back, yet its count is the
    device's (8, from its counter: the received shots counted once), the missing details are named
    unreceived, and a caller following it never fires them again."""

    async def main() -> tuple[CommandOutcome, InProcessSim]:
        sim = await start_inprocess("logs_fingerprint=0x1234")
        try:
            async with connect(SimTransport.attach(sim)) as gun:
                await make_ready(gun)
                watcher = unplug_after_shots(gun, cut_after, sim.unplug) if cut_after else None
                with pytest.raises(ConnectionLost) as raised:
                    await gun.fire(8, on_ack=(lambda _: sim.unplug()) if not cut_after else None)
                if watcher is not None:
                    await watcher
                await gun.reconnect()
                return await gun.outcome_of(raised.value), sim
        finally:
            await sim.close()

    settled, sim = virtual(main)
    assert sim.device.snapshot().shots_lifetime == 8
    assert settled.executed is True and len(settled.shots) >= cut_after
    assert settled.shots.fired == 8, "the device's count, though the host lacks some shots' details"
    assert settled.shots.unreceived == 8 - len(settled.shots)


def test_a_fire_frame_lost_on_the_way_times_out_and_after_a_reconnect_the_device_says_it_did_not_fire(
    virtual: Any,
) -> None:
    """Every attempt of the fire frame is lost before the device: LinkTimeout (executed unknown); after a
    reconnect (whose hello clears the reply cache), the device's shot log and counter say it did not fire."""

    async def main() -> tuple[LinkTimeout, CommandOutcome, InProcessSim]:
        sim = await start_inprocess("")
        drop_frames(sim, to_device=first_fire_lost())
        try:
            async with connect(SimTransport.attach(sim)) as gun:
                await make_ready(gun)
                with pytest.raises(LinkTimeout) as raised:
                    await gun.fire(5)
                await replug(gun, sim)
                return raised.value, await gun.outcome_of(raised.value), sim
        finally:
            await sim.close()

    error, settled, sim = virtual(main)
    assert error.outcome is not None
    assert (error.outcome.command, error.outcome.executed, error.outcome.fields["count"]) == ("fire", None, 5)
    assert error.outcome.seq is not None and list(error.outcome.shots) == []
    assert (settled.executed, list(settled.shots), settled.shots.fired) == (False, [], 0)
    snapshot = sim.device.snapshot()
    assert snapshot.shots_lifetime == 0
    assert [e.name for e in snapshot.executions].count("fire") == 0, "the device never executed it"


def test_an_arm_whose_replies_were_lost_is_found_executed_from_the_device_status(virtual: Any) -> None:
    """Every ack of arm is lost (the device armed): LinkTimeout with executed unknown; the status settles it."""

    async def main() -> tuple[LinkTimeout, CommandOutcome]:
        sim = await start_inprocess("")
        drop_frames(sim, to_host=lambda m: m.name == "ack" and m.get("command") == "arm")
        try:
            async with connect(SimTransport.attach(sim)) as gun:
                await gun.load_syringe(capacity_ml=2)
                await gun.prime(volume_ml=0.05)
                with pytest.raises(LinkTimeout) as raised:
                    await gun.arm()
                return raised.value, await gun.outcome_of(raised.value)
        finally:
            await sim.close()

    error, settled = virtual(main)
    assert error.outcome is not None
    assert (error.outcome.command, error.outcome.executed) == ("arm", None)
    assert (settled.command, settled.seq, settled.executed) == ("arm", error.outcome.seq, True)


def test_work_refused_before_anything_was_sent_is_known_not_executed(virtual: Any) -> None:
    async def main() -> ConnectionLost:
        async with connect("sim://") as gun:
            pass
        with pytest.raises(ConnectionLost) as raised:
            await gun.arm()
        with pytest.raises(ParameterError, match=r"error=ConnectionLost.*no outcome"):
            await gun.outcome_of(ConnectionLost("the cable"))
        return raised.value

    error = virtual(main)
    assert error.outcome == CommandOutcome("arm", None, False)


def readme_recipe() -> Callable[[Gun, int], Any]:
    """The ``fire_exactly`` of the README's "Retrying safely", exactly as printed there."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Retrying safely") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README's Retrying safely section shows its code"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    recipe: Callable[[Gun, int], Any] = namespace["fire_exactly"]
    return recipe


@pytest.mark.parametrize(
    ("case", "fires"),
    [
        ("cut mid-burst, back at once", 1),  # the device finishes the burst: nothing owed
        ("cut mid-burst, back after 2 s", 2),  # the watchdog stopped it: the rest is fired once more
        ("fire frame lost", 1),  # the device never fired: fired once, afterwards
    ],
)
def test_the_readme_retry_recipe_fires_each_requested_shot_once(virtual: Any, case: str, fires: int) -> None:
    fire_exactly = readme_recipe()

    async def main() -> tuple[list[Any], InProcessSim]:
        sim = await start_inprocess("")
        pull = away_for(sim, 2.0 if case.endswith("after 2 s") else 0.0)
        if case == "fire frame lost":
            drop_frames(sim, to_device=first_fire_lost())
        try:
            async with connect(SimTransport.attach(sim)) as gun:
                await make_ready(gun)
                watcher = unplug_after_shots(gun, 2, pull) if case.startswith("cut") else None
                shots = await fire_exactly(gun, 10)
                if watcher is not None:
                    await watcher
                return shots, sim
        finally:
            await sim.close()

    shots, sim = virtual(main)
    snapshot = sim.device.snapshot()
    fire_runs = Counter(e.seq for e in snapshot.executions if e.name == "fire")
    assert snapshot.shots_lifetime == 10, "exactly the requested shots, on the device's own counter"
    assert len(fire_runs) == fires and set(fire_runs.values()) == {1}, "each fire the caller meant ran once"
    assert [shot.index for shot in shots] == list(range(1, 11))
    assert [(s.index, s.fire_seq) for s in shots] == [(s.shot_index, s.fire_seq) for s in sim.device.shot_log]


@pytest.mark.parametrize(
    "seed",
    [
        2,  # once left the host believing the gun still firing: a shot log page's ack hid the status
        3,  # one fire(1) raised after the device fired, one whose frame never reached it
        10,  # the link went while outcome_of asked (heartbeats unanswered): it reconnected and asked again
    ],
)
def test_on_a_lossy_line_the_recipe_fires_single_shots_exactly_once(virtual: Any, seed: int) -> None:
    """The issue's finding, smaller: fire(1) after fire(1) over a line losing 1 % of its bytes each way (acks,
    shot events and statuses lost; some calls time out or lose the link). The README recipe gets every shot the
    device fired and no fire runs twice. (Which calls raise depends on the seed and on every frame's length, so
    the cut-after-ack and lost-frame cases are pinned by the tests above, not by these seeds.)"""
    fire_exactly = readme_recipe()

    async def main() -> tuple[list[CommandOutcome], list[Any], InProcessSim]:
        sim = await start_inprocess(f"drop=0.01&seed={seed}")
        try:
            async with connect(SimTransport.attach(sim), attempts=5, retries=6) as gun:
                await gun.load_syringe(capacity_ml=2)
                await gun.prime(volume_ml=0.05)
                await gun.configure(mode="burst", rate_hz=10, dose_ml=0.001)
                await gun.arm()
                settled: list[CommandOutcome] = []
                ask = gun.outcome_of

                async def outcome_of(error: Any) -> CommandOutcome:
                    settled.append(await ask(error))
                    return settled[-1]

                gun.outcome_of = outcome_of  # type: ignore[method-assign]
                shots = [shot for _ in range(60) for shot in await fire_exactly(gun, 1)]
                return settled, shots, sim
        finally:
            await sim.close()

    settled, shots, sim = virtual(main)
    snapshot = sim.device.snapshot()
    fire_runs = Counter(e.seq for e in snapshot.executions if e.name == "fire")
    assert all(o.command == "fire" and o.executed is not None for o in settled)
    assert snapshot.shots_lifetime == 60 and [shot.index for shot in shots] == list(range(1, 61))
    assert len(fire_runs) == 60 and set(fire_runs.values()) == {1}, "each fire the caller meant ran once"
