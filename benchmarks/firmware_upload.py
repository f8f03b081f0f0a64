"""Firmware upload throughput over a simulated serial line (issue 17 item 7), and the time to resume after a lost
link.

A signed MCUboot image of :attr:`Settings.firmware_image_kb` (256 kB in a full run; the simulated firmware's
payload, signed with a development key made for the run) is uploaded to a simulated gun whose bootloader pins that
key, at 115200 and 921600 baud (the simulator's ``baud`` impairment: each byte takes 10/baud s on the line, both
ways, :class:`sims.impairments.ImpairedPipe`). One figure is the image's bytes per second from the upload's first
request to the device's hash match, the call a technician makes (:meth:`FirmwareUpdater.upload`, smpclient's
upload over :class:`GunSMPTransport`, chunks sized from the device's MCUmgr ``buf_size``).

* ``firmware_upload_<baud>_vs_wire``: ours on ``sim://?baud=…`` in **virtual time** (the line's time only, no
  CPU) against the wire's byte rate, baud/10: the share of the line the upload's image bytes use. Goal ≥ 0.9.
* ``firmware_upload_<baud>_vs_smpclient``: ours and the field's client in the same run, in **real time**, each
  over a real pty whose simulated end paces bytes at the baud rate with the same ``ImpairedPipe``: ours with a
  :class:`~mesogun.Gun` on the pty of our protocol (:class:`sims.serving.FdServer`), smpclient's ``SMPClient``
  over its ``SMPSerialTransport`` (``Auto``: sized from the endpoint's ``buf_size``) on the gun's standard SMP
  serial endpoint (:func:`sims.smp_serial.serve_on_pty`, base64 console lines). Goal ≥ 1.2×.
* ``firmware_resume_after_disconnect``: in virtual time at 115200 baud, the cable pulled halfway through: the
  time from the pull to the first chunk the device accepts past what it had (the host notices, reconnects, says
  hello, asks the device where it was), against sending again what it already had (the peer: an upload that
  starts over). Informational.
"""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from benchmarks.errors import Unavailable
from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings

T = TypeVar("T")

BAUDS = (115200, 921600)
WIRE_GOAL = 0.9
PEER_GOAL = 1.2
SLOT_KB = 320
"""The simulated gun's image slots: room for a 256 kB image and MCUboot's trailer."""
SMPCLIENT = "smpclient SMPSerialTransport (standard SMP serial endpoint)"
RESUME_BAUD = 115200
SEED = 17


def _wire(baud: int) -> str:
    return f"the wire at {baud} baud (baud/10)"


def _lines() -> tuple[tuple[str, str, str, Better, float | None], ...]:
    rows: list[tuple[str, str, str, Better, float | None]] = []
    for baud in BAUDS:
        rows.append((f"firmware_upload_{baud}_vs_wire", _wire(baud), "B/s", Better.HIGHER, WIRE_GOAL))
        rows.append((f"firmware_upload_{baud}_vs_smpclient", SMPCLIENT, "B/s", Better.HIGHER, PEER_GOAL))
    rows.append(("firmware_resume_after_disconnect", "sending again what the device had", "s", Better.LOWER, None))
    return tuple(rows)


@dataclass(frozen=True)
class Run:
    """What the run uploads, and to which gun."""

    image: bytes
    query: str
    """The ``sim://`` options of a gun pinning the run's key (no line impairment)."""
    policy: Any
    """The host's :class:`UploadPolicy` for that gun."""


def _prepare(folder: Path, size_kb: int) -> Run:
    from mesogun.firmware import generate_dev_key, sign_image, simulated_payload
    from mesogun.firmware.transfer import UploadPolicy
    from sims.config import DeviceConfig

    key = generate_dev_key(folder / "bench.pem")
    config = DeviceConfig()
    payload = simulated_payload("2.0.0", size=size_kb * 1024 - 1024)  # header and TLVs make up the rest
    image = sign_image(
        payload,
        key_path=key.private_path,
        version="2.0.0",
        model=config.model,
        hardware_revision=config.hardware_revision,
        slot_size=SLOT_KB * 1024,
    )
    query = urlencode({"firmware_key": str(key.public_path), "firmware_slot_kb": SLOT_KB, "seed": SEED})
    policy = UploadPolicy((key.public_pem,), config.model, config.hardware_revision)
    return Run(image, query, policy)


# ------------------------------------------------------------------------------------------------ ours, virtual


async def _ours_virtual(run: Run, baud: int) -> float:
    """Seconds (virtual) of one upload over ``sim://`` at ``baud``."""
    from mesogun.firmware.smp_link import gun_target
    from mesogun.firmware.transfer import FirmwareUpdater
    from mesogun.testing import sim_gun

    loop = asyncio.get_running_loop()
    async with sim_gun(f"{run.query}&baud={baud}") as (gun, _), FirmwareUpdater(gun_target(gun)) as fw:
        start = loop.time()
        await fw.upload(run.image, run.policy)
        return loop.time() - start


