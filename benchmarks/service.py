"""A real ``mesogun serve`` child process owning one gun, with a practitioner to sign in as, and its CPU time.

:func:`served_service` creates a throw-away accounts store with one practitioner (a random PIN: the service has
no built-in users), starts ``python -m mesogun.cli serve --device DEVICE --port 0 --no-socket`` with its record
and accounts in a temporary folder, reads the address it announces, and stops it (SIGTERM: the guns are made
safe first) when the block ends. :func:`process_cpu_seconds` reads a process's user + system time from
``/proc/<pid>/stat`` (all its threads; psutil is not a dependency).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.processes import Child, child
from mesogun_service.cli import announced_url

READY_TIMEOUT = 60.0
"""Seconds ``mesogun serve`` may take to announce itself (imports, the first connection, a busy machine)."""
USER = "bench"
"""The practitioner the benchmarks sign in as."""


@dataclass(frozen=True)
class ServedService:
    """A running ``mesogun serve`` child: its base URL, the credentials to sign in with, and the process."""

    url: str
    user: str
    pin: str
    child: Child

    @property
    def pid(self) -> int:
        """The service's process id (for its CPU time)."""
        return self.child.proc.pid


def add_practitioner(accounts: Path) -> str:
    """Create :data:`USER` (role practitioner) in the accounts store at ``accounts``; return its random PIN."""
    from mesogun_service.accounts import Accounts, Role

    pin = secrets.token_hex(8)
    with Accounts(accounts) as store:
        store.add_user(USER, (Role.PRACTITIONER,), pin, actor="benchmarks")
    return pin


@contextlib.contextmanager
def served_service(device: str, folder: Path, *options: str) -> Iterator[ServedService]:
    """Run ``mesogun serve --device DEVICE`` (record and accounts in ``folder``) until the block ends."""
    accounts = folder / "accounts.sqlite"
    pin = add_practitioner(accounts)
    args = [
        sys.executable,
        "-m",
        "mesogun.cli",
        "serve",
        "--device",
        device,
        "--port",
        "0",
        "--no-socket",
        "--db",
        str(folder / "record.sqlite"),
        "--accounts",
        str(accounts),
        *options,
    ]
    with child(args, stdout=True) as proc:
        line = proc.read_line(READY_TIMEOUT, "mesogun serve")
        url = announced_url(line)
        if url is None:
            raise RuntimeError(f"mesogun serve announced {line!r}, expected '… on http://HOST:PORT; …'")
        yield ServedService(url, USER, pin, proc)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, every thread included (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) is fields[0]
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5), in clock ticks
    return (utime + stime) / os.sysconf("SC_CLK_TCK")
