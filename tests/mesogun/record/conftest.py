"""Record-test fixtures: a second process that holds the treatment record's write lock, and the record on each
backend (``where``: a SQLite file, or a database of a throw-away PostgreSQL cluster started once per test session)."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesogun.record import TreatmentRecord
from mesogun.record.store import BUSY_TIMEOUT_S
from mesogun.record.writer import RECORD_WRITE_TIMEOUT

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


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl): on the PATH, or where Debian puts them."""
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    for initdb in candidates:
        folder = Path(initdb).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    return None


def _as_cluster_owner() -> tuple[Callable[[], None] | None, int, int]:
    """A cluster may not be run by root: as root, run its programs as ``postgres`` (Debian's) or ``nobody``."""
    if os.geteuid() != 0:
        return None, os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue

        def drop(uid: int = user.pw_uid, gid: int = user.pw_gid) -> None:
            os.setgid(gid)
            os.setuid(uid)

        return drop, user.pw_uid, user.pw_gid
    pytest.skip("running as root with neither a postgres nor a nobody user to run a PostgreSQL cluster as")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A throw-away PostgreSQL cluster for this test session, on a Unix socket in a temporary folder (no TCP port);
    yields a URL template with ``{database}`` to fill in. Skipped, saying why, when PostgreSQL or psycopg is absent.
    fsync is off (the tests check what the record does, not the disk); the latency script measures with it on."""
    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver; pip install 'mesogun[postgresql]')")
    folder = _postgres_bin()
    if folder is None:
        pytest.skip("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql)")
    drop, uid, gid = _as_cluster_owner()
    root = Path(tempfile.mkdtemp(prefix="mesogun-pg-"))
    os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    server_options = f"-k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=40"

    def run(*args: str) -> None:
        done = subprocess.run(args, preexec_fn=drop, capture_output=True, text=True, check=False, cwd=root)
        assert done.returncode == 0, f"{args[0]} failed: {done.stderr or done.stdout}"

    try:
        run(str(folder / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(folder / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", server_options, "start")
        yield f"postgresql://postgres@/{{database}}?host={root}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                preexec_fn=drop,
                capture_output=True,
                check=False,
                cwd=root,
            )
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count(1)


def new_database(cluster: str) -> str:
    """The URL of a new, empty database in ``cluster`` (a URL template with ``{database}``)."""
    import psycopg

    name = f"record_{next(_databases)}"
    with psycopg.connect(cluster.format(database="postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return cluster.format(database=name)


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
