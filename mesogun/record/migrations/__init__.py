"""The record's schema migrations (Alembic), run at every open: a record of any earlier schema is brought to the
current one (users need no ``alembic.ini``). Revision 1 is the schema as it stood when the record moved to
SQLAlchemy; revision 2 gives a SQLite file written before some of its columns existed those columns; revision 3
adds the audit log, revision 4 the clinic's tables, revision 5 the triggers that keep the audit log
append-only, revision 6 the indexes of a session summary and a patient's history, revision 7 the calibration runs and
every shot's device calibration.

A new schema change: edit :mod:`mesogun.record.schema`, then add a revision under ``versions/`` (``alembic -c
mesogun/record/migrations/alembic.ini revision -m "what"`` writes its skeleton; fill in ``upgrade``);
``tests/mesogun/record/test_migrations.py`` checks that the migrated database matches the schema.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from mesogun.record import dialects

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent

HEAD = "0007"
"""The newest revision, known without loading Alembic (about 0.2 s a CLI command need not pay when its record is
current); ``tests/mesogun/record/test_migrations.py`` checks it is the scripts' head."""


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration of these migrations, run on ``connection`` (no ``alembic.ini`` needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest revision, read from the scripts (once per process; loads Alembic)."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    """The record's revision (``None``: a new database, or a record made before migrations existed); one read of
    Alembic's own version table, without loading Alembic."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return str(row[0]) if row is not None else None


def upgrade(connection: Connection) -> None:
    """Bring the record to :func:`head` in one write transaction (another process opening it at the same time waits,
    then finds it done). A record already there costs one read of its revision."""
    with connection.begin():
        if current(connection) == HEAD:
            return
    from alembic import command  # only when there is something to migrate

    dialects.next_transaction(connection, write=True, durable=True)
    with connection.begin():
        if current(connection) != HEAD:
            command.upgrade(config(connection), "head")
