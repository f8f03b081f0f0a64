"""The record's writer: one thread owns the database connection, so no database call ever runs on the event loop.

Writes are jobs (a function of the thread's :class:`~mesogun.record.store.TreatmentRecord`) queued on the
loop and run in FIFO order, in batches: everything queued while the previous batch was committing goes into
the next transaction, one fsync for all of it (SQLite: WAL, ``synchronous=FULL``; PostgreSQL: ``synchronous_commit``
on) if any job in it is durable (a shot, an alarm, a session's start or end); a batch of commands and replies only
is committed without an fsync (``synchronous=NORMAL``, or ``synchronous_commit=off``: safe from a host crash,
fsynced with the next durable batch). Results come back as loop futures
(``run_in_executor`` resolves them with ``call_soon_threadsafe``; virtual-time loops such as ``looptime``
know to keep their clock in step with real time while it runs).

The first failing write (disk full, read-only, locked by another process past SQLite's busy timeout,
corrupt, or a batch that does not finish within :data:`RECORD_WRITE_TIMEOUT`) fails the writer for good: the
failure handlers run on the loop at once, every queued and later write raises the same one-line
:class:`~mesogun.errors.RecordError` naming the path and the cause, and the thread closes its connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from mesogun.errors import RecordError
from mesogun.i18n import N_
from mesogun.record.causes import worded_cause
from mesogun.record.recorder import FailureHandler
from mesogun.record.store import BUSY_TIMEOUT_S, TreatmentRecord, one_line
from mesogun.wording import Number, Wording

log = logging.getLogger(__name__)

T = TypeVar("T")

Job = Callable[[TreatmentRecord], Any]
"""One write, run in the writer thread against its own connection (inside the batch's transaction)."""

RECORD_WRITE_TIMEOUT = 2.0
"""Seconds an awaited write may take, from queueing to commit, before the record is declared failed
(a stalled disk must not hold the treatment). Above :data:`~mesogun.record.store.BUSY_TIMEOUT_S`, so a
record locked by another process fails with SQLite's own cause ("database is locked")."""

COALESCE_S = 0.05
"""How long a command or reply may wait for company before its batch is written: commands then cost the event
loop one list append, not a thread hand-off each. A shot or an alarm is written at once (with what waits)."""

MAX_BATCH = 512
"""The most jobs committed in one transaction (bounds how long one commit holds the write lock)."""

assert BUSY_TIMEOUT_S < RECORD_WRITE_TIMEOUT, "SQLite's busy timeout must expire before the write timeout"


class RecordWriter:
    """Runs record jobs in one dedicated thread, batched into transactions; fails once and for all."""

    def __init__(
        self,
        open_record: Callable[[], TreatmentRecord],
        path: Path | str,
        *,
        write_timeout: float = RECORD_WRITE_TIMEOUT,
    ) -> None:
        """``open_record`` is called in the writer thread (the connection belongs to it); ``path`` names
        the record in errors."""
        self.path = path
        self.write_timeout = write_timeout
        self._open = open_record
        self._executor: ThreadPoolExecutor | None = None
        self._record: TreatmentRecord | None = None  # the writer thread's own; touched only there
        self._pending: list[tuple[Job, asyncio.Future[Any], bool]] = []
        self._inflight: asyncio.Future[list[Any]] | None = None
        self._coalescing: asyncio.TimerHandle | None = None
        self._error: RecordError | None = None
        self._handlers: list[FailureHandler] = []
        self.batches = 0
        """Transactions committed (each one fsync)."""

    # -- the loop side ------------------------------------------------------------------------------

    @property
    def error(self) -> RecordError | None:
        """The failure that ended this writer, or ``None`` while it works."""
        return self._error

    def raise_if_failed(self) -> None:
        """Raise the writer's failure, if it failed."""
        if self._error is not None:
            raise self._error

    def on_failure(self, handler: FailureHandler) -> None:
        """Call ``handler`` on the loop when a write fails (at once if one already has)."""
        self._handlers.append(handler)
        if self._error is not None:
            handler(self._error)

    def submit(self, job: Job, *, durable: bool = True) -> asyncio.Future[Any]:
        """Queue ``job``; the future gets its result once committed (or the writer's RecordError).

        ``durable`` (shots, alarms, session start and end): its batch is fsynced before the future resolves.
        Otherwise (commands, replies) the batch survives a crash of the host process and is fsynced with
        the next durable batch (SQLite WAL, ``synchronous=NORMAL``): a power cut may lose it, never a shot.
        """
        self.raise_if_failed()
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mesogun-record")
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((job, future, durable))
        if durable:
            self._kick(loop)
        elif self._coalescing is None and self._inflight is None:
            self._coalescing = loop.call_later(COALESCE_S, self._kick, loop)
        return future

    def post(self, job: Job, then: Callable[[Any], None] | None = None, *, durable: bool = False) -> None:
        """Queue ``job`` without waiting for it; ``then(result)`` runs on the loop once it is committed.

        A failure of this job reaches the failure handlers (and every later call), not the caller.
        """
        future = self.submit(job, durable=durable)
        future.add_done_callback(lambda f: _deliver(f, then))

    async def wait(self, future: asyncio.Future[T], what: str) -> T:
        """The committed result of ``future``; RecordError if it failed or took over the write timeout.

        The caller waits on a future of its own that the job's completion or the deadline resolves, so the job is
        never cancelled with its caller (what ``asyncio.shield`` inside ``wait_for`` did, at two more futures and
        loop turns per shot).
        """
        if not future.done():
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            release = functools.partial(_release, waiter)
            future.add_done_callback(release)
            deadline = loop.call_later(self.write_timeout, release, None)
            try:
                await waiter
            finally:
                deadline.cancel()
                future.remove_done_callback(release)
        if not future.done():
            self.fail(
                RecordError(
                    Wording(
                        N_(
                            "treatment record {path}: {what} was not written within {timeout} s (disk stalled or the "
                            "record locked)"
                        ),
                        path=str(self.path),
                        what=what,
                        timeout=Number(self.write_timeout, "g"),
                    )
                )
            )
            raise self._error from None  # type: ignore[misc]  # set by fail()
        return future.result()

    async def close(self) -> None:
        """Commit everything queued, close the thread's connection and end the thread (reopened on demand)."""
        if self._error is None and (self._pending or self._inflight is not None):
            await self.wait(self.submit(lambda record: None), "the last queued writes")
        executor, self._executor = self._executor, None
        if executor is None:
            return
        closing = asyncio.get_running_loop().run_in_executor(executor, self._close_in_thread)
        executor.shutdown(wait=False)
        try:
            await asyncio.wait_for(closing, self.write_timeout)
        except TimeoutError:
            log.warning("treatment record %s: the writer did not close within %g s", self.path, self.write_timeout)

    def fail(self, error: RecordError) -> None:
        """End the writer with ``error``: fail what is queued, tell the handlers, close in the background."""
        if self._error is not None:
            return
        self._error = error
        log.error("%s", error)
        pending, self._pending = self._pending, []
        for _, future, _ in pending:
            if not future.done():
                future.set_exception(error)
        for handler in list(self._handlers):
            try:
                handler(error)
            except Exception:  # a broken handler must not keep the others from running
                log.exception("treatment record failure handler %r failed", handler)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._close_in_thread)  # runs once a stuck write returns
            executor.shutdown(wait=False)

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._coalescing is not None:
            self._coalescing.cancel()
            self._coalescing = None
        if self._inflight is not None or not self._pending or self._executor is None:
            return
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        jobs = [job for job, _, _ in batch]
        durable = any(durable for _, _, durable in batch)
        self._inflight = loop.run_in_executor(self._executor, self._run_batch, jobs, durable)
        self._inflight.add_done_callback(lambda done: self._batch_done(loop, batch, done))

    def _batch_done(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[Job, asyncio.Future[Any], bool]],
        done: asyncio.Future[Any],
    ) -> None:
        self._inflight = None
        if self._error is not None:  # failed meanwhile (a timeout): the batch's futures already know
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(self._error)
            return
        exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
        if exc is not None:
            error = self._as_record_error(exc)
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(error)
            self.fail(error)
            return
        self.batches += 1
        for (_, future, _), result in zip(batch, done.result(), strict=True):
            if not future.done():
                future.set_result(result)
        if any(durable for _, _, durable in self._pending):
            self._kick(loop)
        elif self._pending and self._coalescing is None:
            self._coalescing = loop.call_later(COALESCE_S, self._kick, loop)

    def _as_record_error(self, exc: BaseException) -> RecordError:
        """The failure as one line naming the record and the cause."""
        if isinstance(exc, RecordError) and str(self.path) in str(exc):
            return RecordError(exc.wording if exc.wording is not None else one_line(exc))
        cause = worded_cause(exc, one_line(exc))
        return RecordError(Wording(N_("treatment record {path}: {cause}"), path=str(self.path), cause=cause))

    # -- the writer thread --------------------------------------------------------------------------

    def _run_batch(self, jobs: list[Job], durable: bool) -> list[Any]:
        if self._record is None:
            self._record = self._open()
        record = self._record
        with record.transaction(durable=durable):
            return [job(record) for job in jobs]

    def _close_in_thread(self) -> None:
        record, self._record = self._record, None
        if record is not None:
            try:
                record.close()
            except Exception as exc:  # closing a failed database: nothing more to lose
                log.debug("closing the treatment record %s: %s", self.path, exc)


def _release(waiter: asyncio.Future[None], _: object) -> None:
    """The job finished or its deadline passed: let its caller look (whichever comes first)."""
    if not waiter.done():
        waiter.set_result(None)


def _deliver(future: asyncio.Future[Any], then: Callable[[Any], None] | None) -> None:
    """Hand a posted job's result on; its failure is the writer's (already reported), so only retrieve it."""
    if future.cancelled() or future.exception() is not None:
        return
    if then is not None:
        then(future.result())
