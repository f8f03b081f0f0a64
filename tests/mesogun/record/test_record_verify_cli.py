"""``mesogun record verify``: exit 0 and the head on an intact audit log; exit 6 with one line naming the first
entry altered, inserted or deleted; ``--expect-head`` shows the newest entries removed. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesogun.cli import main
from tests.mesogun.record.audit_tampering import ENTRIES, make_log, run_sql


def verify(where: Path | str, *args: str) -> int:
    return main(["record", "verify", "--db", str(where), *args])


def test_an_intact_log_verifies_and_prints_its_head(where: Path | str, capsys: pytest.CaptureFixture[str]) -> None:
    entries = make_log(where)
    assert verify(where) == 0
    out = capsys.readouterr()
    head = f"{ENTRIES}:{entries[-1].hash}"
    assert f"audit log intact: {ENTRIES} entries" in out.out and f"--expect-head {head}" in out.out
    assert out.err == ""
    assert verify(where, "--expect-head", head) == 0
    assert "holds the head noted earlier" in capsys.readouterr().out
    assert verify(where, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] and report["entries"] == ENTRIES and report["broken"] is None
    assert report["head"] == {"seq": ENTRIES, "hash": entries[-1].hash}


def test_an_altered_entry_is_named_in_one_line(where: Path | str, capsys: pytest.CaptureFixture[str]) -> None:
    entries = make_log(where)
    run_sql(where, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5")
    assert verify(where) == 6
    out = capsys.readouterr()
    assert out.out == ""
    error = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert error == [
        f"error: the audit log is broken at entry 5 ({entries[4].action} at {entries[4].ts}): altered:"
        " its fields no longer give its hash"
    ]
    assert "append-only triggers are missing" in out.err  # the tamperer dropped them
    assert verify(where, "--json") == 6
    report = json.loads(capsys.readouterr().out)
    assert not report["intact"] and report["broken"]["kind"] == "altered" and report["broken"]["seq"] == 5
    assert report["broken"]["entry"]["action"] == entries[4].action


def test_removed_newest_entries_fail_against_the_noted_head(
    where: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = make_log(where)
    run_sql(where, "DELETE FROM audit_log WHERE seq > 7")
    assert verify(where) == 0  # a shorter chain is intact
    capsys.readouterr()
    assert verify(where, "--expect-head", f"{ENTRIES}:{entries[-1].hash[:16]}") == 6
    assert "broken at entry 8: truncated: the log ends at entry 7" in capsys.readouterr().err


def test_a_malformed_head_is_a_usage_error_before_anything_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.sqlite"
    assert verify(missing, "--expect-head", "12:abc") == 2
    assert "--expect-head '12:abc': expected SEQ:HASH" in capsys.readouterr().err
    assert not missing.exists()


@pytest.mark.realio
def test_the_command_exits_6_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """The real program on a file with an entry deleted behind its back."""
    db = tmp_path / "r.sqlite"
    make_log(db)
    run_sql(db, "DELETE FROM audit_log WHERE seq = 4")
    done = subprocess.run(
        [sys.executable, "-m", "mesogun.cli", "record", "verify", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert done.returncode == 6, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith("error: the audit log is broken at entry 4 (the next present is")
