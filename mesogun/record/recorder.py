"""The seam for the treatment record: an observer the Gun awaits for every command, reply, shot and alarm.

The Gun calls :meth:`Recorder.on_message` from its control task *before* a command is sent and *before*
a shot or alarm is reported to the caller, so a record that cannot keep up holds the control path
(heartbeats stop, the device's watchdog stops the gun) rather than losing a shot. A recorder that
raises refuses the command it was given (nothing is sent).
"""

from __future__ import annotations

from typing import Literal, Protocol

from firmware_protocol import Message
from mesogun.models import GunInfo, Status

Direction = Literal["host", "device"]
"""``"host"`` for a command the host sends, ``"device"`` for a reply or event the device sent."""


class Recorder(Protocol):
    """What the Gun tells the treatment record (implemented by the record issue; all methods awaited)."""

    async def on_connected(self, info: GunInfo, status: Status, url: str) -> None:
        """A session opened (also after a reconnect): who the device is and its counters now."""

    async def on_message(self, direction: Direction, message: Message) -> None:
        """A command about to be sent (once, even if retried), a reply, a shot or an alarm.

        Periodic ``status`` events are not passed (10 per second); ``get_status`` replies are.
        """

    async def on_disconnected(self, reason: str) -> None:
        """The session ended (closed by the host or connection lost)."""


class NullRecorder:
    """Records nothing (the default until a treatment record is attached)."""

    async def on_connected(self, info: GunInfo, status: Status, url: str) -> None:
        """Ignore."""

    async def on_message(self, direction: Direction, message: Message) -> None:
        """Ignore."""

    async def on_disconnected(self, reason: str) -> None:
        """Ignore."""
