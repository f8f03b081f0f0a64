"""``python -m benchmarks [--quick] [--json]``: run every benchmark and print a table or JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from benchmarks.processes import install_signal_handlers
from benchmarks.record import Result
from benchmarks.report import table
from benchmarks.runner import run_all
from benchmarks.settings import Mode, Settings


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: run length, output form, and an optional name filter."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="mesogun against named peers, same machine, same run; ratio > 1 means we are better.",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--quick", action="store_true", help="shorter runs: the whole set in about three minutes")
    length.add_argument("--smoke", action="store_true", help="tiny runs that only check the harness (tests)")
    parser.add_argument("--json", action="store_true", help="one JSON object per result line on stdout")
    parser.add_argument("--only", metavar="NAME", help="run only the benchmarks whose name contains NAME")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; exit 0 when all ran (goals missed or not), 1 if any errored, 130 on Ctrl-C."""
    args = parse_args(argv)
    mode = Mode.QUICK if args.quick else Mode.SMOKE if args.smoke else Mode.FULL
    install_signal_handlers()
    start = time.perf_counter()
    results: list[Result] = []
    try:
        for result in run_all(Settings.for_mode(mode), args.only):
            results.append(result)
            if args.json:
                print(json.dumps(result.as_json()), flush=True)
    except KeyboardInterrupt:
        print("interrupted: child processes stopped", file=sys.stderr)
        return 130
    if not args.json:
        print(table(results))
    print(f"{len(results)} result lines in {time.perf_counter() - start:.0f} s ({mode.value})", file=sys.stderr)
    errored = any(r.skipped is not None and r.skipped.startswith("error:") for r in results)
    return 1 if errored else 0
