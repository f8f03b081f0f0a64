"""One CLI invocation's connection (mesogun/cli/session.py): the record file appears only once a gun answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord


@pytest.mark.parametrize(
    ("url", "code"),
    [("foo://x", 2), ("socket://127.0.0.1:9", 4)],
    ids=["unknown scheme", "nothing listening"],
)
@pytest.mark.parametrize("command", ["status", "estop"])
def test_a_failed_connection_creates_no_record_file(tmp_path: Path, url: str, code: int, command: str) -> None:
    """A bad URL (exit 2) or a gun that cannot be reached (exit 4) leaves no record behind, for a treatment
    command as for a safe one."""
    db = tmp_path / "new.sqlite"
    assert main(["--device", url, "--db", str(db), command]) == code
    assert list(tmp_path.iterdir()) == []


def test_the_record_is_created_once_the_gun_answered_with_the_session_on_it(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite"
    assert main(["--device", "sim://", "--db", str(db), "load", "--capacity", "3"]) == 0
    with TreatmentRecord(db, create=False) as record:
        (session,) = record.sessions()
        assert "load_syringe" in [event["type"] for event in record.events(session.session)]


def test_without_db_the_default_record_is_created_at_the_session_start(private_user_dirs: Path) -> None:
    """The default location's folders are created as before - but only once a gun answered."""
    assert main(["--device", "socket://127.0.0.1:9", "status"]) == 4
    assert not any(p.suffix == ".sqlite" for p in private_user_dirs.rglob("*"))
    assert main(["--device", "sim://", "status"]) == 0
    assert [p.name for p in private_user_dirs.rglob("*.sqlite")] == ["treatment-record.sqlite"]
