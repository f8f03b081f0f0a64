"""Bad input at every boundary, actually run: CLI flags, the Python API, raw wire frames, simulator options.

The campaign script; its oracle, shared with tests/reliability, is :mod:`mesogun.testing.reliability.bad_input`.
Run: ``python -m benchmarks.reliability.bad_input --markdown`` (``--fast`` skips the CLI subprocesses).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from benchmarks.reliability.common import emit
from mesogun.testing.reliability.bad_input import markdown, run_all
from mesogun.testing.reliability.common import machine


def main() -> int:
    """Command-line entry; exit 0 when every case was refused cleanly."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability.bad_input", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the markdown table instead of JSON")
    parser.add_argument("--fast", action="store_true", help="skip the CLI cases (subprocesses)")
    args = parser.parse_args()
    cases = run_all(args.fast)
    ok = all(c.ok for c in cases)
    if args.markdown:
        print(markdown(cases))
        print(f"\n{sum(c.ok for c in cases)} of {len(cases)} cases refused cleanly.")
    else:
        emit({"machine": machine(), "ok": ok, "cases": [{**asdict(c), "ok": c.ok} for c in cases]})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
