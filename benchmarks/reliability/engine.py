"""Run a fuzz target for a time budget: coverage-guided with atheris (libFuzzer) or, without it, Hypothesis.

A target is ``target(data: bytes) -> None`` that raises only on a real defect. With atheris the target runs
in a child process (libFuzzer exits the process when done, and a child lets the parent notice a hang or a
hard crash); the parent parses libFuzzer's final statistics and lists any crash, timeout or OOM artifact.
With Hypothesis the target runs in-process on random byte strings, each under a SIGALRM hang guard.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from mesogun.testing.reliability.common import machine

Target = Callable[[bytes], None]
HANG_S = 10
"""An input running longer than this (wall seconds) counts as a hang."""


class Hang(Exception):
    """One input ran longer than :data:`HANG_S`."""


def atheris_available() -> bool:
    """Whether the optional ``atheris`` package (extra ``reliability``) is installed."""
    return importlib.util.find_spec("atheris") is not None


def add_arguments(parser: argparse.ArgumentParser, default_max_len: int) -> None:
    """The options every fuzz script shares."""
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget in wall seconds (default 60)")
    parser.add_argument(
        "--engine",
        choices=["auto", "atheris", "hypothesis"],
        default="auto",
        help="atheris (coverage-guided, needs the 'reliability' extra) or hypothesis; auto picks atheris if installed",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="corpus and crash artifacts go here (default: /tmp/mesogun-fuzz/NAME)",
    )
    parser.add_argument("--max-len", type=int, default=default_max_len, help="longest input in bytes")


def run(
    name: str,
    module: str,
    target: Target,
    seeds: Iterable[bytes],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Fuzz ``target`` as ``args`` say; return a summary (runs, seconds, crashes found, engine)."""
    workdir: Path = args.workdir or Path("/tmp/mesogun-fuzz") / name
    corpus, artifacts = workdir / "corpus", workdir / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if atheris_available() else "hypothesis"
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i:03d}").write_bytes(seed)
    if engine == "atheris":
        result = _run_atheris(module, args, corpus, artifacts)
    else:
        result = _run_hypothesis(target, args, artifacts)
    return {"target": name, "engine": engine, "machine": machine(), **result}


# ---------------------------------------------------------------------------------------------------- atheris


INSTRUMENTED = ["firmware_protocol", "sims"]
"""Packages whose code atheris instruments for coverage (the code under test, not the harness)."""


def _atheris_worker(module: str, libfuzzer_args: list[str]) -> None:
    """Import ``module`` with the code under test instrumented, then hand its ``target`` to libFuzzer."""
    atheris: Any = importlib.import_module("atheris")  # optional extra 'reliability'; untyped
    with atheris.instrument_imports(include=INSTRUMENTED):
        for name in INSTRUMENTED:
            importlib.import_module(name)
        target = importlib.import_module(module).target
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()
    sys.exit(0)


def _run_atheris(module: str, args: argparse.Namespace, corpus: Path, artifacts: Path) -> dict[str, Any]:
    before = set(artifacts.iterdir())
    log_path = artifacts.parent / "libfuzzer.log"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.reliability.engine",
        module,
        f"-max_total_time={int(args.seconds)}",
        f"-timeout={HANG_S}",
        f"-max_len={args.max_len}",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
    ]
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout=args.seconds + 300)
            hung = False
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            hung = True
    elapsed = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    done = re.findall(r"Done (\d+) runs in (\d+) second", text)
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", text)
    found = sorted(str(p) for p in set(artifacts.iterdir()) - before)
    return {
        "runs": int(done[-1][0]) if done else None,
        "seconds": round(elapsed, 1),
        "coverage_edges": int(cov[-1][0]) if cov else None,
        "features": int(cov[-1][1]) if cov else None,
        "corpus_inputs": int(cov[-1][2]) if cov else None,
        "exit_code": code,
        "worker_hung": hung,
        "crashes": found,
        "ok": code == 0 and not hung and not found,
        "log": str(log_path),
    }


# ---------------------------------------------------------------------------------------------------- hypothesis


@contextlib.contextmanager
def hang_guard(seconds: int = HANG_S) -> Iterator[None]:
    """Raise :class:`Hang` in the body if it runs longer than ``seconds`` (main thread, POSIX)."""

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"input still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run_hypothesis(target: Target, args: argparse.Namespace, artifacts: Path) -> dict[str, Any]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    runs = [0]
    failures: list[str] = []

    @settings(
        max_examples=2000,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.binary(max_size=args.max_len))
    def check(data: bytes) -> None:
        runs[0] += 1
        try:
            with hang_guard():
                target(data)
        except BaseException:
            (artifacts / "last-failing-input").write_bytes(data)
            raise

    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        try:
            check()
        except Exception as exc:  # a defect: keep the shrunk input and stop
            failures.append(f"{type(exc).__name__}: {exc}")
            crash = artifacts / f"crash-hypothesis-{len(list(artifacts.iterdir()))}"
            (artifacts / "last-failing-input").rename(crash)
            failures.append(str(crash))
            break
    return {
        "runs": runs[0],
        "seconds": round(time.monotonic() - started, 1),
        "crashes": failures,
        "ok": not failures,
    }


def main(
    name: str, module: str, description: str, target: Target, seeds: Callable[[], Iterable[bytes]], max_len: int
) -> int:
    """Command-line entry of a fuzz script; exit 0 when no crash or hang was found."""
    from benchmarks.reliability.common import emit

    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    add_arguments(parser, max_len)
    args = parser.parse_args()
    if args.engine == "atheris" and not atheris_available():
        parser.error("atheris is not installed: pip install -e '.[reliability]' (or use --engine hypothesis)")
    summary = run(name, module, target, seeds(), args)
    emit(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":  # the atheris child: python -m benchmarks.reliability.engine MODULE LIBFUZZER_ARGS...
    _atheris_worker(sys.argv[1], sys.argv[2:])
