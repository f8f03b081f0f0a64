"""Runs ``python -m benchmarks --smoke --json`` end to end and checks its output's shape, never its speeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.realio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "ours": (int, float),
    "peer": str,
    "peer_value": (int, float),
    "unit": str,
}
EXPECTED_LINES = {
    "decode_throughput",
    "decode_throughput_frames_only",
    "configure_p50_vs_pymodbus",
    "configure_p50_vs_echo",
    "configure_p99_vs_pymodbus",
    "configure_p99_vs_echo",
    "configure_p50_vs_pymodbus_sync",
    "configure_p50_vs_pyserial_echo",
    "configure_bare_p50_vs_echo",
    "configure_p50_vs_sim_floor",
    "sim_floor_p50_vs_echo",
    "estop_p50_vs_echo",
    "estop_p99_vs_echo",
    "virtual_time_speedup",
    "host_cpu_while_firing",
}


def test_every_benchmark_prints_one_json_line_with_a_numeric_ratio() -> None:
    pytest.importorskip("pymavlink", reason="the bench extra is not installed: pip install -e '.[bench]'")
    pytest.importorskip("pymodbus", reason="the bench extra is not installed: pip install -e '.[bench]'")
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed: apt-get install socat")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert {line["name"] for line in lines} == EXPECTED_LINES, proc.stderr[-3000:]
    for line in lines:
        assert "skipped" not in line, line
        for key, kind in REQUIRED.items():
            assert isinstance(line[key], kind) and not isinstance(line[key], bool), (key, line)
        assert isinstance(line["ratio"], (int, float)) and not isinstance(line["ratio"], bool), line
        assert line["goal"] is None or isinstance(line["goal"], (int, float)), line
        assert line["better"] in ("higher", "lower"), line
