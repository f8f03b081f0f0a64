"""``mesogun fire`` and ``mesogun prime`` as a script or a front end meets them (run in this process): JSON lines."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesogun.record import TreatmentRecord
from sims.spawn import SpawnedSimulator, spawn_simulator
from tests.mesogun.cli.in_process import mesogun_in_process

pytestmark = pytest.mark.realio


def mesogun(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mesogun --db DB ARGS`` in this process (stdout and stderr are captured, not terminals)."""
    return mesogun_in_process("--db", str(db), *args)


@pytest.fixture
def tcp_gun() -> Iterator[SpawnedSimulator]:
    """A simulated gun that outlives CLI invocations."""
    with spawn_simulator("--tcp", "127.0.0.1:0", "--serial", "FIRE001") as sim:
        yield sim


def load_and_prime(url: str, db: Path, *, mode: str) -> None:
    for args in (("load", "--capacity", "3"), ("set", "--rate", "10", "--dose", "0.02", "--mode", mode)):
        assert mesogun("--device", url, *args, db=db).returncode == 0


def test_fire_json_streams_a_line_per_shot_then_a_summary(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """fire --json: stdout holds JSON lines only, one per shot in user units with its place in the count,
    then a summary whose figures add up; nothing on stderr."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    load_and_prime(url, db, mode="burst")
    primed = mesogun("--device", url, "prime", "--volume", "0.05", "--json", db=db)
    assert primed.returncode == 0, primed.stderr
    primed_line = json.loads(primed.stdout)
    assert (primed_line["event"], primed_line["primed_ml"]) == ("summary", 0.05) and 0 < primed_line["reservoir_ml"] < 3
    fired = mesogun("--device", url, "fire", "--count", "5", "--json", db=db)
    assert fired.returncode == 0 and fired.stderr == "", fired.stderr
    lines = [json.loads(line) for line in fired.stdout.splitlines()]
    shots, summary = lines[:-1], lines[-1]
    assert [s["event"] for s in shots] == ["shot"] * 5 and [s["done"] for s in shots] == [1, 2, 3, 4, 5]
    assert {"index", "depth_mm", "dose_ml", "device_time", "volume_ml", "reservoir_ml"} <= set(shots[0])
    assert all(s["count"] == 5 and s["dose_ml"] == 0.02 for s in shots)
    assert summary == {
        "event": "summary",
        "fired": 5,
        "recovered": 0,
        "partial": 0,
        "unreceived": 0,
        "count": 5,
        "volume_ml": 0.1,
        "reservoir_ml": summary["reservoir_ml"],
    }
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    assert status["shots_lifetime"] == 5 and summary["reservoir_ml"] == status["reservoir_ml"]


def test_fire_json_ends_with_a_summary_naming_the_alarm(tmp_path: Path) -> None:
    """An occlusion after 2 shots: the alarm as a JSON line, then a summary with the 2 shots and the error;
    exit 5 and the one-line error on stderr."""
    db = tmp_path / "r.sqlite"
    with spawn_simulator("--tcp", "127.0.0.1:0", "--fault", "occlusion:after_shots=2") as sim:
        load_and_prime(sim.address, db, mode="burst")
        assert mesogun("--device", sim.address, "prime", "--volume", "0.01", db=db).returncode == 0
        result = mesogun("--device", sim.address, "fire", "--count", "10", "--json", db=db)
    assert result.returncode == 5, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in lines] == ["shot", "shot", "alarm", "summary"]
    assert lines[2]["code"] == "occlusion" and lines[2]["priority"] == "high"
    assert lines[-1]["fired"] == 2 and "occlusion" in lines[-1]["error"]
    assert "occlusion" in result.stderr and "Traceback" not in result.stderr


def test_fire_marks_a_shot_cut_by_an_alarm_as_partial_and_counts_only_what_left(tmp_path: Path) -> None:
    """An occlusion halfway through the 3rd stroke: that shot's line says partial, what left of the dose and
    the alarm that stopped it; the JSON summary counts it and adds its delivered volume, not its dose."""
    db = tmp_path / "r.sqlite"
    with spawn_simulator("--tcp", "127.0.0.1:0", "--fault", "occlusion:mid_stroke=2") as sim:
        load_and_prime(sim.address, db, mode="burst")
        assert mesogun("--device", sim.address, "prime", "--volume", "0.01", db=db).returncode == 0
        plain = mesogun("--device", sim.address, "fire", "--count", "10", db=db)
        assert plain.returncode == 5, plain.stderr
        lines = plain.stdout.splitlines()
        assert lines[0].startswith("[1/10] shot 1: depth") and lines[1].startswith("[2/10] shot 2: depth")
        assert re.match(r"\[3/10\] shot 3: partial, 0\.0(0\d|1\d) of 0\.020 mL, stopped by occlusion \(", lines[2])
        assert lines[3].startswith("ALARM occlusion")
    with spawn_simulator("--tcp", "127.0.0.1:0", "--fault", "occlusion:mid_stroke=2") as sim:
        load_and_prime(sim.address, db, mode="burst")
        assert mesogun("--device", sim.address, "prime", "--volume", "0.01", db=db).returncode == 0
        result = mesogun("--device", sim.address, "fire", "--count", "10", "--json", db=db)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    shots, summary = [e for e in events if e["event"] == "shot"], events[-1]
    assert [(s["index"], s["partial"]) for s in shots] == [(1, False), (2, False), (3, True)]
    assert 0 < shots[2]["delivered_ml"] < shots[2]["dose_ml"] == 0.02
    assert (summary["fired"], summary["partial"]) == (3, 1)
    assert summary["volume_ml"] == pytest.approx(0.04 + shots[2]["delivered_ml"])


def test_single_mode_refuses_a_count_above_one_before_sending(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """In single mode fire --count 3 is refused (exit 2) saying single mode fires one shot per fire and how to
    fire a series; nothing was sent (no arm, no fire in the record) and the gun fired nothing. --count 1 fires
    one shot, counted 1/1 as the device acknowledged."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    load_and_prime(url, db, mode="single")
    assert mesogun("--device", url, "prime", "--volume", "0.01", db=db).returncode == 0
    refused = mesogun("--device", url, "fire", "--count", "3", db=db)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        "error: count=3: the gun is in single mode, which fires one shot per fire, not 3 shots; give --count 1, "
        "or run 'mesogun set --mode burst' (or continuous) to fire a series"
    ]
    with TreatmentRecord(db, create=False) as record:
        sent = [e["type"] for s in record.sessions() for e in record.events(s.session) if e["direction"] == "host"]
    assert "arm" not in sent and "fire" not in sent
    one = mesogun("--device", url, "fire", "--count", "1", db=db)
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[0].startswith("[1/1] shot 1:") and one.stdout.endswith("fired 1 shots, 0.020 mL\n")
