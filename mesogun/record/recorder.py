"""The seam for the treatment record: an observer the Gun awaits for every command, reply, shot and alarm.

Contract (interface 4 of the core rework): shots and alarms return from :meth:`Recorder.on_message` only
once durably committed, so the Gun reports a shot only when it is on disk; anything else may return once
queued. No call blocks the event loop or hangs: a write that does not finish within the record's named
timeout raises :class:`~mesogun.errors.RecordError`, and so does every call after any write failed. The
Gun registers :meth:`Recorder.on_failure` to stop and disarm the gun the moment a write fails, even one it
did not await (a queued command or reply). Heartbeats, their acks and periodic status events are never
passed; safety commands are sent before, and independently of, anything written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from firmware_protocol import Message
from mesogun.errors import RecordError
from mesogun.models import GunInfo, Status

Direction = Literal["host", "device"]
"""``"host"`` for a command the host sends, ``"device"`` for a reply or event the device sent."""

FailureHandler = Callable[[RecordError], None]
"""Called on the event loop, once, with the error of the first write that failed."""


class Recorder(Protocol):
    """What the Gun tells the treatment record (coroutines awaited in the session's record lane, in order)."""

    async def on_connected(self, info: GunInfo, status: Status, url: str) -> None:
        """A session opened (also after a reconnect): who the device is and its counters now."""

    async def on_message(self, direction: Direction, message: Message) -> None:
        """Shots and alarms: returns once durably committed. Anything else: may return once queued.

        Raises RecordError if the record has failed (or a write does not finish within the record's named
        timeout) - never blocks the event loop, never hangs. Periodic ``status`` events, heartbeats and
        heartbeat acks are not passed; ``get_status`` replies are.
        """

    async def on_note(self, kind: str, detail: str, reason: str) -> None:
        """An operator's note for the session (``soft_limit_override``: what was done, and why): returns once
        committed. Raises RecordError like :meth:`on_message`."""

    async def on_disconnected(self, reason: str) -> None:
        """The session ended (closed by the host or connection lost): everything queued is committed."""

    def on_failure(self, handler: FailureHandler) -> None:
        """Register a handler called (on the event loop) as soon as any write fails."""


class NullRecorder:
    """Records nothing (the default until a treatment record is attached); never fails."""

    async def on_connected(self, info: GunInfo, status: Status, url: str) -> None:
        """Ignore."""

    async def on_message(self, direction: Direction, message: Message) -> None:
        """Ignore."""

    async def on_note(self, kind: str, detail: str, reason: str) -> None:
        """Ignore."""

    async def on_disconnected(self, reason: str) -> None:
        """Ignore."""

    def on_failure(self, handler: FailureHandler) -> None:
        """Nothing can fail: the handler is never called."""
