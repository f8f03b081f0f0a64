"""The blocking twin of the Gun API for scripts, notebooks and the CLI: same method names, each call blocks.

``with mesogun.sync.connect("sim://") as gun: gun.arm(); gun.fire(count=10)``. A private event loop runs
in one background thread for the life of the connection; the ``with`` block's end closes the gun, stops
the loop and joins the thread, so nothing is left behind. Methods may be called from any thread (e.g.
``stop()`` from a UI thread while another thread blocks in ``fire(count=0)``).

:func:`blocking` is the other way to run one: the blocking view of a ``Gun`` on a loop the caller owns and
nobody else runs (the pytest plugin's virtual-time loop for ``sim://``); each call runs that loop in the
calling thread until the call is done, so virtual time stands still between calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, Protocol, TypeVar

from firmware_protocol import Mode
from mesogun.errors import ConnectionLost
from mesogun.models import Event, GunInfo, Settings, ShotRecord, Status, Syringe
from mesogun.record.recorder import Recorder
from mesogun.session.controller import HostState
from mesogun.session.gun import EventStream, Gun
from mesogun.session.gun import connect as async_connect
from mesogun.session.timeouts import Timeouts
from mesogun.transports import Transport

T = TypeVar("T")


class _Runner(Protocol):
    """Where a :class:`SyncGun`'s coroutines run."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T: ...


