"""Fuzz the simulated gun's command handler: raw bytes, valid-CRC frames of any header and payload, and
random sequences of well-formed commands, with time passing and faults injected in between.

The campaign script; its oracle, shared with tests/reliability, is :mod:`mesogun.testing.reliability.fuzz_device`.
Run: ``python -m benchmarks.reliability.fuzz_device --seconds 600``.
"""

from __future__ import annotations

import sys

from benchmarks.reliability import engine
from mesogun.testing.reliability.fuzz_device import seeds, target


def main() -> int:
    """Command-line entry."""
    return engine.main(
        "device",
        "benchmarks.reliability.fuzz_device",
        "Fuzz the simulated gun's command handler (raw bytes, valid-CRC frames, random command sequences).",
        target,
        seeds,
        max_len=2048,
    )


if __name__ == "__main__":
    sys.exit(main())
