"""Fuzz the simulated gun's command handler: raw bytes, valid-CRC frames of any header and payload, and
random sequences of well-formed commands, with time passing and faults injected in between.

What must hold for every input (checked after every step):

* nothing raises out of ``SimulatedGun.receive`` or out of a device timer (the loop's exception handler);
* everything the device sends is a valid frame carrying a device→host message, and every reply answers a
  sequence number the host used;
* a refused command (``nak``) changes no device state;
* shots happen only while firing, the shot log and the lifetime counter agree, the reservoir never goes
  negative, and a gun left armed or firing with no host frame for longer than the watchdog stops.

The campaign: ``python -m benchmarks.reliability.fuzz_device --seconds 600``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from firmware_protocol import (
    CATALOG,
    FINGERPRINT,
    DeviceState,
    Direction,
    Flag,
    Frame,
    Message,
    Mode,
    StreamDecoder,
    decode_message,
    encode_frame,
    make,
    to_wire,
)
from firmware_protocol.catalog import FieldKind
from firmware_protocol.framing import MAX_PAYLOAD
from mesogun.testing.reliability.common import ByteSource
from mesogun.testing.reliability.traffic import sample_frames, session_bytes
from sims.clock import new_virtual_loop
from sims.device import SimulatedGun
from sims.faults import FaultName

MAX_STEPS = 48
COMMANDS = [spec for spec in CATALOG if spec.direction is Direction.HOST_TO_DEVICE]
INTERESTING = (0, 1, 2, 99, 100, 500, 999, 1000, 1001, 1500, 2000, 4000, 4001, 10_000, 20_000, 200_000, 200_001,
               2_000_000, 5_000_000, 10_000_000, 0xFFFF, 0x1_0000, 0xFFFF_FFFF)  # fmt: skip
LIMITS = {"u8": 0xFF, "u16": 0xFFFF, "u32": 0xFFFF_FFFF, "i16": 0x7FFF}
TEXTS = ("", "BD", "Terumo", "x" * 32, "x" * 33, "é" * 40)
"""Text values around the calibration family's limits (brands of 32 bytes, texts of 64)."""
WAITS_S = (0.0, 0.001, 0.03, 0.2, 0.5, 1.1, 3.0)
"""Device time a 'wait' step lets pass (1.1 s: just past the 1 s watchdog)."""
S = DeviceState

_loop: asyncio.AbstractEventLoop | None = None
_errors: list[dict[str, Any]] = []


def _virtual_loop() -> asyncio.AbstractEventLoop:
    """One virtual-time loop for the whole run (creating one per input would dominate the cost)."""
    global _loop
    if _loop is None:
        _loop = new_virtual_loop()
        _loop.set_exception_handler(lambda loop, context: _errors.append(context))
    return _loop


def _value(src: ByteSource, wire_type: str) -> int:
    limit = LIMITS.get(wire_type, 0xFF)
    random = src.below(4) == 0
    value = src.uint(4) % (limit + 1) if random else min(INTERESTING[src.below(len(INTERESTING))], limit)
    return -value if wire_type.startswith("i") and src.below(2) else value


def _field_value(src: ByteSource, f: Any) -> Any:
    """A boundary-heavy value of one field of any kind (records: up to 3, each field drawn the same way)."""
    if f.kind is FieldKind.ENUM:
        return list(Mode)[src.below(len(Mode))]
    if f.kind is FieldKind.TEXT:
        return TEXTS[src.below(len(TEXTS))]
    if f.kind is FieldKind.RECORD_LIST:
        return [{r.name: _field_value(src, r) for r in f.record} for _ in range(src.below(4))]
    if f.kind is FieldKind.BYTES:  # an SMP frame: a valid-looking header (os_mgmt echo) or garbage
        body = bytes(src.byte() for _ in range(src.below(24)))
        return (b"\x02\x00" + len(body).to_bytes(2, "big") + b"\x00\x00\x00\x00" + body) if src.below(2) else body
    return _value(src, f.wire_type)


def close_loop() -> None:
    """Close the shared loop (tests call this so no loop outlives them)."""
    global _loop
    if _loop is not None:
        _loop.close()
        _loop = None


