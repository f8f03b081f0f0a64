"""``mesogun record list/show/export`` on a record named by a database URL (``--db postgresql://…``, ``sqlite:///…``)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from firmware_protocol import make
from mesogun.cli import main
from mesogun.record import TreatmentRecord


def _a_session(where: Path | str) -> int:
    with TreatmentRecord(where) as record:
        session = record.start_session("SN7", model="MG-1", firmware_version="1.0.0", url="sim://")
        record.reconcile(session, 0)
        for index in (1, 2):
            shot = make(
                "shot", seq=index, shot_index=index, fire_seq=3, depth_um=1500, dose_nl=20_000, device_time_ms=9
            )
            record.log_message(session, "device", shot)
        record.reconcile(session, 3)
        record.end_session(session)
        return session


def test_record_commands_read_a_postgresql_record(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """list, show and export read what was recorded in a PostgreSQL database, as from a file."""
    session = _a_session(postgres_url)
    assert main(["--db", postgres_url, "record", "list", "--json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["device_serial"], listed["shots_recorded"], listed["shots_unreceived"]) == ("SN7", 2, 1)
    assert main(["--db", postgres_url, "record", "show", "--session", str(session), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(s["shot_index"], s["received"]) for s in shown["shots"]] == [(1, True), (2, True), (3, False)]
    assert main(["--db", postgres_url, "record", "export", str(session), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["dose_nl"] for r in rows] == ["20000", "20000", ""]


def test_a_sqlite_url_is_the_same_file_as_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.sqlite"
    _a_session(db)
    assert main(["--db", f"sqlite:///{db}", "record", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shots_recorded"] == 2


def test_a_postgresql_database_without_a_record_is_one_line(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reader never creates a record in a mistyped database: one line naming it, exit 6."""
    assert main(["--db", postgres_url, "record", "list"]) == 6
    (line,) = capsys.readouterr().err.splitlines()
    assert "no treatment record in postgresql://" in line


def test_a_postgresql_url_without_its_driver_installed_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pip install .`` has no PostgreSQL driver: the record names the extra, in one line (no traceback)."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    assert main(["--db", "postgresql://nobody@127.0.0.1:1/record", "record", "list"]) == 6
    err = capsys.readouterr().err
    assert "its driver psycopg is not installed; install it with: pip install 'mesogun[postgresql]'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
