"""Safety under faults: how long, in device time, the simulated gun keeps firing after each fault.

The campaign script; its oracle, shared with tests/reliability, is :mod:`mesogun.testing.reliability.safety`.
Run: ``python -m benchmarks.reliability.safety`` (default 25 trials per fault).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.reliability.common import emit
from mesogun.testing.reliability.safety import run_safety


def main() -> int:
    """Command-line entry; exit 0 when every trial stopped in time."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability.safety", description=__doc__)
    parser.add_argument("--trials", type=int, default=25, help="trials per fault (rates cycle 0.5-10 Hz)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all-trials", action="store_true", help="print every trial, not only the table")
    args = parser.parse_args()
    summary = run_safety(args.trials, args.seed)
    if not args.all_trials:
        summary.pop("trials")
    emit(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