class _LoopThread:
    """An event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="mesogun-sync-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block for its result (exceptions propagate unchanged).

        Raises :class:`ConnectionLost` if the connection (and its loop) was already closed.
        """
        if self.loop.is_closed():
            coro.close()
            raise ConnectionLost("the gun was closed (the with block ended)")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None

    def stop(self) -> None:
        """Cancel what is left, stop the loop, join the thread and close the loop."""

        async def _shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        with contextlib.suppress(Exception):
            self.call(_shutdown(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class _CallerLoop:
    """A loop that runs only inside :meth:`call`, in the calling thread (its owner closes it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run the loop until ``coro`` is done (``timeout`` in the loop's own time) and return its result.

        Raises :class:`ConnectionLost` if the loop was already closed.
        """
        if self.loop.is_closed():
            coro.close()
            raise ConnectionLost("the gun was closed (its event loop is closed)")
        if timeout is None:
            return self.loop.run_until_complete(coro)
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
        except TimeoutError:
            raise TimeoutError(f"no result within {timeout} s") from None


class SyncGun:
    """A connected gun with blocking methods; see :class:`mesogun.session.gun.Gun` for what each one does."""

    def __init__(self, runner: _Runner, gun: Gun) -> None:
        self._runner = runner
        self._gun = gun

    @property
    def gun(self) -> Gun:
        """The underlying async Gun (use only from coroutines run on this object's loop)."""
        return self._gun

    @property
    def info(self) -> GunInfo:
        """Identity and capabilities the device reported at connect."""
        return self._gun.info

    @property
    def state(self) -> HostState:
        """The host's view of the gun's state."""
        return self._gun.state

    @property
    def status(self) -> Status:
        """The latest status the device reported."""
        return self._gun.status

    def configure(
        self,
        *,
        depth_mm: float | None = None,
        dose_ml: float | None = None,
        rate_hz: float | None = None,
        mode: Mode | str | None = None,
        wait: bool = True,
    ) -> Settings:
        """Set depth, dose, rate and mode; return what the device applied."""
        return self._runner.call(
            self._gun.configure(depth_mm=depth_mm, dose_ml=dose_ml, rate_hz=rate_hz, mode=mode, wait=wait)
        )

    def load_syringe(self, *, capacity_ml: float, fill_ml: float | None = None, brand: str | None = None) -> Syringe:
        """Declare a newly loaded syringe (and its ``brand``, so the device's volume gain for it applies)."""
        return self._runner.call(self._gun.load_syringe(capacity_ml=capacity_ml, fill_ml=fill_ml, brand=brand))

    def prime(self, *, volume_ml: float) -> float:
        """Prime the line; returns the volume applied once the device is ready."""
        return self._runner.call(self._gun.prime(volume_ml=volume_ml))

    def arm(self) -> None:
        """Arm the gun."""
        self._runner.call(self._gun.arm())

    def disarm(self) -> None:
        """Disarm the gun."""
        self._runner.call(self._gun.disarm())

    def fire(self, count: int = 1) -> list[ShotRecord]:
        """Fire ``count`` shots (0: until ``stop()`` from another thread); return their records."""
        return self._runner.call(self._gun.fire(count))

    def set_burst_count(self, count: int) -> int:
        """Set the shots one trigger or pedal press fires in burst mode; returns the count applied."""
        return self._runner.call(self._gun.set_burst_count(count))

    def stop(self) -> None:
        """Stop firing at the end of the shot in progress."""
        self._runner.call(self._gun.stop())

    def emergency_stop(self) -> None:
        """Stop everything and latch emergency stop."""
        self._runner.call(self._gun.emergency_stop())

    def clear_alarm(self) -> None:
        """Clear latched alarms and an emergency stop."""
        self._runner.call(self._gun.clear_alarm())

    def refresh_status(self) -> Status:
        """Ask the device for its status now."""
        return self._runner.call(self._gun.refresh_status())

    def reconnect(self, *, attempts: int = 20, interval: float = 0.5) -> None:
        """Find the same gun again after a connection loss."""
        self._runner.call(self._gun.reconnect(attempts=attempts, interval=interval))

    def events(self, maxsize: int = 256, timeout: float | None = None) -> Iterator[Event]:
        """Typed events as a blocking iterator (subscribed when called); ``timeout`` bounds each wait
        (``TimeoutError``). Ends when the gun closes; raises :class:`ConnectionLost` if the link goes."""

        async def subscribe() -> EventStream:
            return self._gun.events(maxsize)

        stream = self._runner.call(subscribe())
        return self._iterate(stream, timeout)

    def _iterate(self, stream: EventStream, timeout: float | None) -> Iterator[Event]:
        try:
            while not self._runner.loop.is_closed():
                try:
                    yield self._runner.call(stream.__anext__(), timeout)
                except StopAsyncIteration:
                    return
        finally:
            loop = self._runner.loop
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to close
                    loop.call_soon_threadsafe(stream.close)


def blocking(gun: Gun, loop: asyncio.AbstractEventLoop) -> SyncGun:
    """The blocking view of ``gun``, which lives on ``loop``: each call runs ``loop`` in the calling thread until
    it is done. For a loop nobody else runs (e.g. a virtual-time loop: time advances only during calls), so
    calls come from that one thread and ``fire(count=0)`` needs a device-side end. The caller keeps owning
    ``gun`` and ``loop`` (closing them is theirs)."""
    return SyncGun(_CallerLoop(loop), gun)


@contextlib.contextmanager
def connect(
    url: str | Transport,
    *,
    recorder: Recorder | None = None,
    ack_timeout: float | None = None,
    retries: int | None = None,
    silence_timeout: float | None = None,
    timeouts: Timeouts | None = None,
    attempts: int = 1,
    interval: float = 0.5,
) -> Iterator[SyncGun]:
    """Open a gun by URL and yield a :class:`SyncGun`; on exit the gun is left safe and the thread joined.

    Options as for :func:`mesogun.connect` (``timeouts`` holds every timeout of the session).
    """
    runner = _LoopThread()
    manager = async_connect(
        url,
        recorder=recorder,
        ack_timeout=ack_timeout,
        retries=retries,
        silence_timeout=silence_timeout,
        timeouts=timeouts,
        attempts=attempts,
        interval=interval,
    )
    try:
        gun = runner.call(manager.__aenter__())
    except BaseException:
        runner.stop()
        raise
    try:
        yield SyncGun(runner, gun)
    finally:
        try:
            runner.call(manager.__aexit__(None, None, None), timeout=30)
        except (ConnectionLost, TimeoutError):
            pass
        finally:
            runner.stop()
