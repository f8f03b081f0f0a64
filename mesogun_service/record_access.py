"""The service's one handle on its treatment record for the HTTP routes: opened once (checked once: a whole-file
integrity check costs about 0.7 s on a million shots), used by one worker thread at a time (a database connection
is not shared between threads), never on the event loop that serves the guns. The guns' own writes go through
their recorders' writer threads, not through this handle."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from mesogun.errors import RecordError
from mesogun.record import TreatmentRecord
from mesogun.record.store import Where

T = TypeVar("T")


class SharedRecord:
    """The record at ``where`` (``None``: the default), opened on first use and kept open until :meth:`close`."""

    def __init__(self, where: Where | None) -> None:
        self.where = where
        self._record: TreatmentRecord | None = None
        self._lock = threading.Lock()

    def shown(self) -> str:
        """How the record's messages name it (its file, or its URL without the password): what a reply to an HTTP
        client says as "the service's treatment record" instead (:func:`mesogun_service.api.replies.unnamed`)."""
        from mesogun.record import database  # SQLAlchemy loads with the record
        from mesogun.record.store import default_path

        try:
            location = database.locate(self.where if self.where is not None else default_path())
        except RecordError:  # a malformed URL: no record opens, so no message names it
            return ""
        return str(location.file if location.file is not None else location.shown)

    async def call(self, work: Callable[[TreatmentRecord], T]) -> T:
        """``work(record)`` in a worker thread, alone on the record; its errors (``RecordError``…) propagate."""
        return await run_in_threadpool(self.call_here, work)

    def call_here(self, work: Callable[[TreatmentRecord], T]) -> T:
        """``work(record)`` in this thread (a worker's, not the event loop's), alone on the record."""
        with self._lock:
            if self._record is None:
                self._record = TreatmentRecord(self.where)
            return work(self._record)

    def close(self) -> None:
        """Close the record (everything is committed already); it reopens if used again."""
        with self._lock:
            if self._record is not None:
                self._record.close()
                self._record = None
