"""Fuzz the stream decoder and message decoding: no exception but the documented ones, chunking-independent.

The campaign script; its oracle, shared with tests/reliability, is :mod:`mesogun.testing.reliability.fuzz_decoder`.
Run: ``python -m benchmarks.reliability.fuzz_decoder --seconds 600``.
"""

from __future__ import annotations

import sys

from benchmarks.reliability import engine
from mesogun.testing.reliability.fuzz_decoder import seeds, target


def main() -> int:
    """Command-line entry."""
    return engine.main(
        "decoder",
        "benchmarks.reliability.fuzz_decoder",
        (__doc__ or "").split("\n\n")[0],
        target,
        seeds,
        max_len=4096,
    )


if __name__ == "__main__":
    sys.exit(main())