async def _resume(run: Run, baud: int) -> tuple[float, float, int]:
    """(seconds from the pull to the first chunk past the resume point, seconds the device's share took to send,
    the offset it had), in virtual time."""
    from mesogun.firmware.smp_link import gun_target
    from mesogun.firmware.transfer import FirmwareUpdater, UploadProgress
    from mesogun.testing import sim_gun

    loop = asyncio.get_running_loop()
    marks: dict[str, float] = {}
    reached: list[int] = []
    async with sim_gun(f"{run.query}&baud={baud}") as (gun, sim), FirmwareUpdater(gun_target(gun)) as fw:

        def watch(progress: UploadProgress) -> None:
            now = loop.time()
            marks.setdefault("first", now)
            if "pulled" not in marks and progress.done >= len(run.image) // 2:
                reached.append(progress.done)
                marks["pulled"] = now
                sim.unplug()
            elif "pulled" in marks and "resumed" not in marks and progress.done > reached[0]:
                marks["resumed"] = now

        await fw.upload(run.image, run.policy, progress=watch)
    return marks["resumed"] - marks["pulled"], marks["pulled"] - marks["first"], reached[0]


def _virtual(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from sims.clock import run_virtual

    return run_virtual(work)


# ------------------------------------------------------------------------------------------------ real time, ptys


async def _ours_pty(run: Run, baud: int) -> float:
    """Wall seconds of one upload by a Gun over a pty whose simulated end paces bytes at ``baud``."""
    import mesogun
    from mesogun.firmware.smp_link import gun_target
    from mesogun.firmware.transfer import FirmwareUpdater
    from sims.factory import start_device
    from sims.options import parse_query
    from sims.serving import FdServer, open_pty

    options = parse_query(f"{run.query}&baud={baud}")
    device = await start_device(options)
    master, slave, path = open_pty()
    server = FdServer(device, options, master)
    try:
        async with mesogun.connect(path) as gun, FirmwareUpdater(gun_target(gun)) as fw:
            start = time.perf_counter()
            await fw.upload(run.image, run.policy)
            return time.perf_counter() - start
    finally:
        server.close()
        os.close(slave)
        os.close(master)
        await device.close()


async def _smpclient_pty(run: Run, baud: int) -> float:
    """Wall seconds of smpclient's upload of the same image to the gun's standard SMP serial endpoint on a pty
    paced at ``baud``."""
    from smpclient import SMPClient
    from smpclient.transport.serial import Auto, SMPSerialTransport

    from sims.factory import start_device
    from sims.impairments import Impairments
    from sims.options import parse_query
    from sims.smp_serial import serve_on_pty

    options = parse_query(run.query)
    device = await start_device(options)
    served = serve_on_pty(device, impairments=Impairments(baud=baud), seed=SEED)
    client = SMPClient(SMPSerialTransport(Auto(), baudrate=baud), served.path, timeout_s=5.0)
    try:
        await client.connect()
        start = time.perf_counter()
        async for _ in client.upload(run.image):
            pass
        return time.perf_counter() - start
    finally:
        await client.disconnect()
        served.close()
        await device.close()


# ------------------------------------------------------------------------------------------------ the run


def run(settings: Settings) -> list[Result]:
    """Upload the image at each baud rate: ours in virtual time, then ours and smpclient in real time (their order
    alternating per rate); then the resume."""
    try:
        import smpclient  # noqa: F401

        from mesogun.firmware import transfer  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"the firmware update host is not installed ({exc}): pip install -e .") from exc
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mesogun-bench-fw-") as folder:
        image_run = _prepare(Path(folder), settings.firmware_image_kb)
        size = len(image_run.image)
        for n, baud in enumerate(BAUDS):
            wire = baud / 10
            virtual_s = _virtual(functools.partial(_ours_virtual, image_run, baud))
            ours_virtual = size / virtual_s
            order = [_ours_pty, _smpclient_pty] if n % 2 == 0 else [_smpclient_pty, _ours_pty]
            timed = {step.__name__: asyncio.run(step(image_run, baud)) for step in order}
            ours_real, peer_real = size / timed["_ours_pty"], size / timed["_smpclient_pty"]
            common = {"image_bytes": size, "baud": baud}
            results.append(
                Result(
                    f"firmware_upload_{baud}_vs_wire",
                    ours_virtual,
                    _wire(baud),
                    wire,
                    "B/s",
                    Better.HIGHER,
                    WIRE_GOAL,
                    note="virtual time: the line's time only",
                    extra={**common, "virtual_s": round(virtual_s, 3), "ours_real_vs_wire": round(ours_real / wire, 3)},
                )
            )
            results.append(
                Result(
                    f"firmware_upload_{baud}_vs_smpclient",
                    ours_real,
                    SMPCLIENT,
                    peer_real,
                    "B/s",
                    Better.HIGHER,
                    PEER_GOAL,
                    note="real time, both over a pty paced at the baud rate",
                    extra={
                        **common,
                        "ours_s": round(timed["_ours_pty"], 3),
                        "smpclient_s": round(timed["_smpclient_pty"], 3),
                        "smpclient_vs_wire": round(peer_real / wire, 3),
                    },
                )
            )
        resumed_s, before_s, offset = _virtual(functools.partial(_resume, image_run, RESUME_BAUD))
        results.append(
            Result(
                "firmware_resume_after_disconnect",
                resumed_s,
                "sending again what the device had",
                before_s,
                "s",
                Better.LOWER,
                None,
                note=f"virtual time, {RESUME_BAUD} baud, the cable pulled at byte {offset}",
                extra={"offset": offset, "image_bytes": size},
            )
        )
    return results


BENCHMARK = Benchmark("firmware_upload", run, _lines())