def random_command(src: ByteSource, seq: int) -> Message:
    """A well-formed command of a random type with boundary-heavy field values."""
    spec = COMMANDS[src.below(len(COMMANDS))]
    fields: dict[str, Any] = {}
    for f in spec.fields:
        if f.name == "fingerprint":
            fields[f.name] = (FINGERPRINT, 0, src.uint(4))[src.below(3)]
        elif f.name == "protocol_version":
            fields[f.name] = 1 if src.below(4) else src.uint(1)
        else:
            fields[f.name] = _field_value(src, f)
    return make(spec.name, seq=seq, flags=int(Flag.RETRY) if src.below(8) == 0 else 0, **fields)


def random_frame(src: ByteSource, seq: int) -> Frame:
    """A valid-CRC frame: random or real type, version, flags, and a random, real or mangled payload."""
    samples = sample_frames()
    how = src.below(4)
    if how == 0:
        msg_type = src.uint(1)
    else:
        msg_type = COMMANDS[src.below(len(COMMANDS))].type_id if how < 3 else samples[src.below(len(samples))].msg_type
    base = samples[src.below(len(samples))].payload
    kind = src.below(4)
    if kind == 0:
        payload = src.take(src.below(40))
    elif kind == 1:
        payload = base[: src.below(len(base) + 1)]
    elif kind == 2:
        payload = base + src.take(src.below(8))
    else:
        payload = src.take(src.below(MAX_PAYLOAD + 1))
    version = 1 if src.below(4) else src.uint(1)
    flags = src.uint(1) if src.below(4) == 0 else 0
    return Frame(msg_type, seq, bytes(payload), flags, version)


def snapshot(gun: SimulatedGun) -> dict[str, Any]:
    """Everything a command could change (device time and the moving needle excluded)."""
    snap = gun.snapshot()
    return {
        "state": snap.state,
        "params": (snap.depth_um, snap.dose_nl, snap.rate_mhz, snap.mode),
        "motor_target": snap.motor_target_um,
        "syringe": (snap.syringe_capacity_nl, snap.reservoir_nl, snap.primed),
        "shots": (snap.shots_session, snap.shots_lifetime),
        "alarms": snap.active_alarms,
        "firing": (snap.firing.shots_remaining, snap.firing.unbounded, snap.firing.fire_seq),
        "incompatible": snap.incompatible_session,
    }


