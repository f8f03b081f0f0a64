"""The transport contract: an open byte pipe to one device. Transports know nothing of frames or messages."""

from __future__ import annotations

import abc
from collections.abc import Callable

from mesogun.errors import ConnectionLost

Receiver = Callable[[bytes | ConnectionLost], None]
"""Called with each chunk of bytes as it arrives, ``b""`` at end of stream, or the loss that ended it."""


class Transport(abc.ABC):
    """A byte pipe to one device (serial port, TCP socket, in-process simulator).

    Contract: :meth:`read` returns the next chunk of bytes (any size) or ``b""`` at end of stream;
    a failing port raises :class:`~mesogun.errors.ConnectionLost`; :meth:`write` sends all of ``data``
    or raises :class:`~mesogun.errors.ConnectionLost`. :meth:`reopen` finds the same device again
    after it went away (a replugged USB gun may come back under another path).
    """

    url: str
    """The URL this transport was opened from (for messages and reconnecting)."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Open the pipe; raises :class:`~mesogun.errors.PortNotFound` if there is nothing to open."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """The next bytes from the device; ``b""`` means the device or port closed the stream."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Send all of ``data`` to the device."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the pipe and release the port; idempotent."""

    def set_receiver(self, receiver: Receiver | None) -> bool:
        """Push incoming bytes to ``receiver`` from the event loop's readiness callback instead of :meth:`read`.

        Returns False if this transport cannot push (then read it with :meth:`read`); ``None`` detaches.
        Pushing saves the link a task hop per reply, which is most of a command's host-side latency.
        """
        return False

    async def reopen(self, serial_number: str) -> None:
        """Close and open again, looking the device up by ``serial_number`` if its old address is gone."""
        await self.close()
        await self.open()

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
