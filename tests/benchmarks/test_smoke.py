"""Runs ``python -m benchmarks --smoke --json`` end to end and checks its output's shape, never its speeds; and the
quick load test, whose lines are checks (every shot to every client, the slow client told), not speeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import postgres
from benchmarks.errors import Unavailable

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
    "tablet_counter_p99_goal",
    "tablet_counter_p50_vs_raw",
    "tablet_counter_p99_vs_raw",
    "tablet_weight_live_view",
    "tablet_weight_treat",
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
    "service_estop_p99_margin",
    "service_estop_p50_vs_echo",
    "service_estop_p99_vs_echo",
    "service_estop_p50_vs_direct",
    "service_estop_httpx_p50_vs_wire",
    "service_estop_httpx_p99_vs_wire",
    "service_estop_p99_vs_direct",
    "service_sse_clients_complete",
    "service_sse_slow_client_told",
    "service_record_shots_vs_device",
    "service_cpu_while_streaming",
    *(f"firmware_upload_{baud}_vs_{peer}" for baud in (115200, 921600) for peer in ("wire", "smpclient")),
    "firmware_resume_after_disconnect",
    *(
        f"record_scale_{row}_{backend}"
        for row in ("shot_commit_p50", "shot_commit_p99", "session_summary", "patient_history", "audit_verify")
        for backend in ("sqlite", "postgresql")
    ),
}
LOAD_CHECKS = ("service_sse_clients_complete", "service_sse_slow_client_told", "service_record_shots_vs_device")
"""The load test's lines that are checks, not speeds: each must be met (every shot to every prompt client, the
slow client told it missed events, the record complete)."""


def _require_peers_and_socat() -> None:
    pytest.importorskip("pymavlink", reason="the bench extra is not installed: pip install -e '.[bench]'")
    pytest.importorskip("pymodbus", reason="the bench extra is not installed: pip install -e '.[bench]'")
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed: apt-get install socat")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgresql]'")
    try:
        postgres.server_programs()
    except Unavailable as exc:
        pytest.skip(str(exc))  # the scale benchmark's PostgreSQL lines need a throw-away cluster


def _run(*args: str, timeout: float) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.mark.timeout(240)
def test_every_benchmark_prints_one_json_line_with_a_numeric_ratio() -> None:
    _require_peers_and_socat()
    lines = _run("--smoke", timeout=200)
    assert {line["name"] for line in lines} == EXPECTED_LINES
    for line in lines:
        assert "skipped" not in line, line
        for key, kind in REQUIRED.items():
            assert isinstance(line[key], kind) and not isinstance(line[key], bool), (key, line)
        assert isinstance(line["ratio"], (int, float)) and not isinstance(line["ratio"], bool), line
        assert line["goal"] is None or isinstance(line["goal"], (int, float)), line
        assert line["better"] in ("higher", "lower"), line


@pytest.mark.timeout(240)
def test_quick_load_test_every_client_gets_every_shot_and_the_slow_one_is_told_it_missed_events() -> None:
    """The quick load test (20 clients, about 25 s of firing through a real ``mesogun serve``) passes its checks."""
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed: apt-get install socat")
    lines = {line["name"]: line for line in _run("--quick", "--only", "service_load", timeout=200)}
    for name in LOAD_CHECKS:
        assert lines[name]["met"] is True, lines[name]
