"""Helpers shared by the reliability oracles: machine facts and a byte reader for fuzz inputs."""

from __future__ import annotations

import os
import platform
import resource
from typing import Any


def machine() -> dict[str, Any]:
    """Where a figure was measured: cores, Python, platform (the doc quotes these)."""
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB (from /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class ByteSource:
    """Reads numbers and byte strings off a fuzz input, deterministically; past the end it yields zeros.

    One format for atheris and Hypothesis alike, so a crasher from either replays as plain bytes.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def exhausted(self) -> bool:
        """Whether every input byte was consumed."""
        return self.pos >= len(self.data)

    def byte(self) -> int:
        """The next byte (0 past the end)."""
        if self.pos >= len(self.data):
            self.pos += 1
            return 0
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint(self, size: int) -> int:
        """The next ``size`` bytes as a little-endian unsigned integer."""
        return int.from_bytes(bytes(self.byte() for _ in range(size)), "little")

    def below(self, n: int) -> int:
        """A number in ``0..n-1`` (one or two bytes)."""
        return (self.uint(1) if n <= 256 else self.uint(2)) % n

    def take(self, n: int) -> bytes:
        """Up to ``n`` raw bytes (fewer at the end of the input)."""
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk
