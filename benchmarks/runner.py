"""Runs the registered benchmarks in order; a missing prerequisite becomes a skipped line, not a crash."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from benchmarks.errors import Unavailable
from benchmarks.record import Better, Result, skipped
from benchmarks.settings import Settings


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark and the result lines it produces (declared up front so a skip can name them)."""

    name: str
    run: Callable[[Settings], list[Result]]
    lines: tuple[tuple[str, str, str, Better, float | None], ...]
    """(name, peer, unit, better, goal) of each line, for the skipped record."""


def registry() -> list[Benchmark]:
    """Every benchmark, in the order they run (cheap and self-contained first)."""
    from benchmarks import (
        decode,
        estop,
        firmware_upload,
        host_cost,
        record_scale,
        roundtrip,
        service_estop,
        service_load,
        tablet_live,
        virtual_time,
    )

    return [
        decode.BENCHMARK,
        roundtrip.BENCHMARK,
        estop.BENCHMARK,
        service_estop.BENCHMARK,
        tablet_live.BENCHMARK,  # Chromium and 4 tablets: ~40 s in a full run
        virtual_time.BENCHMARK,
        host_cost.BENCHMARK,
        firmware_upload.BENCHMARK,  # a minute in a full run (256 kB at 115200 baud twice, in real time)
        record_scale.BENCHMARK,  # minutes in a full run (a million shots built on each backend)
        service_load.BENCHMARK,  # the longest (5 minutes in a full run): last
    ]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_all(settings: Settings, only: str | None = None) -> Iterator[Result]:
    """Run each benchmark (those whose name contains ``only``, if given) and yield its result lines.

    ``Unavailable`` (socat, a peer, the simulator missing) yields skipped lines saying how to fix it; any
    other exception also yields skipped lines, with the error, after printing its traceback to stderr.
    """
    for bench in registry():
        if only is not None and only not in bench.name:
            continue
        _progress(f"running {bench.name} ({settings.mode.value}) …")
        start = time.perf_counter()
        try:
            results = bench.run(settings)
        except Unavailable as exc:
            results = [skipped(*line, reason=str(exc)) for line in bench.lines]
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            results = [skipped(*line, reason=f"error: {type(exc).__name__}: {exc}") for line in bench.lines]
        _progress(f"  {bench.name} took {time.perf_counter() - start:.1f} s")
        yield from results
