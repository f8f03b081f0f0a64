"""The CLI through a running gun service: the analogue of :func:`mesogun.cli.session.run_on_gun` when a service
owns the gun (``--service URL``, ``$MESOGUN_SERVICE``, or the service on the well-known local socket).

The commands' bodies run unchanged on a :class:`RemoteGun`: the part of :class:`~mesogun.Gun` they use
(:class:`~mesogun.cli.session.CliGun`), each call one request to the service, the service's errors raised as the
Python API's (so the same exit codes), the live events read from the service's event stream. What differs:

* the service keeps the treatment record (``--db`` is the service's concern);
* a command that arms the gun (``fire``) attends it (heartbeats from a background thread) while it runs;
* the gun is made safe (stopped, disarmed) on the way out only by a command that armed it: ``status`` or
  ``watch`` from a second terminal never stops what another client is firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from firmware_protocol import DeviceState, Mode, ShotSource
from mesogun.cli.options import CliContext, LinkSettings
from mesogun.cli.session import Body, StopSignals
from mesogun.errors import ConnectionLost, DeviceAlarm, IncompatibleDevice, LinkError, MesogunError
from mesogun.json_forms import diagnostics_from, event_from, fired_from, info_from, status_from, syringe_from
from mesogun.link import LinkHealth
from mesogun.models import (
    Diagnostics,
    Event,
    FiredShots,
    GunInfo,
    Settings,
    ShotEvent,
    ShotRecord,
    Status,
    StatusEvent,
    Syringe,
)
from mesogun.service_client import Attendance, EventReader, FoundService, ServiceClient, find_service
from mesogun.session.controller import FROM_DEVICE, HostState
from mesogun.session.fanout import FanOut
from mesogun.session.gun import EventStream

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_START_S = 5.0
"""How long a command waits for the service's event stream to start before it sends anything."""

SETTLE_S = 1.0
"""After a burst, how long to wait for the stream to catch up with the service's reply (its last shots)."""

STREAM_JOIN_S = 2.0
"""How long closing waits for the event stream's reader thread."""


# ---------------------------------------------------------------------------------------------- the target


def service_client(ctx: click.Context) -> ServiceClient | None:
    """A client of the service the command goes through, or ``None`` to open the gun directly (``--no-service``,
    or no service given and none answering on the local socket)."""
    obj: CliContext = ctx.obj
    if obj.no_service:
        return None
    found = find_service(obj.service)
    if found is None:
        return None
    _refuse_link_options(obj.link, found)
    return ServiceClient(found)


def service_target(ctx: click.Context) -> ServiceTarget | None:
    """The service and the gun on it a device command goes to (``--device``: a serial number or the URL the service
    opened it with; without it, the service's one gun), or ``None`` to open the gun directly."""
    client = service_client(ctx)
    if client is None:
        return None
    try:
        serial = choose_gun(client, ctx.obj.device)
    except BaseException:
        client.close()
        raise
    return ServiceTarget(client, serial)


def _refuse_link_options(link: LinkSettings, found: FoundService) -> None:
    given = [
        name
        for name, on in (
            ("--baud", link.baud is not None),
            ("--timeout", link.timeout is not None),
            ("--connect-attempts", link.connect_attempts != LinkSettings().connect_attempts),
            ("--trace", link.trace),
        )
        if on
    ]
    if given:
        raise click.UsageError(
            f"{', '.join(given)}: the gun service at {found.url} ({found.found_by}) owns the link to the gun; "
            "these apply to a direct connection (give --no-service to open the gun directly)"
        )


def _same_device(given: str, url: str) -> bool:
    if given == url:
        return True
    return given.startswith("/") and url.startswith("/") and os.path.realpath(given) == os.path.realpath(url)


def choose_gun(client: ServiceClient, device: str | None) -> str:
    """The key (serial number, or URL before the gun was first connected) of the gun ``device`` names on the
    service; without ``device``, its only gun. A usage error (exit 2) listing the service's guns otherwise."""
    guns = client.guns()
    where = f"the gun service at {client.url} ({client.service.found_by})"
    listing = ", ".join(f"{g['serial'] or '(not connected yet)'} ({g['url']})" for g in guns) or "none"
    if device:
        for gun in guns:
            if device == gun["serial"] or _same_device(device, str(gun["url"])):
                return str(gun["serial"] or gun["url"])
        raise click.UsageError(
            f"--device {device}: no such gun on {where}; its guns: {listing}. Give one of them by serial number "
            "or URL, or --no-service to open the device directly"
        )
    if len(guns) == 1:
        return str(guns[0]["serial"] or guns[0]["url"])
    if not guns:
        raise click.UsageError(f"{where} serves no gun")
    raise click.UsageError(f"{where} serves {len(guns)} guns: {listing}; choose one with --device SERIAL")


