"""The device's command dispatcher: exactly-once replay cache, the order of checks, an explicit handler registry.

For each frame: a repeat of a cached command is answered from the cache; otherwise the checks of
:data:`firmware_protocol.rules.GATES` run in order, then the command's cell of
:data:`~firmware_protocol.rules.STATE_TABLE` decides (refused: the first nak code whose condition holds;
accepted: the listed checks, in order), and only then its handler runs. A catalog message without a
registered handler is answered ``nak unknown_type``, like a type the catalog does not know.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_protocol import (
    CATALOG,
    PROTOCOL_VERSION,
    BadPayload,
    Catalog,
    Direction,
    Flag,
    Frame,
    Message,
    NakCode,
    decode_message,
    make,
    rules,
    to_wire,
)
from firmware_protocol.rules import GateKind
from sims.core import DeviceCore

Reply = tuple[str, dict[str, Any]]
"""A handler's answer: the reply message's name and its fields."""

Check = Callable[[Message], str | None]
"""A condition an accepted command is checked against: a nak detail when it refuses, else ``None``."""

_NOT_CACHED = frozenset({"hello", "heartbeat", "get_status", "get_shot_log", "get_diagnostics", "get_calibration"})
"""Commands whose replies are not kept in the replay cache: they change nothing, so a repeat is answered anew."""
UNLOGGED_COMMANDS = _NOT_CACHED
"""Commands left out of the device's execution log (``DeviceSnapshot.executions``): they change nothing."""

_DETAIL_LIMIT = 255
"""Longest nak detail (a ``str8``)."""
_PAYLOAD_DETAIL_LIMIT = 200
"""Longest decoder message quoted in a ``bad_payload`` detail."""


@dataclass(frozen=True)
class CommandHandler:
    """How the device carries out one command: its checks (by the nak code the rules list) and its action."""

    run: Callable[[Message], Reply]
    checks: Mapping[NakCode, Check] = field(default_factory=dict)
    """For each nak code the command's accepted cells list after ✓, the condition that refuses with it."""


class Refusals:
    """Why a command is refused in a state the rules refuse it in: a condition and a detail per nak code."""

    def __init__(
        self, details: Mapping[NakCode, Callable[[str], str]], conditions: Mapping[NakCode, Callable[[], bool]]
    ) -> None:
        self._details = details
        self._conditions = conditions

    def decide(self, command: str, codes: tuple[NakCode, ...]) -> tuple[NakCode, str]:
        """The first code whose condition holds (the last always applies), with its detail."""
        for code in codes[:-1]:
            if self._conditions[code]():
                return code, self._details[code](command)
        return codes[-1], self._details[codes[-1]](command)


