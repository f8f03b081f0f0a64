"""One CLI invocation's connection: open the gun with the treatment record attached, run, leave it safe."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from mesogun.errors import RecordError
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.session.gun import Gun, connect

T = TypeVar("T")


def device_url(ctx: click.Context) -> str:
    """The ``--device`` URL; a usage error (exit 2) naming the ways to give one if there is none."""
    url: str | None = ctx.obj.device
    if not url:
        raise click.UsageError(
            "no device: give --device URL (a serial port, socket://HOST:PORT or sim://; see 'mesogun devices') "
            "or set MESOGUN_DEVICE"
        )
    return url


def run_on_gun(
    url: str, db: Path | None, body: Callable[[Gun], Awaitable[T]], *, stop_request: asyncio.Event | None = None
) -> T:
    """Connect to ``url`` with the record at ``db`` attached, run ``body``, and close (gun left disarmed).

    Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal closed): the first one sets ``stop_request`` if given
    (the body stops gracefully), else cancels the body; every later one is ignored with a note, so closing,
    which stops and disarms the gun, is never cut short. An interrupted body ends in ``KeyboardInterrupt``
    once the gun is safe.

    A treatment record that fails (disk full, read-only, locked, corrupt) cancels the body too; once the gun
    is closed (stopped, disarmed) the record's ``RecordError`` ends the command (exit 6).
    """

    async def main() -> T:
        loop = asyncio.get_running_loop()
        with TreatmentRecord(db) as record:
            recorder = SessionRecorder(record)
            record_failure: list[RecordError] = []
            async with connect(url, recorder=recorder) as gun:
                task = asyncio.ensure_future(body(gun))
                interrupted = False

                def on_record_failure(error: RecordError) -> None:
                    record_failure.append(error)
                    task.cancel()

                recorder.on_failure(on_record_failure)

                def on_signal() -> None:
                    nonlocal interrupted
                    if interrupted:
                        click.echo("still making the gun safe (stopping, disarming): please wait", err=True)
                        return
                    interrupted = True
                    if stop_request is not None:
                        stop_request.set()
                    else:
                        task.cancel()

                for sig in _STOP_SIGNALS:
                    loop.add_signal_handler(sig, on_signal)
                try:
                    return await task
                except asyncio.CancelledError:
                    if record_failure:
                        raise record_failure[0] from None  # leaving the block makes the gun safe first
                    if interrupted:
                        raise KeyboardInterrupt from None
                    raise
            # leaving the with blocks closed the gun (stop, disarm) with the handlers still ignoring signals

    return asyncio.run(main())


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop the command gracefully (the gun stopped and disarmed first): Ctrl-C, kill, the terminal closed."""
