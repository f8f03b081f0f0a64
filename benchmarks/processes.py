"""Child processes and socat pty pairs that are always cleaned up: on return, on error and on Ctrl-C.

Children run in their own session (a terminal's Ctrl-C reaches only us; our ``finally`` ends them) and,
on Linux, get SIGTERM from the kernel if this process dies without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO

from benchmarks.errors import Unavailable
from sims.spawn import SOCAT_HINT, NullModemUnavailable, null_modem

__all__ = ["SOCAT_HINT", "Child", "child", "python_child", "socat_pair", "stop", "wait_for"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """In the child, before exec: ask the kernel for SIGTERM when the parent goes away."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into ``KeyboardInterrupt`` so every cleanup path runs, as for Ctrl-C."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


@dataclass
class Child:
    """A running child process; its stderr goes to a temporary file (a pipe nobody reads could fill and block it)."""

    proc: subprocess.Popen[bytes]
    errors: IO[bytes]

    def stderr_tail(self, limit: int = 2000) -> str:
        """The last ``limit`` characters the child wrote to stderr."""
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")[-limit:]

    def check_alive(self, what: str) -> None:
        """Raise ``RuntimeError`` with the child's stderr if it has exited."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with code {self.proc.returncode}\n{self.stderr_tail()}")

    def read_line(self, timeout: float, what: str) -> str:
        """The next line of the child's stdout (it must have been started with ``stdout=True``)."""
        stream = self.proc.stdout
        assert stream is not None, "child started without stdout=True"
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([stream], [], [], 0.05)
            if ready:
                line = stream.readline()
                if line:
                    return line.decode(errors="replace").strip()
                self.check_alive(what)
            self.check_alive(what)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: nothing on stdout after {timeout:.0f} s\n{self.stderr_tail()}")


def stop(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """End ``proc`` (SIGTERM, then SIGKILL after ``grace`` seconds) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def child(args: Sequence[str], *, stdout: bool = False) -> Iterator[Child]:
    """Run ``args`` as a child process for the duration of the ``with`` block, then stop it.

    ``stdout=True`` gives a pipe to read the child's announcements with :meth:`Child.read_line` (unbuffered, so
    each ``readline`` takes one line and ``select`` sees the next).
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            list(args),
            bufsize=0,  # unbuffered: a buffered readline could take two lines at once, and select() not see the second
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            yield Child(proc, errors)
        finally:
            stop(proc)


def python_child(module: str, *args: str, stdout: bool = False) -> contextlib.AbstractContextManager[Child]:
    """A child running ``python -m module args…`` with this interpreter."""
    return child([sys.executable, "-m", module, *args], stdout=stdout)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, proc: Child | None = None) -> None:
    """Poll ``predicate()`` until true; raise ``RuntimeError`` naming ``what`` on timeout or if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None:
            proc.check_alive(what)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.02)


@contextlib.contextmanager
def socat_pair() -> Iterator[tuple[str, str]]:
    """A connected pair of ptys made by socat, as two device paths; raises :class:`Unavailable` without socat."""
    try:
        pair = null_modem()
        ends = pair.__enter__()
    except NullModemUnavailable as exc:
        raise Unavailable(str(exc)) from None
    try:
        yield ends
    finally:
        pair.__exit__(None, None, None)