class Dispatcher:
    """Turns host frames into exactly one reply each, following the device rules."""

    def __init__(
        self,
        core: DeviceCore,
        handlers: Mapping[str, CommandHandler],
        refusals: Refusals,
        catalog: Catalog = CATALOG,
    ) -> None:
        missing = [name for name in handlers if name not in rules.STATE_TABLE]
        if missing:
            raise ValueError(f"handlers without a state rule: {', '.join(missing)}")
        self._core = core
        self._handlers = dict(handlers)
        self._refusals = refusals
        self._catalog = catalog
        self._hello_id = catalog.by_name["hello"].type_id
        self._replay: OrderedDict[int, tuple[int, bytes, bytes]] = OrderedDict()

    @property
    def handled(self) -> frozenset[str]:
        """The commands this device implements."""
        return frozenset(self._handlers)

    def reset(self) -> None:
        """Forget the replay cache (power-on)."""
        self._replay.clear()

    def on_frame(self, frame: Frame) -> None:
        """One valid frame from the host: answer it exactly once, then send the events it caused."""
        core = self._core
        core.counters.frames_in += 1
        cached = self._replay.get(frame.seq)
        if frame.msg_type == self._hello_id:  # a new session: never a duplicate, old seqs cannot meet stale replies
            self._replay.clear()
        elif cached is not None and cached[0] == frame.msg_type and cached[1] == frame.payload:
            core.counters.duplicates += 1
            core.ram.link.replays += 1
            spec = self._catalog.by_id.get(frame.msg_type)  # an unknown type's nak is cached too
            core.record_command(frame.seq, spec.name if spec else f"0x{frame.msg_type:02X}", replayed=True)
            core.write(cached[2])
            return
        core.deferred = []
        try:
            name, reply = self._execute(frame)
        finally:
            deferred, core.deferred = core.deferred, None
        if name not in _NOT_CACHED:  # reads are answered afresh: a retried get_status is never stale
            self._replay[frame.seq] = (frame.msg_type, frame.payload, reply)
            self._replay.move_to_end(frame.seq)
            while len(self._replay) > core.config.replay_window:
                self._replay.popitem(last=False)
        core.write(reply)
        for data in deferred:
            core.write(data)

    def _execute(self, frame: Frame) -> tuple[str | None, bytes]:
        """The reply to ``frame`` (and the command's name, when it has one)."""
        spec = self._catalog.by_id.get(frame.msg_type)
        message: Message | None = None
        for gate in rules.GATES:
            if gate.kind is GateKind.UNKNOWN_TYPE:
                if spec is None:
                    return None, self._nak(
                        frame, frame.msg_type, gate.code, f"unknown message type id 0x{frame.msg_type:02X}"
                    )
                if spec.direction is not Direction.HOST_TO_DEVICE:
                    return spec.name, self._nak(frame, spec.name, gate.code, f"{spec.name} is a device→host message")
                if spec.name not in self._handlers:
                    detail = f"{spec.name} (0x{frame.msg_type:02X}) is not implemented by this device"
                    return spec.name, self._nak(frame, frame.msg_type, gate.code, detail)
            elif spec is None or spec.name in gate.exempt:
                continue
            elif gate.kind is GateKind.FRAME_VERSION:
                if frame.version != PROTOCOL_VERSION:
                    detail = f"frame protocol version {frame.version}, device speaks {PROTOCOL_VERSION}"
                    return spec.name, self._nak(frame, spec.name, gate.code, detail)
            elif gate.kind is GateKind.BAD_PAYLOAD:
                try:
                    message = decode_message(frame, self._catalog)
                except BadPayload as exc:
                    self._core.ram.link.bad_payloads += 1
                    return spec.name, self._nak(frame, spec.name, gate.code, str(exc)[:_PAYLOAD_DETAIL_LIMIT])
            elif gate.kind is GateKind.SESSION and self._core.ram.incompatible:
                fingerprint = self._core.config.fingerprint
                detail = (
                    f"send hello with core fingerprint 0x{fingerprint:08X} first (catalog mismatch; only stop and "
                    "emergency_stop are obeyed)"
                )
                return spec.name, self._nak(frame, spec.name, gate.code, detail)
        assert spec is not None and message is not None
        return spec.name, self._run(frame, spec.name, message)

    def _run(self, frame: Frame, name: str, message: Message) -> bytes:
        core = self._core
        rule = rules.outcome(name, core.state)
        handler = self._handlers[name]
        if not rule.accepted:
            code, detail = self._refusals.decide(name, rule.naks)
            core.counters.refused[name] += 1
            return self._nak(frame, name, code, detail)
        for code in rule.naks:
            refused = handler.checks[code](message)
            if refused is not None:
                core.counters.refused[name] += 1
                return self._nak(frame, name, code, refused)
        reply_name, fields = handler.run(message)
        if frame.version != PROTOCOL_VERSION:  # a hello from another protocol version: answered, then refused
            core.ram.incompatible = True
        core.counters.executed[name] += 1
        if name not in _NOT_CACHED:
            core.record_command(frame.seq, name)
        return to_wire(make(reply_name, seq=frame.seq, flags=Flag.REPLY, **fields))

    @staticmethod
    def _nak(frame: Frame, command: str | int, code: NakCode, detail: str) -> bytes:
        """A nak; ``command`` is a message name, or a raw type id."""
        return to_wire(
            make("nak", seq=frame.seq, flags=Flag.REPLY, command=command, code=code, detail=detail[:_DETAIL_LIMIT])
        )
