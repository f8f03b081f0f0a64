"""Everything the record does differently per SQL dialect, in one place: SQLite and PostgreSQL.

- **Transactions and durability**: a SQLite write takes the write lock at its start (``BEGIN IMMEDIATE``, after
  ``PRAGMA synchronous=FULL`` for a durable commit or ``NORMAL`` for a batched one; WAL mode is set at open). A
  PostgreSQL write sets ``synchronous_commit`` for its own transaction (``SET LOCAL``: on for a durable commit,
  off for a batched one), bounds lock waits by ``lock_timeout`` and takes the record's write lock (one
  transaction-scoped advisory lock), so writers queue as SQLite's do and reconciliation reads what it writes.
- **JSON fields** of ``events.body`` (text): ``json_extract`` on SQLite, ``->>`` on a ``jsonb`` cast on PostgreSQL.
- **Upserts**: each dialect's ``INSERT … ON CONFLICT DO UPDATE``.
- **The ``all_shots`` view**'s DDL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, event, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import BigInteger, Text

from mesogun.record.basics import BUSY_TIMEOUT_S
from mesogun.record.schema import ALL_SHOTS_SELECT

WRITE_LOCK_KEY = 0x6D65736F  # "meso"
"""The PostgreSQL advisory lock every record write holds for its transaction (one writer at a time)."""

_BEGIN = "mesogun.begin"
"""``Connection.info`` key: how the next transaction begins, ``(write, durable)``; a read when absent."""
_SYNCHRONOUS = "mesogun.synchronous"
"""``Connection.info`` key: the SQLite connection's current ``synchronous`` (True: FULL)."""


def next_transaction(connection: Connection, *, write: bool, durable: bool) -> None:
    """Say how the connection's next transaction begins: a write (durable or batched) or a read."""
    connection.info[_BEGIN] = (write, durable)


def install(engine: Engine) -> None:
    """Hook the record's transaction rules into ``engine`` (see the module's docstring)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "begin", _postgresql_begin)


def _sqlite_connect(dbapi_connection: Any, _: object) -> None:
    """Let the record say when transactions begin (the driver's own implicit BEGIN would defer the lock)."""
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    write, durable = connection.info.pop(_BEGIN, (False, True))
    if write and connection.info.get(_SYNCHRONOUS) is not durable:
        connection.exec_driver_sql(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        connection.info[_SYNCHRONOUS] = durable
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgresql_begin(connection: Connection) -> None:
    write, durable = connection.info.pop(_BEGIN, (False, True))
    if write:  # one round trip: this transaction's durability, its lock wait bound, the record's write lock
        connection.exec_driver_sql(
            "SELECT set_config('synchronous_commit', %(sync)s, true), set_config('lock_timeout', %(wait)s, true),"
            " pg_advisory_xact_lock(%(key)s)",
            {"sync": "on" if durable else "off", "wait": f"{int(BUSY_TIMEOUT_S * 1000)}ms", "key": WRITE_LOCK_KEY},
        )


def prepare_sqlite(dbapi_connection: Any) -> None:
    """WAL journal and FULL sync: set at open, outside any transaction (the driver's own connection)."""
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=FULL")


def upsert(dialect: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    """``INSERT … ON CONFLICT`` for ``table`` in ``dialect`` (both have ``on_conflict_do_update``)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def create_all_shots_view(dialect: str) -> str:
    """The DDL of the ``all_shots`` view (audits read it): every shot, one row each, unreceived ranges expanded."""
    create = "CREATE OR REPLACE VIEW" if dialect == "postgresql" else "CREATE VIEW IF NOT EXISTS"
    return f"{create} all_shots AS {ALL_SHOTS_SELECT}"


class json_text(FunctionElement[str]):
    """``json_text(column, key)``: a top-level field of a JSON text column, as text (NULL if absent)."""

    type = Text()
    inherit_cache = True


class json_int(FunctionElement[int]):
    """``json_int(column, key)``: a top-level field of a JSON text column as an integer; a JSON boolean is 1 or 0."""

    type = BigInteger()
    inherit_cache = True


def _parts(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, key = element.clauses
    return compiler.process(column, **kw), str(key.name)  # a literal_column


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"json_extract({column}, '$.{key}')"


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"(CAST({column} AS jsonb) ->> '{key}')"


@compiles(json_int, "sqlite")
def _json_int_sqlite(element: json_int, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"json_extract({column}, '$.{key}')"  # JSON true/false are 1/0 there


@compiles(json_int, "postgresql")
def _json_int_postgresql(element: json_int, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    value = f"(CAST({column} AS jsonb) -> '{key}')"
    return (
        f"(CASE jsonb_typeof({value}) WHEN 'boolean' THEN CAST(CAST({value} AS boolean) AS integer)"
        f" WHEN 'number' THEN CAST(CAST({value} AS numeric) AS bigint) END)"
    )


def json_field_key(key: str) -> str:
    """A JSON key fit to be written into SQL (the record's own field names only: letters, digits, ``_``). It is
    carried as a ``literal_column`` so that it is part of the statement's cache key (a bound value is not)."""
    if not key.replace("_", "").isalnum():
        raise ValueError(f"JSON key {key!r} is not a plain field name")
    return key


def text_field(column: ColumnElement[Any], key: str) -> json_text:
    """The JSON field ``key`` of ``column`` as text."""
    return json_text(column, literal_column(json_field_key(key)))


def int_field(column: ColumnElement[Any], key: str) -> json_int:
    """The JSON field ``key`` of ``column`` as an integer (booleans 1/0)."""
    return json_int(column, literal_column(json_field_key(key)))
