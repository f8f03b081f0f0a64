"""Soak: many commands and shots through the in-process simulated gun over a damaged, flaky link.

The campaign script; its oracle, shared with tests/reliability, is :mod:`mesogun.testing.reliability.soak`.
Run: ``python -m benchmarks.reliability.soak`` (defaults: 100,000 commands and 20,000 shots).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from benchmarks.reliability.common import emit
from mesogun.testing.reliability.soak import SoakConfig, run_soak


def main() -> int:
    """Command-line entry; exit 0 when nothing was duplicated (in the record or on the device), lost or misrecorded."""
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability.soak", description=__doc__)
    parser.add_argument("--commands", type=int, default=defaults.commands, help="at least this many commands")
    parser.add_argument("--shots", type=int, default=defaults.shots, help="at least this many shots")
    parser.add_argument("--corrupt", type=float, default=defaults.corrupt, help="probability per byte")
    parser.add_argument("--drop", type=float, default=defaults.drop, help="probability per byte")
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms, help="one-way latency")
    parser.add_argument(
        "--unplug-every-s", type=float, default=defaults.unplug_every_s, help="mean device seconds between unplugs"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--db", type=Path, default=None, help="treatment record path (default: a temp file)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    cfg = SoakConfig(
        args.commands, args.shots, args.corrupt, args.drop, args.latency_ms, args.unplug_every_s, args.seed, args.db
    )
    summary = run_soak(cfg, None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True))
    emit(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
