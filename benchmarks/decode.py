"""Decode throughput: our stream decoder against pymavlink's ``parse_buffer`` on a like-for-like stream.

Both streams carry the same mix and count of messages of similar wire size, cut into the same chunks,
with the same garbage runs between frames:

* ours: ``status`` (52 bytes on the wire) and ``shot`` (30 bytes) in alternation, as during firing
  (status at 10 Hz, shots at 10/s), plus one ``ack`` and one ``alarm`` per 100 frames;
* MAVLink v2 (unsigned): ``HIGH_LATENCY`` (52 bytes, 24 integer fields) for status, ``UAVCAN_NODE_STATUS``
  (29 bytes, 6 integer fields) for shot, ``COMMAND_ACK`` and ``HEARTBEAT`` for ack and alarm.

pymavlink's ``parse_buffer`` checks the CRC and unpacks every field into a message object, so the fair
figure of ours is frames *and* fields (``StreamDecoder.feed`` + ``decode_message``): that is the headline.
Frames alone (framing, COBS and CRC only) is reported beside it for information.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.errors import Unavailable
from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings
from benchmarks.stats import median
from firmware_protocol import AlarmCode, AlarmPriority, DeviceState, Mode, StreamDecoder, decode_message, make, to_wire

CHUNK = 512
"""Bytes per ``feed``/``parse_buffer`` call, like one serial read of a busy line."""
GARBAGE_EVERY = 50
"""One garbage run (5–20 bytes, never a delimiter or a MAVLink start byte) per this many frames."""
_SEED = 7


@dataclass(frozen=True)
class Stream:
    """A synthetic wire stream and what decoding it must yield."""

    data: bytes
    frames: int
    garbage_bytes: int

    def chunks(self) -> list[bytes]:
        """The stream cut into :data:`CHUNK`-byte reads."""
        return [self.data[i : i + CHUNK] for i in range(0, len(self.data), CHUNK)]


def _garbage(rng: random.Random) -> bytes:
    # 0x00 is our delimiter and 0xFD/0xFE are MAVLink start bytes: keep both streams' resync work alike.
    return bytes(rng.randint(0x01, 0xFC) for _ in range(rng.randint(5, 20)))


def _kind(i: int) -> str:
    """Which message the ``i``-th frame is: status and shot alternate; 1 ack and 1 alarm per 100."""
    slot = i % 100
    if slot == 49:
        return "ack"
    if slot == 99:
        return "alarm"
    return "status" if i % 2 == 0 else "shot"


def _our_frame(i: int) -> bytes:
    t = 1_000_000 + 100 * i
    kind = _kind(i)
    if kind == "status":
        msg = make(
            "status",
            seq=i & 0xFFFF,
            state=DeviceState.FIRING,
            depth_um=2500,
            dose_nl=20_000,
            rate_mhz=10_000,
            mode=Mode.CONTINUOUS,
            needle_depth_um=2500,
            syringe_capacity_nl=5_000_000,
            reservoir_nl=4_000_000 - 20 * i,
            primed=True,
            shots_session=i // 2 + 1,
            shots_lifetime=40_000 + i // 2,
            shots_remaining=0,
            device_time_ms=t,
            active_alarms=[],
        )
    elif kind == "shot":
        msg = make(
            "shot",
            seq=i & 0xFFFF,
            shot_index=40_000 + i // 2,
            fire_seq=17,
            depth_um=2510,
            dose_nl=20_100,
            device_time_ms=t,
        )
    elif kind == "ack":
        msg = make(
            "ack",
            seq=i & 0xFFFF,
            flags=2,
            command="set_parameters",
            depth_um=2500,
            dose_nl=20_000,
            rate_mhz=10_000,
            mode=Mode.CONTINUOUS,
        )
    else:
        msg = make(
            "alarm",
            seq=i & 0xFFFF,
            code=AlarmCode.RESERVOIR_LOW,
            priority=AlarmPriority.LOW,
            raised=True,
            device_time_ms=t,
        )
    return to_wire(msg)


def _mixed_stream(frames: int, frame: Callable[[int], bytes]) -> Stream:
    """``frames`` frames made by ``frame(i)``, with the same garbage runs at the same places for every peer."""
    rng = random.Random(_SEED)
    parts: list[bytes] = []
    garbage = 0
    for i in range(frames):
        if i % GARBAGE_EVERY == GARBAGE_EVERY - 1:
            junk = _garbage(rng)
            garbage += len(junk)
            parts.append(junk)
        parts.append(frame(i))
    return Stream(b"".join(parts), frames, garbage)


def our_stream(frames: int) -> Stream:
    """The mixed stream of ours with ``frames`` frames."""
    return _mixed_stream(frames, _our_frame)


def _mavlink() -> Any:
    try:
        from pymavlink.dialects.v20 import common  # type: ignore[import-untyped]
    except ImportError as exc:
        raise Unavailable(f"pymavlink is not installed ({exc}): pip install -e '.[bench]'") from None
    return common


def mavlink_stream(frames: int) -> Stream:
    """The MAVLink v2 stream with the same mix, garbage and chunking as :func:`our_stream`."""
    common = _mavlink()
    mav = common.MAVLink(None, srcSystem=1, srcComponent=1)

    def frame(i: int) -> bytes:
        t = 1_000_000 + 100 * i
        kind = _kind(i)
        if kind == "status":
            msg = mav.high_latency_encode(
                81, 3 + i, 1, -1500, 2200, 27000, 55, 27100, 473977418, 85455939, 500, 510, 12, 13, 14, 2, 11, 3, 80,
                25, 21, 1, 7, 1200,
            )  # fmt: skip
        elif kind == "shot":
            msg = mav.uavcan_node_status_encode(1_700_000_000_000_000 + t, t // 1000 + 1, 1, 2, 3, 17)
        elif kind == "ack":
            msg = mav.command_ack_encode(400, 1, 100, 12, 255, 190)
        else:
            msg = mav.heartbeat_encode(2, 3, 81, 4, 4, 3)
        packed: bytes = msg.pack(mav)
        return packed

    return _mixed_stream(frames, frame)


def _run_ours_frames(chunks: list[bytes]) -> int:
    decoder = StreamDecoder()
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    return n


def _run_ours_fields(chunks: list[bytes]) -> int:
    decoder = StreamDecoder()
    n = 0
    for chunk in chunks:
        for frame in decoder.feed(chunk):
            decode_message(frame)
            n += 1
    return n


def _run_mavlink(chunks: list[bytes]) -> int:
    mav = _mavlink().MAVLink(None, srcSystem=255, srcComponent=0)
    mav.robust_parsing = True  # skip garbage and report it as BAD_DATA instead of raising
    n = 0
    for chunk in chunks:
        messages = mav.parse_buffer(chunk)
        if messages:
            n += sum(1 for m in messages if m.get_type() != "BAD_DATA")
    return n


def _rate(run: Callable[[list[bytes]], int], chunks: list[bytes], expected: int, what: str) -> float:
    """Frames per second of one pass of ``run`` over ``chunks``; checks it decoded every frame."""
    start = time.perf_counter()
    got = run(chunks)
    elapsed = time.perf_counter() - start
    if got != expected:
        raise RuntimeError(f"{what} decoded {got} frames, expected {expected}: the benchmark stream is wrong")
    return expected / elapsed


def run(settings: Settings) -> list[Result]:
    """Measure the three decoders, interleaved so that machine noise hits them alike; medians over repeats."""
    ours, peer = our_stream(settings.decode_frames), mavlink_stream(settings.decode_frames)
    our_chunks, peer_chunks = ours.chunks(), peer.chunks()
    runs: dict[str, tuple[Callable[[list[bytes]], int], list[bytes]]] = {
        "fields": (_run_ours_fields, our_chunks),
        "frames": (_run_ours_frames, our_chunks),
        "mavlink": (_run_mavlink, peer_chunks),
    }
    rates: dict[str, list[float]] = {key: [] for key in runs}
    for fn, chunks in runs.values():  # warm-up: imports, caches, first allocations
        fn(chunks)
    for repeat in range(settings.decode_repeats):
        order = list(runs)
        order = order[repeat % 3 :] + order[: repeat % 3]
        for key in order:
            fn, chunks = runs[key]
            rates[key].append(_rate(fn, chunks, settings.decode_frames, key))
    ours_fields, ours_frames, mavlink = (median(rates[k]) for k in ("fields", "frames", "mavlink"))
    extra = {
        "frames": settings.decode_frames,
        "repeats": settings.decode_repeats,
        "chunk_bytes": CHUNK,
        "ours_bytes_per_frame": round(len(ours.data) / ours.frames, 1),
        "peer_bytes_per_frame": round(len(peer.data) / peer.frames, 1),
        "garbage_bytes": ours.garbage_bytes,
    }
    return [
        Result(
            "decode_throughput",
            round(ours_fields),
            _PEER,
            round(mavlink),
            "frames/s",
            Better.HIGHER,
            1.5,
            note="ours = StreamDecoder.feed + decode_message (frames and fields, like for like)",
            extra=extra,
        ),
        Result(
            "decode_throughput_frames_only",
            round(ours_frames),
            _PEER,
            round(mavlink),
            "frames/s",
            Better.HIGHER,
            None,
            note="ours = StreamDecoder.feed alone (framing, COBS, CRC; no fields): information only",
            extra=extra,
        ),
    ]


_PEER = "pymavlink parse_buffer (MAVLink v2, CRC + fields)"
BENCHMARK = Benchmark(
    "decode",
    run,
    (
        ("decode_throughput", _PEER, "frames/s", Better.HIGHER, 1.5),
        ("decode_throughput_frames_only", _PEER, "frames/s", Better.HIGHER, None),
    ),
)
