"""Where the record lives and how it is opened: a SQLite file (a path or ``sqlite:///…``) or a PostgreSQL database
(``postgresql://…``), through SQLAlchemy; checked, created (a new file 0600), and migrated to the current schema.

Every failure is a one-line :class:`~mesogun.errors.RecordError` naming the record (the path, or the URL without
its password) and the driver's own cause (e.g. SQLite's "database is locked").
"""

from __future__ import annotations

import os
import sqlite3  # the driver's own errors tell damage from a lock (imported with the record, not at first use)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, create_engine, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from mesogun.errors import RecordError
from mesogun.i18n import N_
from mesogun.record import dialects, migrations
from mesogun.record.basics import BUSY_TIMEOUT_S, one_line
from mesogun.record.causes import worded_cause
from mesogun.wording import Quoted, Wording

CONNECT_TIMEOUT_S = 5
"""How long opening a PostgreSQL record waits for the server (a server that does not answer is an error)."""


@dataclass(frozen=True)
class Location:
    """A record's whereabouts: what it was given as, the URL SQLAlchemy opens, and how messages name it."""

    given: Path | str
    """As given: a path, or a database URL (kept whole, password included, to open it again)."""
    url: URL
    file: Path | None
    """The SQLite file (``None`` for a server database)."""
    shown: str
    """How messages name it: the file's path, or the URL without its password."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()


def is_url(given: str | Path) -> bool:
    """Whether ``given`` is a database URL (``postgresql://…``, ``sqlite:///…``) rather than a file path."""
    return isinstance(given, str) and "://" in given


def locate(given: str | Path) -> Location:
    """The :class:`Location` of a path or URL; :class:`RecordError` for a URL of another database or malformed."""
    if not is_url(given):
        file = Path(given)
        return Location(given, URL.create("sqlite", database=str(file)), file, str(file))
    try:
        url = make_url(str(given))
    except ArgumentError as exc:
        raise RecordError(f"treatment record URL {given!r} is not a database URL: {one_line(exc)}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise RecordError(f"treatment record URL {given!r} names no file (sqlite:///path/to/record.sqlite)")
        file = Path(url.database)
        return Location(given, url.set(drivername="sqlite"), file, str(file))
    if backend == "postgresql":
        shown = url.render_as_string(hide_password=True)
        return Location(given, url.set(drivername="postgresql+psycopg"), None, shown)
    shown = url.render_as_string()
    raise RecordError(f"treatment record URL {shown!r}: {backend} is not supported (only sqlite, postgresql)")


def check_folder(location: Location) -> None:
    """A file given in a folder that does not exist is a mistyped path (only the default's are created)."""
    if location.file is not None and not location.file.parent.is_dir():
        raise RecordError(
            f"no folder {location.file.parent} for the treatment record {location.shown} (check --db; only the "
            "default location's folders are created)"
        )


def connect(location: Location, *, create: bool) -> Connection:
    """An open, checked connection to the record at the current schema (migrated if older, created if new and
    ``create``); a new SQLite file is made readable by its owner only (0600)."""
    if location.file is not None:
        if not create and not location.file.exists():
            raise RecordError(f"no treatment record at {location.shown} (check --db)")
        check_folder(location)
        _create_file(location)
    try:
        engine = create_engine(location.url, poolclass=NullPool, connect_args=_connect_args(location))
        dialects.install(engine)
        connection = engine.connect()
    except ModuleNotFoundError as exc:  # the database's driver is an optional extra
        raise RecordError(
            f"cannot open the treatment record {location.shown}: its driver {exc.name} is not installed; "
            f"install it with: pip install 'mesogun[{location.dialect}]'"
        ) from None
    except (OSError, SQLAlchemyError) as exc:
        raise not_opened(location, exc) from exc
    try:
        if location.dialect == "sqlite":
            _check_integrity(location, connection)  # before anything could write to it
            dialects.prepare_sqlite(_driver_connection(connection))
        elif not create and not _has_record(connection):
            raise RecordError(f"no treatment record in {location.shown} (check --db)")
        migrations.upgrade(connection)
    except RecordError:
        connection.close()
        raise
    except (OSError, SQLAlchemyError) as exc:
        connection.close()
        raise not_opened(location, exc) from exc
    return connection


def not_opened(location: Location, exc: BaseException) -> RecordError:
    """The record at ``location`` could not be opened, naming it and the driver's cause (:func:`cause`)."""
    wording = Wording(
        N_("cannot open the treatment record {path}: {cause}"),
        path=location.shown,
        cause=worded_cause(exc, cause(exc)),
    )
    return RecordError(wording)


def _has_record(connection: Connection) -> bool:
    """Whether a server database holds a record already (a reader must not create one in a mistyped database)."""
    with connection.begin():
        return "sessions" in inspect(connection).get_table_names()


def _connect_args(location: Location) -> dict[str, Any]:
    if location.dialect == "sqlite":
        # The record's object may be closed from another thread than it was opened in (the writer's executor).
        return {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    return {"connect_timeout": CONNECT_TIMEOUT_S}


def _create_file(location: Location) -> None:
    """Create an absent SQLite file empty, readable and writable by its owner only (SQLite gives its WAL the
    same mode); an existing file keeps its mode."""
    assert location.file is not None
    try:
        os.close(os.open(location.file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise RecordError(f"cannot open the treatment record {location.shown}: {one_line(exc)}") from exc


def _driver_connection(connection: Connection) -> Any:
    """The driver's own connection under ``connection`` (for what must run outside a transaction)."""
    return connection.connection.dbapi_connection


def _check_integrity(location: Location, connection: Connection) -> None:
    """Refuse a damaged SQLite file (:class:`RecordError` naming it) before anything is written to it.

    ``PRAGMA quick_check`` reads every page and checks the b-trees' structure (not that each index matches
    its table, which ``integrity_check`` adds at about three times the cost): about 7 ms on a record of
    10,000 shots (3.9 MB). A file that is not a database at all fails the same way.
    """
    driver = _driver_connection(connection)
    try:
        problems = [one_line(row[0]) for row in driver.execute("PRAGMA quick_check(1)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
            raise RecordError(f"cannot open the treatment record {location.shown}: {one_line(exc)}") from exc
        problems = [one_line(exc)]
    if problems != ["ok"]:
        raise RecordError(
            Wording(
                N_(
                    "the treatment record {path} is damaged ({problem}); it was left untouched: keep it, and record "
                    "to another file (move this one aside or give another path)"
                ),
                path=location.shown,
                problem=Quoted(problems[0]),
            )
        )


def cause(exc: BaseException) -> str:
    """The driver's own message for a database error (not SQLAlchemy's wrapping of it), on one line."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        orig = exc.orig
        if type(orig).__name__ == "LockNotAvailable":  # PostgreSQL's lock_timeout expired
            return f"the record is locked by another writer (waited {BUSY_TIMEOUT_S:g} s): {one_line(orig)}"
        return one_line(orig)
    return one_line(exc)
