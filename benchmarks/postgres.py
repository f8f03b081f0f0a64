"""A throw-away PostgreSQL cluster for the record benchmarks: initdb in a temporary folder, served on a Unix socket
there (no TCP port), stopped and removed afterwards; the same approach as the record tests' fixture
(tests/mesogun/record/conftest.py), but with ``fsync`` on: the benchmarks time durable commits."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.errors import Unavailable

_databases = itertools.count(1)


def server_programs() -> Path:
    """The folder of initdb and pg_ctl: on the PATH, or where Debian puts them; :class:`Unavailable` if absent."""
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    for initdb in candidates:
        folder = Path(initdb).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    raise Unavailable("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql)")


def _cluster_owner() -> tuple[Callable[[], None] | None, int, int]:
    """A cluster may not be run by root: as root, run its programs as ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None, os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)

            def drop(uid: int = user.pw_uid, gid: int = user.pw_gid) -> None:
                os.setgid(gid)
                os.setuid(uid)

            return drop, user.pw_uid, user.pw_gid
    raise Unavailable("running as root with neither a postgres nor a nobody user to run a PostgreSQL cluster as")


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A running cluster; yields a URL template with ``{database}`` (see :func:`new_database`)."""
    try:
        import psycopg  # noqa: F401  (the record's driver)
    except ImportError:
        raise Unavailable(
            "psycopg (the PostgreSQL driver) is not installed: pip install 'mesogun[postgresql]'"
        ) from None
    folder = server_programs()
    drop, uid, gid = _cluster_owner()
    root = Path(tempfile.mkdtemp(prefix="mesogun-bench-pg-"))
    os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    options = f"-k {root} -c listen_addresses='' -c max_connections=20 -c shared_buffers=128MB"

    def run(*args: str) -> None:
        done = subprocess.run(args, preexec_fn=drop, capture_output=True, text=True, check=False, cwd=root)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}")

    try:
        run(str(folder / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(folder / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start")
        yield f"postgresql://postgres@/{{database}}?host={root}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(folder / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                preexec_fn=drop,
                capture_output=True,
                check=False,
                cwd=root,
            )
        shutil.rmtree(root, ignore_errors=True)


def new_database(template: str) -> str:
    """The URL of a new, empty database in the cluster of ``template``."""
    import psycopg

    name = f"bench_{next(_databases)}"
    with psycopg.connect(template.format(database="postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return template.format(database=name)