@dataclass
class ServiceTarget:
    """One gun on one service: :meth:`run` runs a command's body on it."""

    client: ServiceClient
    serial: str

    def run(self, body: Body[T], *, stop_request: asyncio.Event | None = None) -> T:
        """Run ``body`` on the gun, with Ctrl-C, SIGTERM and SIGHUP handled as for the direct path (the first
        sets ``stop_request`` or cancels the body; the gun is made safe if this command armed it)."""
        try:
            return asyncio.run(self._main(body, stop_request))
        finally:
            self.client.close()

    async def _main(self, body: Body[T], stop_request: asyncio.Event | None) -> T:
        gun = await RemoteGun.open(self.client, self.serial)
        try:
            return await StopSignals(stop_request).run(body(gun))
        finally:
            await gun.close()


# ---------------------------------------------------------------------------------------------- the gun


def client_name() -> str:
    """How this process introduces itself when it attends a gun: ``cli alice@host pid 4242``."""
    return f"cli {getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


async def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking request in a worker thread: the event loop (signals, the event stream) goes on meanwhile."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def _lasting(function: Callable[..., T], *args: Any) -> T:
    """A request that lasts as long as the gun takes (prime, fire), in a thread of its own that nothing waits for
    once the command is interrupted: the gun made safe, the command exits without waiting for the reply."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if outcome.done():
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = function(*args), None
        except Exception as exc:  # handed to the waiting command, raised there
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: the command ended without it
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=f"mesogun {getattr(function, '__name__', 'request')}", daemon=True).start()
    return await outcome


@dataclass
class _Burst:
    """One ``fire`` as the event stream shows it: its remote shots, the device's acknowledgement, its end."""

    count: int
    on_ack: Callable[[int], None] | None
    shots: list[ShotRecord] = field(default_factory=list)
    firing_seen: bool = False
    acked: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self) -> None:
        if not self.acked:
            self.acked = True
            if self.on_ack is not None:
                self.on_ack(self.count)

    def saw(self, event: Event) -> None:
        if isinstance(event, ShotEvent) and event.shot.source is ShotSource.REMOTE:
            self.shots.append(event.shot)
            self.firing_seen = True
            self.ack()
        elif isinstance(event, StatusEvent):
            if event.status.state is DeviceState.FIRING:
                self.firing_seen = True
                self.ack()
            elif self.firing_seen:
                self.ended.set()


