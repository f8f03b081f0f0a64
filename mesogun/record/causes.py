"""Why a database could not be written or read, for a person: the common causes (a full disk, a read-only file or
database, another program holding the lock, a database server out of reach) recognised by the driver's error code
and said in the catalog's words; any other cause is the driver's or the operating system's own text, kept as given.

In English every cause reads as the driver's own text, as the record's messages always said it
(:class:`~mesogun.wording.Word`: shown as given, its word in another language). No SQLAlchemy here: the errors are
read by their attributes (SQLite's ``sqlite_errorcode``, PostgreSQL's ``sqlstate``, an ``OSError``'s ``errno``), so
the accounts store uses it too.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Final

from mesogun.i18n import N_
from mesogun.wording import Quoted, Word

__all__ = ["CAUSES", "known_cause", "worded_cause"]

CAUSES: Final = {
    "full": N_("the disk is full"),
    "read_only": N_("the record cannot be written: it is read-only"),
    "locked": N_("another program holds the record locked"),
    "unreachable": N_("the database server cannot be reached"),
}
"""The causes said in a person's words, by kind."""

_SQLITE: Final = {13: "full", 8: "read_only", 5: "locked", 6: "locked"}
"""SQLite's primary result codes: SQLITE_FULL, SQLITE_READONLY, SQLITE_BUSY, SQLITE_LOCKED."""

_SQLSTATE: Final = {"53100": "full", "25006": "read_only", "55P03": "locked", "57P01": "unreachable"}
"""PostgreSQL's SQLSTATE codes: disk_full, read_only_sql_transaction, lock_not_available, admin_shutdown (and any
of class 08, a connection exception, is unreachable too)."""

_ERRNO: Final = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "read_only"}


def known_cause(exc: BaseException) -> str | None:
    """The kind of cause of ``exc`` (a key of :data:`CAUSES`) if it is a common one, else ``None``; the error's
    causes are looked at too (SQLAlchemy's ``orig``, ``raise … from``)."""
    for error in _chain(exc):
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _SQLITE:
            return _SQLITE[code & 0xFF]
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str):
            if state in _SQLSTATE:
                return _SQLSTATE[state]
            if state.startswith("08"):
                return "unreachable"
        if getattr(error, "connection_invalidated", False) or _unreachable_server(error, state):
            return "unreachable"
        if isinstance(error, OSError) and error.errno in _ERRNO:
            return _ERRNO[error.errno]
        if type(error).__name__ == "LockNotAvailable":
            return "locked"
    return None


def worded_cause(exc: BaseException, text: str) -> Word | Quoted:
    """The cause of ``exc`` in a message: ``text`` (the driver's own, as the message always said it) in English; in
    another language the catalog's words for a common cause, else ``text`` quoted as given."""
    kind = known_cause(exc)
    return Word(text, CAUSES[kind]) if kind is not None else Quoted(text)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it wraps (``orig``) and what raised it, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        error = pending.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        for inner in (getattr(error, "orig", None), error.__cause__, error.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)


def _unreachable_server(error: BaseException, state: object) -> bool:
    """psycopg's error for a server it cannot reach or lost: an ``OperationalError`` without a SQLSTATE."""
    kind = type(error)
    return kind.__name__ == "OperationalError" and kind.__module__.split(".")[0] == "psycopg" and state is None
