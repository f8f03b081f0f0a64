"""One CLI invocation's connection: open the gun with the treatment record attached, run, leave it safe.

A device command runs its body with :func:`on_gun` (or :func:`on_gun_safe`): the one place that chooses between
the gun service, when one is configured or found (:mod:`mesogun.cli.remote`), and opening the device directly
(:func:`run_on_gun`). The body sees a :class:`CliGun` either way: a :class:`~mesogun.Gun`, or the service's gun.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from mesogun.cli.options import CONNECT_INTERVAL, LinkSettings, current_link_settings
from mesogun.errors import IncompatibleDevice, RecordError
from mesogun.link import LinkHealth
from mesogun.models import Diagnostics, FiredShots, GunInfo, Settings, Status, Syringe
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.session.controller import HostState
from mesogun.session.gun import EventStream, Gun, connect
from mesogun.transports import Transport, is_serial_line, transport_for_url
from mesogun.transports.trace import TracingTransport

T = TypeVar("T")


class LinkView(Protocol):
    """What a command reads of the link: its health (``watch``)."""

    def health(self) -> LinkHealth: ...


class CliGun(Protocol):
    """The part of :class:`~mesogun.Gun` the commands use: a :class:`~mesogun.Gun` opened directly has it, and so
    has the gun a service serves (:class:`mesogun.cli.remote.RemoteGun`)."""

    @property
    def info(self) -> GunInfo: ...
    @property
    def state(self) -> HostState: ...
    @property
    def status(self) -> Status: ...
    @property
    def incompatible(self) -> IncompatibleDevice | None: ...
    @property
    def link(self) -> LinkView: ...
    def events(self, maxsize: int = 256) -> EventStream: ...
    async def refresh_status(self) -> Status: ...
    async def configure(
        self,
        *,
        depth_mm: float | None = None,
        dose_ml: float | None = None,
        rate_hz: float | None = None,
        mode: str | None = None,
    ) -> Settings: ...
    async def load_syringe(
        self, *, capacity_ml: float, fill_ml: float | None = None, brand: str | None = None
    ) -> Syringe: ...
    async def prime(self, *, volume_ml: float) -> float: ...
    async def arm(self) -> None: ...
    async def disarm(self) -> bool: ...
    async def fire(self, count: int = 1, *, on_ack: Callable[[int], None] | None = None) -> FiredShots: ...
    async def stop(self) -> None: ...
    async def emergency_stop(self) -> None: ...
    async def clear_alarm(self) -> None: ...
    async def diagnostics(self) -> Diagnostics: ...
    async def note(self, kind: str, detail: str, reason: str) -> None: ...


Body = Callable[[CliGun], Awaitable[T]]
"""What a device command does with the gun."""


def on_gun(ctx: click.Context, body: Body[T], *, stop_request: asyncio.Event | None = None) -> T:
    """Run ``body`` on the command's gun: through the gun service if one is configured or found, else on the
    device opened directly (:func:`run_on_gun`, with ``--device`` and ``--db``). ``stop_request`` as there."""
    from mesogun.cli.remote import service_target  # the remote session builds on this module

    target = service_target(ctx)
    if target is not None:
        return target.run(body, stop_request=stop_request)
    return run_on_gun(device_url(ctx), ctx.obj.db, body, stop_request=stop_request)


def on_gun_safe(ctx: click.Context, body: Body[T]) -> tuple[T, RecordError | None]:
    """:func:`on_gun` for a command that makes the gun safe (:func:`run_safe_on_gun` without a service; through
    one, the service keeps the record and no record error comes back)."""
    from mesogun.cli.remote import service_target

    target = service_target(ctx)
    if target is not None:
        return target.run(body), None
    return run_safe_on_gun(device_url(ctx), ctx.obj.db, body)


class StopSignals:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closed) while a command's body runs: the first sets
    ``stop_request`` if given (the body stops gracefully), else cancels the body; every later one is only noted,
    so making the gun safe is never cut short. The handlers stay until the event loop closes."""

    def __init__(self, stop_request: asyncio.Event | None) -> None:
        self.stop_request = stop_request
        self.interrupted = False
        self._task: asyncio.Future[Any] | None = None
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        if self.interrupted:
            click.echo("still making the gun safe (stopping, disarming): please wait", err=True)
            return
        self.interrupted = True
        if self.stop_request is not None:
            self.stop_request.set()
        elif self._task is not None:
            self._task.cancel()

    def guard(self, body: Awaitable[T]) -> asyncio.Future[T]:
        """Run ``body`` as the task a signal cancels (when there is no ``stop_request``)."""
        task = asyncio.ensure_future(body)
        self._task = task
        return task

    async def run(self, body: Awaitable[T]) -> T:
        """Await ``body``; interrupted by a signal, it ends in ``KeyboardInterrupt``."""
        try:
            return await self.guard(body)
        except asyncio.CancelledError:
            if self.interrupted:
                raise KeyboardInterrupt from None
            raise


def device_url(ctx: click.Context) -> str:
    """The ``--device`` URL; a usage error (exit 2) naming the ways to give one if there is none."""
    url: str | None = ctx.obj.device
    if not url:
        raise click.UsageError(
            "no device: give --device URL (a serial port, socket://HOST:PORT or sim://; see 'mesogun devices') "
            "or set MESOGUN_DEVICE"
        )
    return url