class RemoteGun:
    """A gun the service owns, as a command sees it (:class:`~mesogun.cli.session.CliGun`); :meth:`open` it."""

    def __init__(self, client: ServiceClient, serial: str, info: GunInfo, status: Status) -> None:
        self._client = client
        self.serial = serial
        self._info = info
        self._status = status
        self._events: FanOut[Event] = FanOut()
        self._stream: threading.Thread | None = None
        self._reader: EventReader | None = None
        self._stream_lock = threading.Lock()
        self._stream_started = asyncio.Event()
        self._closing = False
        self._last_event = time.monotonic()
        self._lost: str | None = None
        self._burst: _Burst | None = None
        self._attendance: Attendance | None = None
        self.override_reason: str | None = None
        """Why a soft limit is passed (``--yes --reason``): sent with configure, arm and fire, for the service to
        check against the gun's treatment session (its preset's depth and volume per zone) and enter in the record."""
        self.preset: str | None = None
        """The preset a configure's values come from (``set --preset``): outside a treatment session the service
        checks its soft limits too."""
        self._leave_safe: tuple[Callable[[str], Any], ...] = ()
        """What closing sends to leave the gun safe: after this command armed it (stop, disarm) or started priming
        (stop), until it disarmed it or priming finished. Nothing for a command that armed nothing: ``status`` or
        ``watch`` from a second terminal never stops what another client fires."""

    @classmethod
    async def open(cls, client: ServiceClient, serial: str) -> RemoteGun:
        """The gun ``serial`` on the service, with its identity and latest status."""
        info, status = await asyncio.gather(_call(client.identity, serial), _call(client.status, serial))
        return cls(client, serial, info_from(info), status_from(status))

    # -------------------------------------------------------------------------------------------- views

    @property
    def info(self) -> GunInfo:
        return self._info

    @property
    def status(self) -> Status:
        """The latest status the service reported (kept current by its event stream while one is open)."""
        return self._status

    @property
    def state(self) -> HostState:
        return FROM_DEVICE[self._status.state]

    @property
    def incompatible(self) -> IncompatibleDevice | None:
        return None  # the service serves only guns of this host's core catalog

    @property
    def link(self) -> RemoteGun:
        return self

    def health(self) -> LinkHealth:
        """The event stream's health: the age of its last event, and why the service lost the gun (the service's
        own link counters are in ``diagnostics``)."""
        return LinkHealth(0, 0, 0, 0, time.monotonic() - self._last_event, self._lost)

    def events(self, maxsize: int = 256) -> EventStream:
        """The gun's events from the service's stream (opened with the first call), as :meth:`Gun.events`."""
        stream = EventStream(self._events.subscribe(maxsize))
        self._start_stream()
        return stream

    # -------------------------------------------------------------------------------------------- commands

    async def refresh_status(self) -> Status:
        return self._take(await _call(self._client.status, self.serial, refresh=True))

    async def configure(
        self,
        *,
        depth_mm: float | None = None,
        dose_ml: float | None = None,
        rate_hz: float | None = None,
        mode: Mode | str | None = None,
    ) -> Settings:
        name = mode.json_name if isinstance(mode, Mode) else mode
        reply = await _call(
            self._client.configure,
            self.serial,
            depth_mm=depth_mm,
            dose_ml=dose_ml,
            rate_hz=rate_hz,
            mode=name,
            preset=self.preset,
            override_reason=self.override_reason,
        )
        return self._take(reply).settings

    async def load_syringe(
        self, *, capacity_ml: float, fill_ml: float | None = None, brand: str | None = None
    ) -> Syringe:
        return syringe_from(await _call(self._client.load_syringe, self.serial, capacity_ml, fill_ml, brand))

    async def prime(self, *, volume_ml: float) -> float:
        await self._stream_ready()
        reply = await self._moving(self._client.prime, (self._client.stop,), volume_ml, lasting=True)
        self._leave_safe = ()
        self._take(await _call(self._client.status, self.serial))
        return float(reply["primed_ml"])

    async def arm(self) -> None:
        """Attend the gun (heartbeats until this command ends), then arm it."""
        await self._stream_ready()
        if self._attendance is None:
            self._attendance = await _call(self._client.attend, self.serial, client_name())
        self._take(await self._moving(self._client.arm, (self._client.stop, self._client.disarm), self.override_reason))

    async def disarm(self) -> bool:
        was_armed = self.state in (HostState.ARMED, HostState.FIRING)
        self._take(await _call(self._client.disarm, self.serial))
        self._leave_safe = ()
        return was_armed

    async def _moving(
        self,
        request: Callable[..., dict[str, Any]],
        undo: tuple[Callable[[str], Any], ...],
        *args: Any,
        lasting: bool = False,
    ) -> dict[str, Any]:
        """``request`` (arm, prime): once it went out, closing sends ``undo`` to leave the gun safe. A refusal (the
        gun's state, a value) moved nothing of ours, unless the link failed and whether it did is unknown."""
        try:
            reply = await (_lasting if lasting else _call)(request, self.serial, *args)
        except (LinkError, asyncio.CancelledError):
            self._leave_safe = undo  # it may have been carried out: make the gun safe on the way out
            raise
        self._leave_safe = undo
        return reply

    async def fire(self, count: int = 1, *, on_ack: Callable[[int], None] | None = None) -> FiredShots:
        """Fire through the service; ``on_ack`` once the stream shows the gun firing (or the burst is over).

        A burst an alarm or an emergency stop cut raises the service's :class:`DeviceAlarm` with the device's
        count, carrying the shots the stream showed (the service's reply carries no shots)."""
        await self._stream_ready()
        burst = self._burst = _Burst(count, on_ack)
        try:
            reply = await _lasting(self._client.fire, self.serial, count, self.override_reason)
        except DeviceAlarm as alarm:
            if self._stream is not None and burst.firing_seen:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SETTLE_S):
                        await burst.ended.wait()
            alarm.shots = sorted(burst.shots, key=lambda shot: shot.index)
            alarm.fired = max(alarm.fired, len(alarm.shots))
            raise
        finally:
            self._burst = None
        burst.ack()
        return fired_from(reply)

    async def stop(self) -> None:
        self._take(await _call(self._client.stop, self.serial))

    async def emergency_stop(self) -> None:
        self._take(await _call(self._client.emergency_stop, self.serial))

    async def clear_alarm(self) -> None:
        self._take(await _call(self._client.clear, self.serial))

    async def diagnostics(self) -> Diagnostics:
        return diagnostics_from(await _call(self._client.diagnostics, self.serial))

    async def note(self, kind: str, detail: str, reason: str) -> None:
        await _call(self._client.note, self.serial, kind, detail, reason)

    def _take(self, status: dict[str, Any]) -> Status:
        self._status = status_from(status)
        return self._status

    # -------------------------------------------------------------------------------------------- closing

    async def close(self) -> None:
        """Leave the gun safe if this command armed it (stop, then disarm) or is priming it (stop), stop attending,
        end the stream."""
        for action in self._leave_safe:
            try:
                await _call(action, self.serial)
            except MesogunError as exc:
                log.warning("could not %s gun %s through the service: %s", action.__name__, self.serial, exc)
        self._leave_safe = ()
        if self._attendance is not None:
            await _call(self._attendance.leave)
            self._attendance = None
        await self._end_stream()

    # -------------------------------------------------------------------------------------------- the stream

    def _start_stream(self) -> None:
        if self._stream is not None:
            return
        loop = asyncio.get_running_loop()

        def deliver(callback: Callable[..., None], *args: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: nobody is listening any more
                loop.call_soon_threadsafe(callback, *args)

        def read() -> None:
            ended: MesogunError | None = None
            try:
                with self._client.events(self.serial) as reader:
                    with self._stream_lock:
                        if self._closing:
                            return
                        self._reader = reader
                    for kind, data in reader:
                        deliver(self._on_event, kind, data)
            except MesogunError as exc:
                ended = exc
            except Exception as exc:  # an unreadable stream ends in one line, never a traceback
                ended = ConnectionLost(f"unreadable event stream: {exc}")
            deliver(self._on_stream_end, ended)

        self._stream = threading.Thread(target=read, name=f"mesogun events {self.serial}", daemon=True)
        self._stream.start()

    async def _stream_ready(self) -> None:
        """Once the stream is open, wait for its first event: the service is then sending us what happens next."""
        if self._stream is None or self._stream_started.is_set():
            return
        try:
            async with asyncio.timeout(STREAM_START_S):
                await self._stream_started.wait()
        except TimeoutError:
            raise ConnectionLost(
                f"the gun service at {self._client.url} did not start gun {self.serial}'s event stream within "
                f"{STREAM_START_S:g} s"
            ) from None

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        self._last_event = time.monotonic()
        self._stream_started.set()
        if kind == "connection":
            self._lost = None if data.get("connected") else str(data.get("reason") or "the service lost the gun")
        elif kind in ("failsafe", "soft_limit"):  # the service made the gun safe by itself: say why
            log.warning("gun %s: %s", self.serial, data.get("reason"))
        try:
            event = event_from(kind, data)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("gun %s: an unreadable %s event from the service, skipped (%r)", self.serial, kind, exc)
            return
        if event is None:
            return
        if isinstance(event, StatusEvent):
            self._status = event.status
        if self._burst is not None:
            self._burst.saw(event)
        self._events.publish(event)

    def _on_stream_end(self, error: MesogunError | None) -> None:
        self._stream_started.set()
        if self._closing:
            return
        reason = f": {error}" if error is not None else ""
        self._events.close(ConnectionLost(f"the gun service at {self._client.url} ended the event stream{reason}"))

    async def _end_stream(self) -> None:
        with self._stream_lock:
            self._closing = True
            reader = self._reader
        if reader is not None:
            reader.close()
        if self._stream is not None:
            await asyncio.to_thread(self._stream.join, STREAM_JOIN_S)
        self._events.close()


__all__ = ["RemoteGun", "ServiceTarget", "choose_gun", "service_client", "service_target"]
