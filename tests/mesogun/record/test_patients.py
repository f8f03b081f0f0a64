"""Patients: pseudonymous everywhere, identifying details in one table only, never in the audit log (keyed
digests there), erasable while the audit chain still verifies; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesogun.clinic.errors import DuplicateEntry, NoSuchPatient, ReasonRequired
from mesogun.record import TreatmentRecord
from mesogun.record.patients import DIGEST_PREFIX, Identity, PatientBook, digest
from tests.mesogun.record.clinic_support import DR, audit, chain_verifies, clinic, everything

NAME, BORN, CONTACT = "Ada Byron", "1985-12-10", "ada@example.org"


def identifying_values_outside_identities(record: TreatmentRecord, *values: str) -> list[str]:
    """The tables (but patient_identities) holding any of ``values`` anywhere in a row."""
    return [
        table
        for table, rows in everything(record).items()
        if table != "patient_identities" and any(v in repr(row) for row in rows for v in values)
    ]


def test_a_patient_is_added_found_and_listed_without_identity_unless_asked(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        book = PatientBook(record)
        ada = book.add(actor=DR, pseudonym="P-0001", name=NAME, birth_date=BORN, contact=CONTACT)
        other = book.add(actor=DR)
        assert ada.pseudonym == "P-0001" and ada.identity is None and not ada.erased
        assert other.pseudonym.startswith("P-") and len(other.pseudonym) == 10
        assert book.get(ada.id, identified=True).identity == Identity(NAME, BORN, CONTACT)
        assert book.find("P-0001").id == ada.id
        assert [p.pseudonym for p in book.all()] == ["P-0001", other.pseudonym]
        assert identifying_values_outside_identities(record, NAME, BORN, CONTACT) == []
        assert audit(record) == [("patient.add", "patient", str(ada.id)), ("patient.add", "patient", str(other.id))]


def test_the_audit_entry_holds_keyed_digests_of_the_identity(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        ada = PatientBook(record).add(actor=DR, pseudonym="P-0001", name=NAME, birth_date=BORN)
        ((new,),) = record.rows("SELECT new_value FROM audit_log")
        salt = record.rows(f"SELECT salt FROM patient_identities WHERE patient_id = {ada.id}")[0][0]
        entry = json.loads(new)
        assert entry == {
            "pseudonym": "P-0001",
            "identity": {"name": digest(salt, "name", NAME), "birth_date": digest(salt, "birth_date", BORN)},
        }
        assert entry["identity"]["name"].startswith(DIGEST_PREFIX)


def test_a_correction_is_a_new_entry_with_the_old_and_new_digests(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        book = PatientBook(record)
        ada = book.add(actor=DR, pseudonym="P-0001", name="Ada Byrn")
        with pytest.raises(ReasonRequired):
            book.correct(ada.id, actor=DR, reason=" ", changes={"name": NAME})
        corrected = book.correct(ada.id, actor=DR, reason="typo at intake", changes={"name": NAME})
        assert corrected.identity is not None and corrected.identity.name == NAME
        salt = record.rows(f"SELECT salt FROM patient_identities WHERE patient_id = {ada.id}")[0][0]
        old, new, reason = record.rows("SELECT old_value, new_value, reason FROM audit_log WHERE seq = 2")[0]
        assert json.loads(old) == {"identity": {"name": digest(salt, "name", "Ada Byrn")}}
        assert json.loads(new) == {"identity": {"name": digest(salt, "name", NAME)}} and reason == "typo at intake"
        assert identifying_values_outside_identities(record, NAME, "Ada Byrn") == []


def test_erasure_removes_the_identity_and_its_key_and_the_chain_still_verifies(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        c = clinic(record)
        visit = c.start()
        book = PatientBook(record)
        before = len(audit(record))
        erased = book.erase(c.patient, actor=DR, reason="patient's request (GDPR art. 17)")
        assert erased.erased and book.get(c.patient, identified=True).identity is None
        row = record.rows(
            f"SELECT name, birth_date, contact, salt, erased FROM patient_identities WHERE patient_id = {c.patient}"
        )
        assert row == [(None, None, None, None, 1)]
        assert audit(record)[before:] == [("patient.erase", "patient", str(c.patient))]
        assert chain_verifies(record)
        assert "Ada Byron" not in repr(everything(record))  # nowhere in the record, audit log included
        summary = c.treatment.summary(visit, identified=True)  # the pseudonymous record stays whole
        assert summary.patient == "P-0001" and summary.patient_name is None
        with pytest.raises(Exception, match="erased already"):
            book.erase(c.patient, actor=DR, reason="again")


def test_an_identified_summary_names_the_patient(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        c = clinic(record)
        visit = c.start()
        assert c.treatment.summary(visit).patient_name is None
        assert c.treatment.summary(visit, identified=True).patient_name == "Ada Byron"


def test_refusals_name_the_field_and_change_nothing(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        book = PatientBook(record)
        book.add(actor=DR, pseudonym="P-0001")
        before = everything(record)
        with pytest.raises(DuplicateEntry) as taken:
            book.add(actor=DR, pseudonym="P-0001")
        assert taken.value.field == "pseudonym"
        with pytest.raises(NoSuchPatient) as unknown:
            book.get(99)
        assert unknown.value.field == "patient" and unknown.value.value == 99
        with pytest.raises(NoSuchPatient) as unknown_pseudonym:
            book.find("P-9999")
        assert unknown_pseudonym.value.field == "pseudonym"
        with pytest.raises(Exception) as bad_date:
            book.add(actor=DR, birth_date="10/12/1985")
        assert getattr(bad_date.value, "field", None) == "birth_date" and "10/12" not in str(bad_date.value)
        with pytest.raises(ReasonRequired):
            book.erase(1, actor=DR, reason="")
        assert everything(record) == before
