"""``mesogun diagnostics``: aligned text with units, ``--json``, over ``sim://`` and a served simulator over TCP."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from mesogun.cli import main
from sims.physics import LINE_PRESSURE_OCCLUDED_KPA
from sims.spawn import spawn_simulator

OCCLUDED = "sim://?fault=occlusion:at_s=0"
"""A simulated gun whose needle blocks as soon as it powers on (before the CLI's hello)."""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_shows_each_figure_with_its_unit_aligned_and_the_alarm_with_its_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--device", OCCLUDED, "--db", str(tmp_path / "r.sqlite"), "diagnostics")
    assert code == 0, err
    lines = out.splitlines()
    figures, (header, *rows) = lines[:9], lines[9:]
    fields = {line.split("  ")[0]: line for line in figures}
    for name in ("uptime", "boots", "line pressure", "supply", "plunger", "plunger stalls", "alarms"):
        assert name in fields, out
    assert len({re.search(r"\S\s{2,}(\S)", line).start(1) for line in figures}) == 1  # type: ignore[union-attr]
    assert f"{LINE_PRESSURE_OCCLUDED_KPA} kPa (gauge)" in fields["line pressure"]
    assert re.search(r"\d\.\d{3} V$", fields["supply"])
    assert "s since the gun powered on" in fields["uptime"]
    assert "CRC errors" in fields["link, gun side"] and "retries" in fields["link, host side"]
    assert header.split() == ["boot", "device", "time", "(s)", "alarm", "priority", "change"]
    (row,) = [row.split() for row in rows]
    assert row[0] == "1" and re.fullmatch(r"0\.\d{3}", row[1]) and row[2:] == ["occlusion", "high", "raised"]


def test_json_is_one_object_in_user_units(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "diagnostics", "--json", "--device", OCCLUDED, "--db", str(tmp_path / "r.sqlite"))
    assert code == 0, err
    d = json.loads(out)
    assert d["line_pressure_kpa"] == LINE_PRESSURE_OCCLUDED_KPA
    assert d["supply_v"] == 5.0 and d["boot_count"] == 1
    assert d["plunger"] == {
        "strokes": 0,
        "last_stroke_ms": 0.0,
        "mean_stroke_ms": 0.0,
        "max_stroke_ms": 0.0,
        "stalls": 0,
    }
    (alarm,) = d["alarms"]
    assert {k: alarm[k] for k in ("code", "priority", "raised", "boot")} == {
        "code": "occlusion",
        "priority": "high",
        "raised": True,
        "boot": 1,
    }
    assert 0 <= alarm["device_time"] <= d["uptime"]  # seconds on the gun's clock
    assert set(d["device_link"]) >= {"frames_received", "crc_errors", "bytes_discarded", "replays", "bad_payloads"}
    assert set(d["host_link"]) >= {"frames_received", "crc_errors", "bytes_discarded", "retries", "timeouts"}


def test_a_gun_that_does_not_answer_is_a_link_failure_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "--device", "sim://?drop=1", "--timeout", "0.05", "--db", str(tmp_path / "r.sqlite"), "diagnostics"
    )
    assert code == 4
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: ")


@pytest.mark.realio
def test_over_tcp_the_device_counts_since_power_on_across_connections(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Noise sent on one connection is still in the device's counters when the next connection asks; the
    host's side counts this connection only."""
    db = str(tmp_path / "r.sqlite")
    with spawn_simulator("--tcp", "127.0.0.1:0", "--corrupt", "0.001", "--seed", "3") as sim:
        host, port = sim.address.removeprefix("socket://").rsplit(":", 1)
        code, out, err = run(capsys, "--device", sim.address, "--db", db, "diagnostics", "--json")
        assert code == 0, err
        first = json.loads(out)
        with socket.create_connection((host, int(port)), timeout=5) as noise:
            noise.sendall(b"\x00" + bytes(range(1, 200)) + b"\x00")
        code, out, err = run(capsys, "--device", sim.address, "--db", db, "diagnostics", "--json")
        assert code == 0, err
        second = json.loads(out)
    assert second["boot_count"] == first["boot_count"] == 1
    assert second["device_link"]["frames_received"] > first["device_link"]["frames_received"]
    damaged = ("crc_errors", "framing_errors", "bytes_discarded")
    assert sum(second["device_link"][k] for k in damaged) > sum(first["device_link"][k] for k in damaged)
    assert second["host_link"]["frames_sent"] < second["device_link"]["frames_received"]
    assert second["device_link"]["replays"] <= first["host_link"]["retries"] + second["host_link"]["retries"]
