"""One CLI invocation's connection: open the gun with the treatment record attached, run, leave it safe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from mesogun.gun import Gun, connect
from mesogun.record import SessionRecorder, TreatmentRecord

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


def run_on_gun(url: str, db: Path | None, body: Callable[[Gun], Awaitable[T]]) -> T:
    """Connect to ``url`` with the record at ``db`` attached, run ``body``, and close (gun left disarmed)."""

    async def main() -> T:
        with TreatmentRecord(db) as record:
            async with connect(url, recorder=SessionRecorder(record)) as gun:
                return await body(gun)

    return asyncio.run(main())
