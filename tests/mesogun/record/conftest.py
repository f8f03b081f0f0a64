"""Record-test fixtures: a second process that holds the treatment record's write lock, and the record on each
backend (``where``: a SQLite file, or a database of a throw-away PostgreSQL cluster started once per test session)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesogun.record import TreatmentRecord
from mesogun.record.store import BUSY_TIMEOUT_S
from mesogun.record.writer import RECORD_WRITE_TIMEOUT
from mesogun.testing import postgres

HOLD_LOCK_S = 2 * RECORD_WRITE_TIMEOUT
"""How long the second process holds its write lock: longer than the record waits for one."""


@pytest.fixture
def second_process_lock() -> Iterator[Callable[[Path], None]]:
    """``lock(db)``: a second process takes ``db``'s write lock (BEGIN EXCLUSIVE) and holds it for longer than
    the record's write timeout; returns once the lock is held (blocking: from a loop, use ``to_thread``).
    Every holder is killed at teardown."""
    assert BUSY_TIMEOUT_S < RECORD_WRITE_TIMEOUT < HOLD_LOCK_S
    holders: list[subprocess.Popen[str]] = []

    def lock(db: Path) -> None:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                f"db = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
                "db.execute('BEGIN EXCLUSIVE')\n"
                "print('locked', flush=True)\n"
                f"time.sleep({HOLD_LOCK_S})\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

    try:
        yield lock
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
            if holder.stdout is not None:
                holder.stdout.close()


@pytest.fixture
def locked_by_another_process(tmp_path: Path, second_process_lock: Callable[[Path], None]) -> Path:
    """A record whose write lock a second process holds (BEGIN EXCLUSIVE) for longer than the write timeout."""
    db = tmp_path / "r.sqlite"
    TreatmentRecord(db).close()
    second_process_lock(db)
    return db


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A throw-away PostgreSQL cluster for this test session (:mod:`mesogun.testing.postgres`), on a Unix socket in
    a temporary folder (no TCP port); yields a URL template with ``{database}`` to fill in. Skipped, saying why,
    when PostgreSQL or psycopg is absent. fsync is off (the tests check what the record does, not the disk)."""
    try:
        with postgres.cluster(durable=False, options="-c max_connections=40") as template:
            yield template
    except postgres.PostgresUnavailable as exc:
        pytest.skip(str(exc))


def new_database(cluster: str) -> str:
    """The URL of a new, empty database in ``cluster`` (a URL template with ``{database}``)."""
    return postgres.new_database(cluster)


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """The URL of a new, empty database in the session's cluster (one per test)."""
    return new_database(postgres_cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A new record's location on each backend: a SQLite file, or a PostgreSQL database (``postgresql://…``)."""
    if request.param == "sqlite":
        return tmp_path / "r.sqlite"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_record(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TreatmentRecord]:
    """One record per backend for a whole test module, for tests that each enter their own patients, lots and guns
    (a new PostgreSQL database and its migrations cost about 0.4 s a test otherwise)."""
    if request.param == "sqlite":
        where: Path | str = tmp_path_factory.mktemp("shared") / "r.sqlite"
    else:
        where = new_database(request.getfixturevalue("postgres_cluster"))
    with TreatmentRecord(where) as record:
        yield record
