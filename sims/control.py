"""The control channel of a served simulator (``mesogun sim --control 127.0.0.1:PORT``): JSON lines over TCP.

Tests and demos drive the running device through it: the handpiece trigger and the foot pedal, faults and
line impairments while it runs (``--fault`` and ``--drop`` only act at start). One JSON object per line in,
exactly one JSON line back, in order:

=========================================================  ================================================
request                                                    what it does
=========================================================  ================================================
``{"cmd": "press", "source": "trigger"}``                  press the trigger (or ``"pedal"``; default trigger)
``{"cmd": "release"}``                                     let go of the switch held
``{"cmd": "hold", "ms": 500, "source": "pedal"}``          press, and let go ``ms`` device ms later
``{"cmd": "fault", "name": "occlusion"}``                  a fault now; or with ``"after_shots": N`` / ``"at_s": T``
``{"cmd": "impair", "drop": 0.01}``                        change the line (``baud``, ``latency_ms``, ``drop``,
                                                           ``corrupt``, ``split_writes``); others stay
``{"cmd": "snapshot"}``                                    the device's state now (``"snapshot": {...}``)
=========================================================  ================================================

The answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": "<one line>"}``; a refused request changed
nothing. A press the device does not act on (not armed, already firing, a press already held) is refused so,
naming why; the device sends no ``trigger`` event for it. The channel binds the loopback interface only: it
can fire the gun, so it is never reachable from another machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, replace
from typing import Any

from firmware_protocol import WireEnum
from sims.device import SimulatedGun
from sims.errors import ServeError, SimError
from sims.faults import make_fault
from sims.impairments import Impairments
from sims.options import BY_NAME, convert

LOOPBACK = "127.0.0.1"
"""The only address the control channel binds."""
MAX_LINE = 4096
"""Longest request line (bytes); a longer one is refused and the connection closed."""

Answer = dict[str, Any]
_IMPAIRMENTS = tuple(f.name for f in fields(Impairments))


class ControlError(SimError):
    """A control request is malformed or refused (its message is the answer's ``error``)."""

    code = "SIM400"


class ControlChannel:
    """Answers control requests for one device; ``get_line``/``set_line`` read and change the served line."""

    def __init__(
        self,
        device: SimulatedGun,
        get_line: Callable[[], Impairments],
        set_line: Callable[[Impairments], None],
    ) -> None:
        self.device = device
        self._get_line = get_line
        self._set_line = set_line
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ requests

    def answer(self, line: str) -> Answer:
        """The answer to one request line (never raises)."""
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            return _error(f"request is not JSON: {exc.msg} at column {exc.colno}")
        if not isinstance(request, dict):
            return _error(f'request must be a JSON object like {{"cmd": "snapshot"}}, not {type(request).__name__}')
        cmd = request.pop("cmd", None)
        handler = self._commands().get(cmd) if isinstance(cmd, str) else None
        if handler is None:
            return _error(f"cmd={cmd!r} is not a control command; one of {', '.join(self._commands())}")
        try:
            return {"ok": True, **handler(request)}
        except (ControlError, SimError, ValueError) as exc:
            return _error(str(exc))

    def _commands(self) -> Mapping[str, Callable[[dict[str, Any]], Answer]]:
        return {
            "press": self._press,
            "release": self._release,
            "hold": self._hold,
            "fault": self._fault,
            "impair": self._impair,
            "snapshot": self._snapshot,
        }

    def _press(self, request: dict[str, Any]) -> Answer:
        _only(request, "press", "source")
        return _refused_or(self.device.press_trigger(request.get("source", "trigger")), {})

    def _release(self, request: dict[str, Any]) -> Answer:
        _only(request, "release")
        return _refused_or(self.device.release_trigger(), {})

    def _hold(self, request: dict[str, Any]) -> Answer:
        _only(request, "hold", "ms", "source")
        ms = request.get("ms")
        if isinstance(ms, bool) or not isinstance(ms, int | float):
            raise ControlError(f"hold needs ms, a number of device milliseconds (got {ms!r})")
        return _refused_or(self.device.hold_trigger(float(ms), request.get("source", "trigger")), {})

    def _fault(self, request: dict[str, Any]) -> Answer:
        _only(request, "fault", "name", "after_shots", "at_s")
        name = request.pop("name", None)
        if not isinstance(name, str):
            raise ControlError(f"fault needs name, one of occlusion, empty, stall, brownout (got {name!r})")
        spec = make_fault(name, **(request or {"at_s": 0}))
        self.device.schedule_fault(spec)
        return {"fault": str(spec)}

    def _impair(self, request: dict[str, Any]) -> Answer:
        _only(request, "impair", *_IMPAIRMENTS)
        if not request:
            raise ControlError(f"impair needs at least one of {', '.join(_IMPAIRMENTS)}")
        changes: dict[str, Any] = {key: convert(BY_NAME[key], _text(value)) for key, value in request.items()}
        line = replace(self._get_line(), **changes)  # every value checked before anything changes
        self._set_line(line)
        return {"impairments": asdict(line)}

    def _snapshot(self, request: dict[str, Any]) -> Answer:
        _only(request, "snapshot")
        device = self.device
        snap = asdict(device.snapshot())
        for bulky in ("executions", "replays"):  # the device's whole command log: not for a control line
            snap.pop(bulky)
        pressed = device.trigger_pressed
        snap.update(burst_count=device.burst_count, trigger_pressed=pressed.json_name if pressed else None)
        plain: dict[str, Any] = _plain(snap)
        return {"snapshot": plain}

    # ------------------------------------------------------------------ serving

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (loopback only); returns the bound (host, port)."""
        if host not in (LOOPBACK, "localhost"):
            raise ServeError(
                f"--control {host}:{port}: the control channel binds {LOOPBACK} only (it can fire the gun)"
            )
        try:
            self._server = await asyncio.start_server(self._handle, LOOPBACK, port, limit=MAX_LINE)
        except OSError as exc:
            raise ServeError(f"cannot listen for control on {LOOPBACK}:{port}: {exc.strerror or exc}") from exc
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # a line longer than MAX_LINE
                    writer.write(_line(_error(f"request longer than {MAX_LINE} bytes; connection closed")))
                    break
                if not raw:
                    break
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    writer.write(_line(self.answer(text)))
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def close(self) -> None:
        """Stop listening and end every control connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class ControlClient:
    """A blocking client of a control channel (tests, demos): ``client.request("press", source="pedal")``."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        host, _, port = address.rpartition(":")
        self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._file = self._sock.makefile("rwb")

    def request(self, cmd: str, **fields: Any) -> Answer:
        """Send one request and return its answer."""
        return self.send_line(json.dumps({"cmd": cmd, **fields}))

    def send_line(self, line: str) -> Answer:
        """Send one raw request line (any text) and return its answer."""
        self._file.write(line.encode() + b"\n")
        self._file.flush()
        answer: Answer = json.loads(self._file.readline())
        return answer

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _only(request: Mapping[str, Any], cmd: str, *allowed: str) -> None:
    unknown = sorted(set(request) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "nothing"
        raise ControlError(f"{cmd} has no field {', '.join(unknown)}; it takes: {takes}")


def _refused_or(refusal: str | None, answer: Answer) -> Answer:
    if refusal is not None:
        raise ControlError(refusal)
    return answer


def _text(value: Any) -> str:
    """A JSON value as the option parser's text (``true`` → ``"1"``)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _error(message: str) -> Answer:
    return {"ok": False, "error": message}


def _line(answer: Answer) -> bytes:
    return json.dumps(answer).encode() + b"\n"


def _plain(value: Any) -> Any:
    """``value`` with enums as their JSON names (an IntEnum would otherwise be written as its number)."""
    if isinstance(value, WireEnum):
        return value.json_name
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
