"""Bad input at every boundary, actually run: CLI flags, the Python API, raw wire frames, simulator options.

Each case is tried for real; the table records the error it got. A case passes when it is refused with a
one-line error (no traceback; from the API, a :class:`~mesogun.errors.MesogunError` or the protocol's own
error), and — where a device is there to change — the device's state is the same before and after.
``docs/reliability.md`` holds this script's ``--markdown`` output.

The campaign: ``python -m benchmarks.reliability.bad_input --markdown`` (``--fast`` skips the CLI subprocesses).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mesogun
from firmware_protocol import (
    FINGERPRINT,
    Flag,
    Frame,
    Mode,
    ProtocolError,
    StreamDecoder,
    decode_message,
    encode_frame,
    make,
    to_wire,
)
from firmware_protocol.framing import MAX_ENCODED
from mesogun.errors import MesogunError
from mesogun.testing.reliability.fuzz_device import snapshot
from mesogun.transports.sim import SimTransport
from sims.clock import run_virtual
from sims.device import SimulatedGun
from sims.errors import SimError
from sims.inprocess import InProcessSim, start_inprocess
from sims.options import parse_query
from sims.spawn import start_simulator


@dataclass
class Case:
    """One bad input and what it got."""

    boundary: str
    input: str
    error: str
    """The error as the user sees it (exit code and stderr line, exception, or the device's reply)."""
    traceback: bool
    state_unchanged: bool | None
    """``None`` where no device exists to change (e.g. the simulator refused to start)."""

    @property
    def ok(self) -> bool:
        return not self.traceback and self.state_unchanged is not False and bool(self.error)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


# ---------------------------------------------------------------------------------------------------- wire


def _wire_cases() -> list[tuple[str, Callable[[int], bytes]]]:
    return [
        ("frame with a bad CRC", lambda s: _flip(to_wire(make("arm", seq=s)), -3)),
        ("frame cut short", lambda s: to_wire(make("arm", seq=s))[:-4] + b"\x00"),
        ("2,000 bytes of noise without a delimiter", lambda s: b"\x00" + b"\x55" * (MAX_ENCODED + 900) + b"\x00"),
        ("unknown message type 0x7F", lambda s: encode_frame(Frame(0x7F, s, b""))),
        ("a device→host type (ack 0x81) sent to the device", lambda s: encode_frame(Frame(0x81, s, b"\x13"))),
        ("fire in protocol version 2", lambda s: encode_frame(Frame(0x15, s, b"\x01\x00\x00\x00", 0, 2))),
        ("fire with a 2-byte payload", lambda s: encode_frame(Frame(0x15, s, b"\x01\x00"))),
        ("fire with 3 extra payload bytes", lambda s: encode_frame(Frame(0x15, s, b"\x01\x00\x00\x00xyz"))),
        ("set_parameters mode=9 (no such mode)", lambda s: _set_params(s, mode_byte=9)),
        (
            "set_parameters depth_um=5000 (max 4000)",
            lambda s: to_wire(make("set_parameters", seq=s, depth_um=5000, dose_nl=10_000, rate_mhz=2000, mode=0)),
        ),
        (
            "set_parameters rate_mhz=0",
            lambda s: to_wire(make("set_parameters", seq=s, depth_um=2000, dose_nl=10_000, rate_mhz=0, mode=0)),
        ),
        ("load_syringe capacity 7 mL (not a size)", lambda s: _load(s, 7_000_000, 1)),
        ("load_syringe fill above capacity", lambda s: _load(s, 2_000_000, 3_000_000)),
        ("prime more than the reservoir", lambda s: to_wire(make("prime", seq=s, volume_nl=2_000_000))),
        ("fire while ready (not armed)", lambda s: to_wire(make("fire", seq=s, count=1))),
        ("disarm while ready", lambda s: to_wire(make("disarm", seq=s))),
        ("a reply-flagged command", lambda s: to_wire(make("fire", seq=s, flags=Flag.REPLY, count=1))),
        ("hello with a wrong fingerprint, then arm", lambda s: _bad_hello(s)),
    ]  # fmt: skip


def _load(seq: int, capacity_nl: int, fill_nl: int) -> bytes:
    return to_wire(make("load_syringe", seq=seq, capacity_nl=capacity_nl, fill_nl=fill_nl))


def _flip(data: bytes, where: int) -> bytes:
    out = bytearray(data)
    out[where] ^= 0x01
    return bytes(out)


def _set_params(seq: int, mode_byte: int) -> bytes:
    payload = (2000).to_bytes(2, "little") + (10_000).to_bytes(4, "little") + (2000).to_bytes(2, "little")
    return encode_frame(Frame(0x10, seq, payload + bytes([mode_byte])))


def _bad_hello(seq: int) -> bytes:
    return to_wire(make("hello", seq=seq, fingerprint=FINGERPRINT ^ 1)) + to_wire(make("arm", seq=seq + 1))


async def _ready_device() -> SimulatedGun:
    """A device with a 2 mL syringe loaded and primed (ready), parameters set."""
    gun = SimulatedGun()
    await gun.start()
    gun.attach(lambda data: None)
    for seq, message in enumerate(
        (
            make("set_parameters", depth_um=2000, dose_nl=10_000, rate_mhz=2000, mode=Mode.BURST),
            make("load_syringe", capacity_nl=2_000_000, fill_nl=1_000_000),
            make("prime", volume_nl=10_000),
        ),
        start=1,
    ):
        gun.receive(to_wire(make(message.name, seq=seq, **message.fields)))
    await asyncio.sleep(1.0)
    return gun


async def wire_cases() -> list[Case]:
    """Each bad frame sent straight to a ready device; the reply (or the decoder counter) it got."""
    cases = []
    for label, build in _wire_cases():
        gun = await _ready_device()
        try:
            replies = StreamDecoder()
            got: list[str] = []

            def sink(data: bytes, replies: StreamDecoder = replies, got: list[str] = got) -> None:
                for frame in replies.feed(data):
                    message = decode_message(frame)
                    if message.name == "nak":
                        got.append(f"nak {message['code'].json_name}: {message['detail']}")
                    elif message.flags & Flag.REPLY:
                        got.append(message.name)

            gun.attach(sink)
            before = snapshot(gun)
            traceback = False
            try:
                gun.receive(build(100))
            except Exception as exc:  # a crash in the device's handler
                traceback = True
                got.append(f"{type(exc).__name__}: {exc}")
            after = snapshot(gun)
            before.pop("incompatible")  # a mismatched hello is answered and marks the session (by design)
            after.pop("incompatible")
            dropped = {k: v for k, v in gun.decoder_stats.items() if v and k not in ("frames", "bytes_in")}
            error = "; ".join(g for g in got if g != "identity") or f"dropped by the decoder {dropped}"
            cases.append(Case("wire frame", label, error, traceback, before == after))
        finally:
            await gun.close()
    return cases


# ---------------------------------------------------------------------------------------------------- API


def _api_calls() -> list[tuple[str, Callable[[mesogun.Gun], Awaitable[Any]]]]:
    nan = float("nan")
    return [
        ("configure(depth_mm=99)", lambda g: g.configure(depth_mm=99)),
        ("configure(depth_mm=nan)", lambda g: g.configure(depth_mm=nan)),
        ("configure(depth_mm=1.55)", lambda g: g.configure(depth_mm=1.55)),
        ("configure(dose_ml='a lot')", lambda g: g.configure(dose_ml="a lot")),
        ("configure(rate_hz=-1)", lambda g: g.configure(rate_hz=-1)),
        ("configure(rate_hz=inf)", lambda g: g.configure(rate_hz=float("inf"))),
        ("configure(mode='warp')", lambda g: g.configure(mode="warp")),
        ("load_syringe(capacity_ml=7)", lambda g: g.load_syringe(capacity_ml=7)),
        ("load_syringe(capacity_ml=5, fill_ml=0)", lambda g: g.load_syringe(capacity_ml=5, fill_ml=0)),
        ("load_syringe(capacity_ml=2, fill_ml=3)", lambda g: g.load_syringe(capacity_ml=2, fill_ml=3)),
        ("prime(volume_ml=1e9)", lambda g: g.prime(volume_ml=1e9)),
        ("prime(volume_ml=-0.1)", lambda g: g.prime(volume_ml=-0.1)),
        ("fire(count=-1)", lambda g: g.fire(count=-1)),
        ("fire(count=1.5)", lambda g: g.fire(count=1.5)),
        ("fire(count=2**32)", lambda g: g.fire(count=2**32)),
        ("fire() while ready (not armed)", lambda g: g.fire(count=1)),
        # disarm() on a ready gun and clear_alarm() with nothing latched are not bad input: making a gun safe
        # is idempotent (tests/mesogun/session/test_gun_safety.py::test_making_a_safe_gun_safe_returns_normally).
    ]


async def api_cases() -> list[Case]:
    """Each bad call on a connected, ready gun (in-process simulator); the exception it raised."""
    cases = []
    sim: InProcessSim = await start_inprocess("")
    try:
        async with mesogun.connect(SimTransport.attach(sim)) as gun:
            await gun.load_syringe(capacity_ml=2)
            await gun.prime(volume_ml=0.01)
            await gun.configure(depth_mm=2.0, dose_ml=0.01, rate_hz=2.0, mode="burst")
            for label, call in _api_calls():
                before = snapshot(sim.device)
                try:
                    await call(gun)
                    error, traceback = "", False
                except (MesogunError, ProtocolError) as exc:
                    error, traceback = f"{type(exc).__name__}: {exc}", False
                except Exception as exc:
                    error, traceback = f"{type(exc).__name__}: {exc}", True
                cases.append(Case("Python API", label, error, traceback, before == snapshot(sim.device)))
        for label, url in (
            ("connect('bogus://x')", "bogus://x"),
            ("connect('sim://?drop=2')", "sim://?drop=2"),
            ("connect('')", ""),
        ):
            try:
                async with mesogun.connect(url):
                    pass
                error, traceback = "", False
            except (MesogunError, ProtocolError) as exc:
                error, traceback = f"{type(exc).__name__}: {exc}", False
            except Exception as exc:
                error, traceback = f"{type(exc).__name__}: {exc}", True
            cases.append(Case("Python API", label, error, traceback, None))
    finally:
        await sim.close()
    return cases


# ---------------------------------------------------------------------------------------------------- simulator options


def option_cases() -> list[Case]:
    """Bad ``sim://`` query options (``mesogun sim`` uses the same table); the SimConfigError each gets."""
    cases = []
    for query in (
        "latency_ms=-5",
        "drop=2",
        "corrupt=nan",
        "baud=fast",
        "seed=-1",
        "serial=",
        "watchdog_ms=50",
        "fault=occlusion",
        "fault=meteor:after_shots=1",
        "fault=empty:after_shots=1.5",
        "fault=stall:at_s=inf",
        "fingerprint=0xZZ",
        "warp_drive=1",
        "drop=0.1&drop=0.2",
    ):
        try:
            parse_query(query)
            error, traceback = "", False
        except SimError as exc:
            error, traceback = f"{type(exc).__name__}: {exc}", False
        except Exception as exc:
            error, traceback = f"{type(exc).__name__}: {exc}", True
        cases.append(Case("simulator option (sim:// query)", query, error, traceback, None))
    return cases


# ---------------------------------------------------------------------------------------------------- CLI


CLI_CASES: tuple[tuple[str, ...], ...] = (
    ("fire",),
    ("fire", "--count", "-1"),
    ("fire", "--count", "abc"),
    ("set",),
    ("set", "--depth", "99"),
    ("set", "--depth", "nan"),
    ("set", "--rate", "0"),
    ("set", "--mode", "warp"),
    ("load", "--capacity", "7"),
    ("load", "--capacity", "5", "--fill", "6"),
    ("prime", "--volume", "-1"),
    ("prime", "--volume", "1000"),
    ("frobnicate",),
)  # `mesogun clear` with nothing latched succeeds: making a gun safe is idempotent (tests/mesogun/cli)
CLI_GLOBAL_CASES: tuple[tuple[str, ...], ...] = (
    ("--device", "socket://127.0.0.1:1", "status"),
    ("--device", "/dev/no-such-gun", "status"),
    ("--device", "sim://?latency_ms=-5", "status"),
    ("--device", "", "status"),
    ("--db", "/proc/no/such/dir/record.sqlite", "status"),
)
SIM_CLI_CASES: tuple[tuple[str, ...], ...] = (
    ("--drop", "2"),
    ("--fault", "bogus"),
    ("--tcp", "not-an-address"),
    ("--nvm", "/proc/no/such/dir/nvm.json"),
)


def _device_state(address: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with mesogun.connect(address) as gun:
            status = await gun.refresh_status()
            fields = asdict(status)
            fields.pop("device_time")
            return fields

    return asyncio.run(read())


CliRun = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
"""``run(argv)``: ``mesogun ARGV``; its exit code, stdout and stderr (text)."""


def cli_child(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``mesogun ARGV`` in a child process (``python -m mesogun.cli``), as a user runs it."""
    return subprocess.run([sys.executable, "-m", "mesogun.cli", *argv], capture_output=True, text=True, timeout=60)


def cli_cases(run: CliRun = cli_child) -> list[Case]:
    """The ``mesogun`` CLI against a simulator child (ready, parameters set); exit code and stderr line.

    ``run`` runs each command (a child process by default; a test may run the CLI in its own process)."""
    cases = []
    with tempfile.TemporaryDirectory(prefix="mesogun-bad-") as tmp:
        db = Path(tmp) / "record.sqlite"
        sim = start_simulator("--tcp", "127.0.0.1:0", "--nvm", str(Path(tmp) / "nvm.json"))
        try:
            setup: tuple[tuple[str, ...], ...] = (
                ("load", "--capacity", "2"),
                ("prime", "--volume", "0.01"),
                ("set", "--depth", "2", "--rate", "2"),
            )
            for args in setup:
                done = run(["--device", sim.address, "--db", str(db), *args])
                if done.returncode != 0:
                    raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
            for args in (*CLI_CASES, *CLI_GLOBAL_CASES):
                full = list(args) if "--device" in args else ["--device", sim.address, *args]
                if "--db" not in full:
                    full = ["--db", str(db), *full]
                before = _device_state(sim.address)
                proc = run(full)
                after = _device_state(sim.address)
                shown = " ".join(a if a != sim.address else "URL" for a in args)
                error = f"exit {proc.returncode}: {_one_line(proc.stderr)}"
                changed = before != after
                cases.append(Case("CLI", f"mesogun {shown}", error, "Traceback" in proc.stderr, not changed))
        finally:
            sim.stop()
        for args in SIM_CLI_CASES:
            proc = subprocess.run(
                [sys.executable, "-m", "sims.cli", *args],
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
            )
            error = f"exit {proc.returncode}: {_one_line(proc.stderr)}"
            cases.append(Case("CLI", f"mesogun sim {' '.join(args)}", error, "Traceback" in proc.stderr, None))
    return cases


def run_all(fast: bool = False) -> list[Case]:
    """Every case (``fast``: without the CLI subprocesses)."""
    cases = run_virtual(wire_cases)
    cases += run_virtual(api_cases)
    cases += option_cases()
    if not fast:
        cases += cli_cases()
    return cases


def markdown(cases: list[Case]) -> str:
    """The table for docs/reliability.md."""
    lines = ["| boundary | bad input | error it gets | no traceback | device unchanged |", "|---|---|---|---|---|"]
    for c in cases:
        unchanged = "n/a" if c.state_unchanged is None else ("yes" if c.state_unchanged else "**NO**")
        error = c.error.replace("|", "\\|")
        lines.append(f"| {c.boundary} | `{c.input}` | {error} | {'**NO**' if c.traceback else 'yes'} | {unchanged} |")
    return "\n".join(lines)
