"""A throw-away PostgreSQL cluster for the record's tests and benchmarks: ``initdb`` in a temporary folder, served
on a Unix socket there (no TCP port), stopped and removed afterwards. As root its programs run as ``postgres``
(Debian's) or ``nobody``: a cluster may not be run by root."""

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

_databases = itertools.count(1)


class PostgresUnavailable(Exception):
    """No cluster can be started here; the message says why (no initdb, no psycopg, no user to run it as)."""


def server_programs() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on the PATH, or where Debian puts them."""
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    for initdb in candidates:
        folder = Path(initdb).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql)")


def _cluster_owner() -> tuple[Callable[[], None] | None, int, int]:
    if os.geteuid() != 0:
        return None, os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)

            def drop(uid: int = user.pw_uid, gid: int = user.pw_gid) -> None:
                os.setgid(gid)
                os.setuid(uid)

            return drop, user.pw_uid, user.pw_gid
    raise PostgresUnavailable(
        "running as root with neither a postgres nor a nobody user to run a PostgreSQL cluster as"
    )


@contextlib.contextmanager
def cluster(*, durable: bool, prefix: str = "mesogun-pg-", options: str = "") -> Iterator[str]:
    """A running cluster; yields a URL template with ``{database}`` (:func:`new_database`). ``durable=False``
    turns fsync off (tests check what the record does, not the disk); benchmarks time durable commits."""
    try:
        import psycopg  # noqa: F401  (the record's driver)
    except ImportError:
        raise PostgresUnavailable(
            "psycopg (the PostgreSQL driver) is not installed: pip install 'mesogun[postgresql]'"
        ) from None
    folder = server_programs()
    drop, uid, gid = _cluster_owner()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    server_options = f"-k {root} -c listen_addresses='' {options}"
    if not durable:
        server_options += " -c fsync=off -c full_page_writes=off"

    def run(*args: str) -> None:
        done = subprocess.run(args, preexec_fn=drop, capture_output=True, text=True, check=False, cwd=root)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}")

    try:
        run(str(folder / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(folder / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", server_options, "start")
        yield f"postgresql://postgres@/{{database}}?host={root}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate" if not durable else "fast", "stop"],
                preexec_fn=drop,
                capture_output=True,
                check=False,
                cwd=root,
            )
        shutil.rmtree(root, ignore_errors=True)


def new_database(template: str, *, prefix: str = "record") -> str:
    """The URL of a new, empty database in the cluster of ``template`` (a URL with ``{database}``)."""
    import psycopg

    name = f"{prefix}_{next(_databases)}"
    with psycopg.connect(template.format(database="postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return template.format(database=name)
