"""Safety timing, two ways: in the simulator on its own clock under faults, and through the system.

In the simulator (device time, virtual clock): how long the simulated gun keeps firing after each fault.
Through the system (wall time): host API call → link → pty pair → the device, in another process, having
acted, for emergency_stop, stop, disarm and heartbeat loss, firing at 10 shots/s.
The oracles, shared with tests/reliability, are :mod:`mesogun.testing.reliability.safety` and
:mod:`mesogun.testing.reliability.system_safety`.
Run: ``python -m benchmarks.reliability.safety`` (default 25 trials per fault, 50 tries per action).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.reliability.common import emit
from mesogun.testing.reliability.safety import run_safety
from mesogun.testing.reliability.system_safety import run_system_safety


def main() -> int:
    """Command-line entry; exit 0 when every trial and try stopped in time."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability.safety", description=__doc__)
    parser.add_argument("--trials", type=int, default=25, help="in-simulator trials per fault (rates cycle 0.5-10 Hz)")
    parser.add_argument(
        "--system-tries", type=int, default=50, help="through-the-system tries per action (0: skip; needs socat)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all-trials", action="store_true", help="print every trial and try, not only the tables")
    args = parser.parse_args()
    summary = {"in_simulator": run_safety(args.trials, args.seed)}
    if args.system_tries:
        summary["through_the_system"] = run_system_safety(args.system_tries, args.seed)
    if not args.all_trials:
        summary["in_simulator"].pop("trials")
        if "through_the_system" in summary:
            summary["through_the_system"].pop("tries")
    ok = all(part["ok"] for part in summary.values())
    emit({**summary, "ok": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