class Harness:
    """One simulated gun on the shared virtual loop, fed by one fuzz input, checked after every step."""

    def __init__(self) -> None:
        self.loop = _virtual_loop()
        self.gun = SimulatedGun()
        self.loop.run_until_complete(self.gun.start())
        self.out = StreamDecoder()
        self.replies: list[Message] = []
        self.seqs_used: set[int] = set()
        self.sent: list[bytes] = []
        self.seq = 0
        self.gun.attach(self._on_output)

    def _on_output(self, data: bytes) -> None:
        for frame in self.out.feed(data):
            message = decode_message(frame)  # raises if the device ever sends a bad message
            if CATALOG.by_name[message.name].direction is not Direction.DEVICE_TO_HOST:
                raise AssertionError(f"the device sent a host command: {message}")
            if message.flags & Flag.REPLY:
                if message.seq not in self.seqs_used:
                    raise AssertionError(f"reply to seq {message.seq}, which the host never used: {message}")
                self.replies.append(message)
        if self.out.stats.dropped or self.out.stats.garbage_bytes:
            raise AssertionError(f"the device sent bytes that are not valid frames: {self.out.stats}")

    def next_seq(self, src: ByteSource) -> int:
        self.seq = src.uint(2) if src.below(8) == 0 else (self.seq + 1) & 0xFFFF
        return self.seq

    def send(self, data: bytes, seqs: list[int]) -> None:
        """Feed the device; if it is one frame and the answer is a nak, nothing may have changed."""
        self.seqs_used.update(seqs)
        self.sent.append(data)
        before = snapshot(self.gun)
        start = len(self.replies)
        self.gun.receive(data)
        new = self.replies[start:]
        if len(seqs) == 1 and len(new) == 1 and new[0].name == "nak":
            after = snapshot(self.gun)
            if after != before:
                raise AssertionError(f"a refused command changed the device: {new[0]}: {before} -> {after}")

    def command(self, name: str, **fields: Any) -> None:
        self.seq = (self.seq + 1) & 0xFFFF
        self.send(to_wire(make(name, seq=self.seq, **fields)), [self.seq])

    def wait(self, seconds: float) -> None:
        """Let device time pass; check shots happen only while firing and the watchdog stops a silent gun."""
        gun = self.gun
        state, lifetime = gun.state, gun.shots_lifetime
        self.loop.run_until_complete(asyncio.sleep(seconds))
        if state is not S.FIRING and gun.shots_lifetime != lifetime:
            raise AssertionError(f"{gun.shots_lifetime - lifetime} shots fired while {state.json_name}")
        if seconds > gun.config.watchdog_ms / 1000 and gun.state in (S.ARMED, S.FIRING):
            raise AssertionError(f"gun still {gun.state.json_name} after {seconds} s without a host frame")

    def check(self) -> None:
        gun = self.gun
        if _errors:
            raise AssertionError(f"exception in a device callback: {_errors[0]}")
        if [s.shot_index for s in gun.shot_log] != list(range(1, gun.shots_lifetime + 1)):
            raise AssertionError("the shot log and the lifetime counter disagree")
        if gun.reservoir_nl < 0:
            raise AssertionError(f"reservoir went negative: {gun.reservoir_nl} nL")
        if gun.state is not S.FIRING and gun.snapshot().firing.stroke_scheduled:
            raise AssertionError(f"a plunger stroke is scheduled while {gun.state.json_name}")

    def to_firing(self) -> None:
        """The practitioner's path to firing, so random steps start from deep states too."""
        self.command("set_parameters", depth_um=2000, dose_nl=10_000, rate_mhz=10_000, mode=Mode.CONTINUOUS)
        self.command("load_syringe", capacity_nl=2_000_000, fill_nl=2_000_000)
        self.command("prime", volume_nl=10_000)
        self.loop.run_until_complete(asyncio.sleep(0.3))
        self.command("arm")
        self.command("fire", count=0)

    def close(self) -> None:
        self.loop.run_until_complete(self.gun.close())


def step(h: Harness, src: ByteSource) -> None:
    """One step of the input's program."""
    op = src.below(9)
    if op == 0:  # raw bytes (which may hold a whole valid frame: the device then answers it)
        data = src.take(src.below(80))
        h.send(data, [f.seq for f in StreamDecoder().feed(data)])
    elif op == 1:  # one valid-CRC frame, anything in it
        seq = h.next_seq(src)
        h.send(encode_frame(random_frame(src, seq)), [seq])
    elif op in (2, 3):  # one well-formed command
        seq = h.next_seq(src)
        h.send(to_wire(random_command(src, seq)), [seq])
    elif op == 4:
        h.wait(WAITS_S[src.below(len(WAITS_S))])
    elif op == 5:
        name = list(FaultName)[src.below(len(FaultName))].value
        if src.below(2):
            h.gun.inject(name, after_shots=src.below(4))
        else:
            h.gun.inject(name, at_s=src.below(30) / 10)
    elif op == 6:
        h.to_firing()
    elif op == 7 and h.sent:  # a frame again: retries, duplicates, a stale seq
        data = h.sent[src.below(len(h.sent))]
        h.send(data, [f.seq for f in StreamDecoder().feed(data)])
    else:  # several frames of real traffic in one chunk
        chunks = session_bytes()[0]
        data = b"".join(chunks[src.below(len(chunks))] for _ in range(1 + src.below(3)))
        h.send(data, [f.seq for f in StreamDecoder().feed(data)])


def target(data: bytes) -> None:
    """One fuzz input: a fresh gun, up to :data:`MAX_STEPS` steps, every invariant checked after each."""
    _errors.clear()
    src = ByteSource(data)
    h = Harness()
    try:
        for _ in range(MAX_STEPS):
            if src.exhausted:
                break
            step(h, src)
            h.check()
    finally:
        h.close()


def seeds() -> list[bytes]:
    """Starting corpus: programs that reach firing and then wait, fault, or send real traffic."""
    return [bytes([6, 4, 3]), bytes([6, 4, 5]), bytes([6, 5, 0, 0, 4, 3]), bytes([8, 0, 8, 1, 4, 6]), b"\x02" * 40]
