"""The treatment record's own lane: record calls run in order in one task, never on the control path.

The control actor hands every record call to :class:`RecordPipe` and goes on (sending heartbeats,
handling events); a call that raises, or does not finish within its timeout, is a record failure,
reported once through ``on_failed`` (which only enqueues for the actor). After a failure the pipe
drops everything: the session no longer touches the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mesogun.errors import MesogunError, RecordError, as_message
from mesogun.i18n import N_
from mesogun.wording import Number, Quoted, Wording

log = logging.getLogger(__name__)


@dataclass
class _Call:
    what: str
    call: Callable[[], Awaitable[None]]
    done: Callable[[], None] | None


class RecordPipe:
    """Runs record calls one at a time, in the order given, each bounded by ``timeout`` seconds."""

    def __init__(self, timeout: float, on_failed: Callable[[RecordError], None], *, enabled: bool = True) -> None:
        self._timeout = timeout
        self.enabled = enabled
        """False for a recorder that records nothing: calls are dropped at once (no task hop per command)."""
        self._on_failed = on_failed
        self._calls: deque[_Call] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._wake_scheduled = False
        self._task: asyncio.Task[None] | None = None
        self.failed: RecordError | None = None
        """The first failure; once set, later calls are dropped."""

    def start(self) -> None:
        """Start the pipe's task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mesogun-record")

    def put(self, what: str, call: Callable[[], Awaitable[None]], done: Callable[[], None] | None = None) -> None:
        """Queue ``call`` (never waits); ``done`` runs once it returned. Dropped if the record has failed."""
        if self.failed is not None or not self.enabled:
            return
        self._calls.append(_Call(what, call, done))
        self._idle.clear()
        if not self._wakeup.is_set() and not self._wake_scheduled:
            # Wake the lane on the loop's next turn, not this one: the caller the actor is about to answer
            # runs first, so recording never adds to a command's round trip (it still runs within a turn).
            self._wake_scheduled = True
            asyncio.get_running_loop().call_later(0, self._wake)

    def _wake(self) -> None:
        self._wake_scheduled = False
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            while not self._calls:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            item = self._calls.popleft()
            try:
                async with asyncio.timeout(self._timeout):
                    await item.call()
            except Exception as exc:  # any failure of the record, a timeout included, stops the gun
                reason = _reason(exc, self._timeout)
                template = N_("the treatment record failed writing {what}: {reason}")
                self.fail(RecordError(Wording(template, what=item.what, reason=reason)))
                continue
            if item.done is not None:
                try:
                    item.done()
                except Exception as exc:  # the lane must never die silently: a dead lane would hold every shot
                    template = N_("the treatment record's lane failed after {what}: {reason}")
                    self.fail(RecordError(Wording(template, what=item.what, reason=_reason(exc, self._timeout))))

    def fail(self, error: RecordError) -> None:
        """Mark the record failed (a call raised, or the record's own failure handler fired); report it once."""
        if self.failed is not None:
            return
        self.failed = error
        self._calls.clear()
        log.error("%s; stopping the gun", error)
        self._on_failed(error)

    async def drain(self) -> None:
        """Wait (at most one call timeout per queued call) until every queued call ran or was dropped."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout * (len(self._calls) + 1)):
                await self._idle.wait()

    async def close(self) -> None:
        """Stop the task (queued calls are dropped)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _reason(exc: Exception, timeout: float) -> object:
    """Why a record call failed, as a value of the lane's message: a timeout in words, a record error's own message
    (its cause translated with it), anything else quoted as it was raised."""
    if isinstance(exc, TimeoutError):
        return Wording(N_("no answer within {timeout} s"), timeout=Number(timeout, "g"))
    if isinstance(exc, MesogunError):
        return as_message(exc)
    return Quoted(str(exc))
