"""Crash durability: SIGKILL the host at random moments of continuous firing, then check the record.

The campaign script; its oracle, shared with tests/reliability, is :mod:`mesogun.testing.reliability.crash`.
Run: ``python -m benchmarks.reliability.crash`` (default 50 rounds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.reliability.common import emit
from mesogun.testing.reliability.crash import run_crash


def main() -> int:
    """Command-line entry; exit 0 when every round's record agrees with the device."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability.crash", description=__doc__)
    parser.add_argument("--rounds", type=int, default=50, help="kills (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments")
    parser.add_argument(
        "--max-kill-after-s", type=float, default=2.0, help="kill up to this long after the first shot line"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the NVM, record and host outputs here")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        summary = run_crash(args.rounds, args.seed, args.max_kill_after_s, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="mesogun-crash-") as tmp:
            summary = run_crash(args.rounds, args.seed, args.max_kill_after_s, Path(tmp))
    emit(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
