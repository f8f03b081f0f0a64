"""``mesogun serve``'s command line: what it refuses before serving anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesogun.cli import main


def test_a_record_that_cannot_be_used_stops_the_service_at_start_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a service that runs and logs the same failure twice a second for every gun."""
    missing = tmp_path / "no" / "such" / "folder" / "record.sqlite"
    assert main(["serve", "--device", "sim://", "--port", "0", "--no-socket", "--db", str(missing)]) == 6
    err = capsys.readouterr().err
    assert str(missing.parent) in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
