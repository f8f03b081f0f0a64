"""Why the record could not be written, said to a person: a full disk, a read-only record, another process holding
the lock and a database server out of reach, each caused for real, read in English exactly as the driver says it
and in French in the catalog's words; any other cause (a damaged file) quoted as the driver gave it; and a gun
whose record failed refuses the next command saying why, in French too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mesogun
from mesogun.errors import RecordError
from mesogun.i18n.errors import refusal
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.record.causes import known_cause


def refused_write(record: TreatmentRecord) -> RecordError:
    """The error of a session start the record cannot write."""
    with pytest.raises(RecordError) as caught:
        for _ in range(10_000):
            record.start_session("SN1", model="MG-1", firmware_version="1.0.0", hardware_id="", url="sim://")
    return caught.value


def test_a_full_disk_and_a_read_only_record_are_said_in_the_catalogs_words(tmp_path: Path) -> None:
    with TreatmentRecord(tmp_path / "full.sqlite") as full:
        ((pages,),) = full.rows("PRAGMA page_count")
        with full.reading() as db:  # the file may not grow: SQLite's own "disk full" (SQLITE_FULL)
            db.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        error = refused_write(full)
    assert str(error) == f"treatment record {tmp_path / 'full.sqlite'}: database or disk is full"  # as before
    assert refusal(error, "fr") == f"dossier de traitement {tmp_path / 'full.sqlite'} : le disque est plein"

    with TreatmentRecord(tmp_path / "ro.sqlite") as read_only:
        with read_only.reading() as db:  # every write refused as on a read-only file (SQLITE_READONLY)
            db.exec_driver_sql("PRAGMA query_only = 1")
        error = refused_write(read_only)
    assert str(error).endswith(": attempt to write a readonly database")
    assert refusal(error, "fr").endswith(" : le dossier ne peut pas être écrit : il est en lecture seule")


def test_a_database_server_out_of_reach_and_a_damaged_file(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(RecordError) as caught:
        TreatmentRecord("postgresql://nobody@127.0.0.1:1/record")  # nothing listens on port 1
    assert str(caught.value).startswith("cannot open the treatment record postgresql://nobody@127.0.0.1:1/record: ")
    assert "Connection refused" in str(caught.value)  # the driver's own words, in English
    assert refusal(caught.value, "fr") == (
        "impossible d'ouvrir le dossier de traitement postgresql://nobody@127.0.0.1:1/record : le serveur de la base "
        "de données est injoignable"
    )
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    with pytest.raises(RecordError) as caught:
        TreatmentRecord(damaged)
    assert "is damaged (file is not a database)" in str(caught.value)
    assert refusal(caught.value, "fr").startswith(
        f"le dossier de traitement {damaged} est endommagé (« file is not a database ») ; "
    )  # a cause the catalog has no words for: quoted as the driver gave it


def test_a_gun_whose_record_another_process_locks_refuses_the_next_command_saying_why(
    real: Any, tmp_path: Path, second_process_lock: Callable[[Path], None]
) -> None:
    db = tmp_path / "record.sqlite"
    TreatmentRecord(db).close()

    async def scenario() -> RecordError:
        async with mesogun.connect("sim://?serial=SIM0404", recorder=SessionRecorder(db)) as gun:
            await asyncio.to_thread(second_process_lock, db)
            await gun.load_syringe(capacity_ml=5)  # its record write waits for the lock, then fails: the gun stops
            with pytest.raises(RecordError, match="database is locked"):
                await gun.note("test", "waits for the record", "to see it fail")
            with pytest.raises(RecordError) as caught:
                await gun.prime(volume_ml=0.05)
            return caught.value

    error = real(scenario)
    assert known_cause(error) is None  # the refusal itself names no driver: its wording holds the record's cause
    assert str(error) == f"prime refused: treatment record {db}: database is locked (the gun was stopped and disarmed)"
    assert refusal(error, "fr") == (
        f"Amorçage refusé : dossier de traitement {db} : un autre programme tient le dossier verrouillé (le pistolet "
        "a été arrêté et désarmé)"
    )