def open_transport(url: str, link: LinkSettings) -> Transport:
    """The unopened transport for ``url`` at ``--baud``, traced on stderr with ``--trace``.

    ``--baud`` with a URL that is not a serial line (``sim://``, ``socket://``) is a usage error (exit 2)."""
    if link.baud is not None and not is_serial_line(url):
        raise click.UsageError(
            f"--baud {link.baud}: {url} is not a serial line (a baud rate applies to a serial port, rfc2217://, "
            "spy:// or hwgrep://)"
        )
    transport = transport_for_url(url, baudrate=link.baud)
    if link.trace:
        return TracingTransport(transport, lambda line: click.echo(line, err=True))
    return transport


def connect_with(url: str, link: LinkSettings, **options: Any) -> contextlib.AbstractAsyncContextManager[Gun]:
    """:func:`mesogun.connect` with the command's connection settings (``--baud``, ``--timeout``, …)."""
    return connect(
        open_transport(url, link),
        ack_timeout=link.timeout,
        attempts=link.connect_attempts,
        interval=CONNECT_INTERVAL,
        **options,
    )


def run_on_gun(
    url: str,
    db: Path | str | None,
    body: Callable[[Gun], Awaitable[T]],
    *,
    stop_request: asyncio.Event | None = None,
    link: LinkSettings | None = None,
) -> T:
    """Connect to ``url`` with the record at ``db`` attached, run ``body``, and close (gun left disarmed).

    ``link`` (default: the running command's ``--baud``, ``--timeout``, ``--connect-attempts``, ``--trace``)
    says how to connect.

    Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal closed): the first one sets ``stop_request`` if given
    (the body stops gracefully), else cancels the body; every later one is ignored with a note, so closing,
    which stops and disarms the gun, is never cut short. An interrupted body ends in ``KeyboardInterrupt``
    once the gun is safe.

    A treatment record that fails (disk full, read-only, locked, corrupt) cancels the body too; once the gun
    is closed (stopped, disarmed) the record's ``RecordError`` ends the command (exit 6).
    """
    settings = link if link is not None else current_link_settings()
    result, _ = asyncio.run(_main(url, settings, db, body, stop_request, safe=False))
    return result


def run_safe_on_gun(
    url: str, db: Path | str | None, body: Callable[[Gun], Awaitable[T]], *, link: LinkSettings | None = None
) -> tuple[T, RecordError | None]:
    """Like :func:`run_on_gun` for a command that makes the gun safe (stop, disarm, estop, clear): it is sent
    even when the treatment record cannot be opened or refuses the session (read-only, corrupt). Then the gun
    is driven without a record and that record's error is returned with the result, for the command to report
    once the gun is safe (exit 6). A gun whose core catalog differs from this host's still gets ``stop`` and
    ``emergency_stop`` (``Gun.incompatible`` says so; the body decides what else to refuse)."""
    settings = link if link is not None else current_link_settings()
    return asyncio.run(_main(url, settings, db, body, None, safe=True))


class _SessionRefused(Exception):
    """The record refused the session start: the gun was closed before the body ran."""

    def __init__(self, error: RecordError) -> None:
        super().__init__(str(error))
        self.error = error


async def _main(
    url: str,
    link: LinkSettings,
    db: Path | str | None,
    body: Callable[[Gun], Awaitable[T]],
    stop_request: asyncio.Event | None,
    *,
    safe: bool,
) -> tuple[T, RecordError | None]:
    # A damaged record or a mistyped folder is refused before connecting; a new record file is created only
    # at the session start, once the URL was valid and the gun answered, and before the body sends anything.
    try:
        TreatmentRecord.check(db)
    except RecordError as error:
        if not safe:
            raise
        return await _run(url, link, None, body, stop_request, safe=True), error
    try:
        return await _run(url, link, SessionRecorder(db), body, stop_request, safe=safe), None
    except _SessionRefused as refused:
        if not safe:
            raise refused.error from None
        return await _run(url, link, None, body, stop_request, safe=True), refused.error  # the body never ran


async def _run(
    url: str,
    link: LinkSettings,
    recorder: SessionRecorder | None,
    body: Callable[[Gun], Awaitable[T]],
    stop_request: asyncio.Event | None,
    *,
    safe: bool = False,
) -> T:
    record_failure: list[RecordError] = []
    started = False
    try:
        async with connect_with(url, link, recorder=recorder, safety_only_if_incompatible=safe) as gun:
            started = True
            signals = StopSignals(stop_request)
            task = signals.guard(body(gun))

            def on_record_failure(error: RecordError) -> None:
                record_failure.append(error)
                task.cancel()

            if recorder is not None:
                recorder.on_failure(on_record_failure)
            try:
                return await task
            except asyncio.CancelledError:
                if record_failure:
                    raise record_failure[0] from None  # leaving the block makes the gun safe first
                if signals.interrupted:
                    raise KeyboardInterrupt from None
                raise
        # leaving the with block closed the gun (stop, disarm) with the handlers still ignoring signals
    except RecordError as error:
        if not started:  # the record refused the session start (the gun is closed): nothing was sent
            raise _SessionRefused(error) from error
        raise


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop the command gracefully (the gun stopped and disarmed first): Ctrl-C, kill, the terminal closed."""
