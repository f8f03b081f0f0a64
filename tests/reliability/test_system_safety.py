"""Safety timing through the system (real processes, a socat pty pair): each safe-making call reaches the device,
in another process, within the limit while it fires at 10 shots/s; heartbeat loss trips its watchdog in time."""

from __future__ import annotations

import shutil

import pytest

from mesogun.testing.reliability.system_safety import ACTIONS, run_system_safety

pytestmark = [
    pytest.mark.realio,
    pytest.mark.slow,
    pytest.mark.xdist_group(
        "realtime"
    ),  # never beside the tablet's Chromium (tests/mesogun_service/tablet/conftest.py)
    pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat for the pty pair"),
]


def test_stop_estop_disarm_and_heartbeat_loss_act_on_the_device_within_the_limits() -> None:
    summary = run_system_safety(tries=1, seed=2)
    rows = {row["action"]: row for row in summary["table"]}
    assert set(rows) == set(ACTIONS)
    for row in rows.values():
        assert row["tries"] == 1
        assert row["max_ms"] <= row["limit_ms"], row
    assert rows["watchdog"]["device_silence_max_ms"] >= 1000  # the device, not the host, decided the trip
    assert summary["ok"]
