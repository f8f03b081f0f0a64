"""The guns a service owns, by serial number (and by URL until first connected), started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

from mesogun.errors import MesogunError
from mesogun.i18n import N_
from mesogun.wording import Wording
from mesogun_service.errors import NotFound
from mesogun_service.failsafe import watch_attendance
from mesogun_service.hosted import HostedGun


class GunRegistry:
    """Every :class:`HostedGun` of the service; :meth:`get` finds one by serial number or by URL."""

    def __init__(self, hosted: list[HostedGun]) -> None:
        self._hosted = hosted
        self._watchers: list[asyncio.Task[None]] = []

    @classmethod
    def for_urls(cls, urls: tuple[str, ...], record: Path | str | None, *, grace_s: float) -> GunRegistry:
        """A registry of the guns at ``urls``, each recorded in ``record``."""
        return cls([HostedGun(url, record, grace_s=grace_s) for url in urls])

    def __iter__(self) -> Iterator[HostedGun]:
        return iter(self._hosted)

    def __len__(self) -> int:
        return len(self._hosted)

    def get(self, key: str) -> HostedGun:
        """The gun whose serial number (or URL) is ``key``; :class:`NotFound` (404) naming the known ones."""
        for hosted in self._hosted:
            if key in (hosted.serial, hosted.url):
                return hosted
        known = ", ".join(h.serial or h.url for h in self._hosted) or "none"
        raise NotFound(
            Wording(N_("no gun {gun} on this service (its guns: {guns}; see GET /guns)"), gun=repr(key), guns=known)
        )

    def start(self) -> None:
        """Connect every gun in the background and watch each one's attended clients."""
        for hosted in self._hosted:
            hosted.start()
            self._watchers.append(asyncio.create_task(watch_attendance(hosted), name=f"fail-safe {hosted.url}"))

    async def wait_connected(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for every gun's first connection (the ones that do not come keep trying)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(h.connected.wait() for h in self._hosted))

    async def close(self) -> None:
        """Stop and disarm every gun at once, then close their connections (each gun's failure is its own)."""
        for task in self._watchers:
            task.cancel()
        results = await asyncio.gather(*(h.close() for h in self._hosted), return_exceptions=True)
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, MesogunError)]
        if errors:
            raise errors[0]
