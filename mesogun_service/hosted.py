"""One gun the service owns: its connection kept up for as long as the service runs (connect, reconnect by
serial number after an unplug), its events fanned out to every client, its record, its visit and its
attended clients. Clients never open the gun; they reach it through :meth:`HostedGun.gun`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesogun.errors import ConnectionLost, MesogunError, worded_text
from mesogun.i18n import N_
from mesogun.json_forms import event_fields
from mesogun.models import GunInfo
from mesogun.record import SessionRecorder
from mesogun.session.controller import HostState
from mesogun.session.fanout import FanOut, Subscription
from mesogun.session.gun import CONNECT_RETRYABLE, Gun
from mesogun.transports import Transport, transport_for_url
from mesogun.wording import Worded, Wording
from mesogun_service.attendance import Attendance
from mesogun_service.errors import NotConnected

log = logging.getLogger(__name__)

ServiceEvent = tuple[str, dict[str, Any]]
"""What a client's event stream carries: the kind (``status``, ``shot``, ``alarm``, ``trigger``,
``connection``, ``missed``) and its JSON form."""

RETRY_INTERVAL_S = 0.5
"""Between two attempts to reach a gun that is not there (unplugged, powered off, still booting), s."""

EVENT_BUFFER = 1024
"""Events the service's own subscription to a gun may fall behind by (it only copies them to the clients)."""


class HostedGun:
    """A gun owned by the service: :meth:`start` connects (and keeps trying), :meth:`close` leaves it safe."""

    def __init__(
        self,
        url: str,
        record: Path | str | None,
        *,
        grace_s: float,
        transport: Transport | None = None,
        gun_options: dict[str, Any] | None = None,
        on_unattended: Callable[[HostedGun], Any] | None = None,
    ) -> None:
        self.url = url
        self.transport = transport if transport is not None else transport_for_url(url)
        self.recorder = SessionRecorder(record)
        self.attendance = Attendance(grace_s)
        self.events: FanOut[ServiceEvent] = FanOut()
        self._gun: Gun | None = None
        self._gun_options = gun_options or {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.last_error: str | None = None
        """Why the gun is not connected (the last failure), for ``GET /guns``: its English text, keeping its wording
        (:class:`~mesogun.wording.Worded`) for a page in another language."""
        self.connected = asyncio.Event()

    # -------------------------------------------------------------------------------------------- identity

    @property
    def info(self) -> GunInfo | None:
        """The gun's identity once it has been connected at least once."""
        return self._gun.info if self._gun is not None and self._gun.state is not HostState.CONNECTING else None

    @property
    def serial(self) -> str | None:
        """The gun's serial number (``None`` until first connected)."""
        gun = self._gun
        if gun is None:
            return None
        try:
            return gun.info.serial_number
        except MesogunError:
            return None

    @property
    def last_gun(self) -> Gun | None:
        """The :class:`Gun` once first connected, connected now or not (for its state and last status)."""
        return self._gun

    @property
    def gun(self) -> Gun:
        """The connected :class:`Gun`; :class:`NotConnected` (503) while the service is (re)connecting."""
        gun = self._gun
        if gun is None or gun.state in (HostState.DISCONNECTED, HostState.CONNECTING):
            raise NotConnected(
                Wording(
                    N_("the service is not connected to the gun at {url} now (it keeps trying): {error}"),
                    url=self.url,
                    error=self.last_error,
                )
                if self.last_error
                else Wording(N_("the service is not connected to the gun at {url} now (it keeps trying)"), url=self.url)
            )
        return gun

    def subscribe(self, maxsize: int = 256) -> Subscription[ServiceEvent]:
        """A client's event stream: every event from now on; a client that falls ``maxsize`` behind loses its
        oldest events and is told how many (the gun and the other clients never wait for it)."""
        return self.events.subscribe(maxsize)

    # -------------------------------------------------------------------------------------------- lifetime

    def start(self) -> None:
        """Connect in the background, and reconnect whenever the connection is lost, until :meth:`close`."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"gun {self.url}")

    async def _supervise(self) -> None:
        while not self._closing:
            try:
                await self._connect()
            except asyncio.CancelledError:
                raise
            except MesogunError as exc:
                self.last_error = worded_text(exc)
                if not isinstance(exc, CONNECT_RETRYABLE):
                    log.error("gun %s: %s", self.url, exc)
                await asyncio.sleep(RETRY_INTERVAL_S)
                continue
            self.last_error = None
            self.connected.set()
            self.events.publish(("connection", {"connected": True, "reason": "connected"}))
            reason = await self._pump()
            self.connected.clear()
            self.last_error = reason
            if not self._closing:
                self.events.publish(("connection", {"connected": False, "reason": reason}))
                log.warning("gun %s: connection lost (%s); reconnecting", self.url, reason)

    async def _connect(self) -> None:
        """Open the gun the first time, reopen the same one (by serial number) after a loss."""
        if self._gun is None:
            gun = Gun(self.transport, recorder=self.recorder, **self._gun_options)
            await gun.open()
            self._gun = gun
        else:
            await self._gun.reconnect(attempts=1, interval=RETRY_INTERVAL_S)

    async def _pump(self) -> str:
        """Copy the gun's events to the clients until the connection goes; return why it went."""
        assert self._gun is not None
        stream = self._gun.events(maxsize=EVENT_BUFFER)
        try:
            async for event in stream:
                self.events.publish(event_fields(event))
        except ConnectionLost as exc:
            return worded_text(exc)
        finally:
            stream.close()
        return Worded(Wording(N_("the gun was closed")))

    async def make_safe(self) -> None:
        """Stop firing and disarm (idempotent; nothing to do while disconnected: the device's watchdog has)."""
        gun = self._gun
        if gun is None or gun.state in (HostState.DISCONNECTED, HostState.CONNECTING):
            return
        await gun.make_safe()

    async def close(self) -> None:
        """Leave the gun safe (stop, disarm), close its connection and end every client's stream."""
        self._closing = True
        if self._gun is not None:
            await self._gun.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.events.publish(("connection", {"connected": False, "reason": "the service stopped"}))
        self.events.close()
