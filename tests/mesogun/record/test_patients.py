"""Patients: pseudonymous everywhere, identifying details in one table only, never in the audit log (keyed
digests there), erasable while the audit chain still verifies; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json

import pytest

from mesogun.clinic.errors import ClinicError, DuplicateEntry, NoSuchPatient, ReasonRequired
from mesogun.record import TreatmentRecord
from mesogun.record.patients import DIGEST_PREFIX, Identity, PatientBook, digest
from tests.mesogun.record.clinic_support import DR, audit, chain_verifies, clinic, everything, last_audit

BORN, CONTACT = "1985-12-10", "ada@example.org"
_names = itertools.count(1)


def a_name() -> str:
    """A patient's name no other test of the shared record uses."""
    return f"Ada Lovelace-{next(_names)}"


def salt_of(record: TreatmentRecord, patient_id: int) -> str:
    return str(record.rows(f"SELECT salt FROM patient_identities WHERE patient_id = {patient_id}")[0][0])


def identifying_values_outside_identities(record: TreatmentRecord, *values: str) -> list[str]:
    """The tables (but patient_identities) holding any of ``values`` anywhere in a row."""
    return [
        table
        for table, rows in everything(record).items()
        if table != "patient_identities" and any(v in repr(row) for row in rows for v in values)
    ]


def test_a_patient_is_added_found_and_listed_without_identity_unless_asked(shared_record: TreatmentRecord) -> None:
    record, name = shared_record, a_name()
    book = PatientBook(record)
    entries = len(audit(record))
    ada = book.add(actor=DR, name=name, birth_date=BORN, contact=CONTACT)
    other = book.add(actor=DR)
    assert ada.identity is None and not ada.erased
    assert ada.pseudonym.startswith("P-") and len(ada.pseudonym) == 10 and ada.pseudonym != other.pseudonym
    assert book.get(ada.id, identified=True).identity == Identity(name, BORN, CONTACT)
    assert book.find(ada.pseudonym).id == ada.id
    assert [p.pseudonym for p in book.all()][-2:] == [ada.pseudonym, other.pseudonym]
    assert identifying_values_outside_identities(record, name, CONTACT) == []
    assert audit(record)[entries:] == [
        ("patient.add", "patient", str(ada.id)),
        ("patient.add", "patient", str(other.id)),
    ]
    new = json.loads(last_audit(record)[4] or "")
    assert new == {"pseudonym": other.pseudonym, "identity": {}}


def test_the_audit_entry_holds_keyed_digests_of_the_identity(shared_record: TreatmentRecord) -> None:
    record, name = shared_record, a_name()
    ada = PatientBook(record).add(actor=DR, name=name, birth_date=BORN)
    salt = salt_of(record, ada.id)
    entry = json.loads(last_audit(record)[4] or "")
    assert entry == {
        "pseudonym": ada.pseudonym,
        "identity": {"name": digest(salt, "name", name), "birth_date": digest(salt, "birth_date", BORN)},
    }
    assert entry["identity"]["name"].startswith(DIGEST_PREFIX)


def test_a_correction_is_a_new_entry_with_the_old_and_new_digests(shared_record: TreatmentRecord) -> None:
    record, name = shared_record, a_name()
    book = PatientBook(record)
    ada = book.add(actor=DR, name="Ada Byrn")
    with pytest.raises(ReasonRequired):
        book.correct(ada.id, actor=DR, reason=" ", changes={"name": name})
    corrected = book.correct(ada.id, actor=DR, reason="typo at intake", changes={"name": name})
    assert corrected.identity is not None and corrected.identity.name == name
    salt = salt_of(record, ada.id)
    action, _, _, old, new, reason = last_audit(record)
    assert (action, reason) == ("patient.correct", "typo at intake")
    assert json.loads(old or "") == {"identity": {"name": digest(salt, "name", "Ada Byrn")}}
    assert json.loads(new or "") == {"identity": {"name": digest(salt, "name", name)}}
    assert identifying_values_outside_identities(record, name, "Ada Byrn") == []


def test_erasure_removes_the_identity_and_its_key_and_the_chain_still_verifies(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start()
    book = PatientBook(record)
    entries = len(audit(record))
    erased = book.erase(c.patient, actor=DR, reason="patient's request (GDPR art. 17)")
    assert erased.erased and book.get(c.patient, identified=True).identity is None
    row = record.rows(
        f"SELECT name, birth_date, contact, salt, erased FROM patient_identities WHERE patient_id = {c.patient}"
    )
    assert row == [(None, None, None, None, 1)]
    assert audit(record)[entries:] == [("patient.erase", "patient", str(c.patient))]
    assert json.loads(last_audit(record)[3] or "") == {"identity_fields": ["name", "birth_date"]}
    assert chain_verifies(record)
    summary = c.treatment.summary(visit, identified=True)  # the pseudonymous record stays whole
    assert summary.patient == c.pseudonym and summary.patient_name is None and summary.shots == 0
    with pytest.raises(ClinicError, match="erased already"):
        book.erase(c.patient, actor=DR, reason="again")


def test_an_identified_summary_names_the_patient(shared_record: TreatmentRecord) -> None:
    c = clinic(shared_record)
    visit = c.start()
    assert c.treatment.summary(visit).patient_name is None
    assert c.treatment.summary(visit, identified=True).patient_name == "Ada Byron"


def test_refusals_name_the_field_and_change_nothing(shared_record: TreatmentRecord) -> None:
    record = shared_record
    book = PatientBook(record)
    taken = book.add(actor=DR)
    before = everything(record)
    with pytest.raises(DuplicateEntry) as duplicate:
        book.add(actor=DR, pseudonym=taken.pseudonym)
    assert duplicate.value.field == "pseudonym"
    with pytest.raises(NoSuchPatient) as unknown:
        book.get(99_999)
    assert unknown.value.field == "patient" and unknown.value.value == 99_999
    with pytest.raises(NoSuchPatient) as unknown_pseudonym:
        book.find("P-NOBODY")
    assert unknown_pseudonym.value.field == "pseudonym"
    with pytest.raises(ClinicError) as bad_date:
        book.add(actor=DR, birth_date="10/12/1985")
    assert bad_date.value.field == "birth_date" and "10/12" not in str(bad_date.value)
    with pytest.raises(ClinicError) as bad_pseudonym:
        book.add(actor=DR, pseudonym="Ada Byron")
    assert bad_pseudonym.value.field == "pseudonym"
    with pytest.raises(ReasonRequired):
        book.erase(taken.id, actor=DR, reason="")
    assert everything(record) == before
