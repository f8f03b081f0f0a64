"""Voiding a treatment session opened by mistake: a ``session.void`` audit entry (who, when, why), nothing deleted;
the summary, ``record show`` and the exports show it VOID, the patient's history lists it and leaves it out of the
totals and of the course's numbering; a signed-off one only an admin voids. ``record verify`` still passes, and a
void entry removed behind the program's back is named. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesogun.cli import main
from mesogun.clinic.actors import ADMIN, Actor
from mesogun.clinic.errors import ReasonRequired, RoleRequired, VisitNotTreatment
from mesogun.clinic.summary import history_totals
from mesogun.record import TreatmentRecord
from mesogun.record.audit_crosscheck import crosscheck
from mesogun.record.audit_verify import verify_chain
from mesogun.record.voids import VOID
from mesogun.reports import render
from tests.mesogun.record.audit_tampering import run_sql
from tests.mesogun.record.clinic_support import ASSISTANT, DR, clinic, connect, everything, fire

ROOT = Actor.of("root", [ADMIN, "practitioner"])


def test_a_voided_session_is_shown_void_listed_in_the_history_and_left_out_of_its_totals(
    shared_record: TreatmentRecord,
) -> None:
    c = clinic(shared_record)
    wrong = c.start()
    fire(shared_record, connect(shared_record, c.serial, wrong), 1, 3)
    book = c.treatment
    voided = book.void(wrong, actor=DR, reason="opened for the wrong patient")
    assert voided.closed is not None and voided.signoff is None  # closed, not signed off
    right = c.start()
    fire(shared_record, connect(shared_record, c.serial, right), 4, 2)

    summary = book.summary(wrong)
    assert summary.void is not None
    assert (summary.void.by, summary.void.reason) == ("dr.lee", "opened for the wrong patient")
    assert summary.shots == 3 and summary.session_number is None  # nothing deleted; not a session of the course
    assert book.summary(right).session_number == 1 and book.summary(right).void is None
    history = book.history(c.patient)
    assert [(s.visit_id, s.void is not None) for s in history] == [(wrong, True), (right, False)]
    totals = history_totals(history)
    assert (totals.sessions, totals.shots, totals.voided) == (1, 2, 1)
    assert totals.volume_ml == pytest.approx(0.04)

    html = render("report", "html", summary, clinic_name="Clinic").decode()
    assert "VOID" in html and "opened for the wrong patient" in html
    sheet = render("aftercare", "html", summary, clinic_name="Clinic").decode()
    assert "VOID" in sheet and "this sheet does not apply" in sheet
    with pytest.raises(VisitNotTreatment, match=r"voided by dr\.lee") as again:
        book.sign_off(wrong, actor=DR)
    assert again.value.field == "visit"
    assert verify_chain(shared_record).intact and crosscheck(shared_record) is None


def test_refusals_name_the_field_and_change_nothing(shared_record: TreatmentRecord) -> None:
    c = clinic(shared_record)
    visit = c.start()
    book = c.treatment
    signed = c.start(c.serial2)
    book.sign_off(signed, actor=DR)
    before = everything(shared_record)
    for call, error, field in (
        (lambda: book.void(visit, actor=DR, reason="  "), ReasonRequired, "reason"),
        (lambda: book.void(visit, actor=ASSISTANT, reason="wrong patient"), RoleRequired, "actor.roles"),
        (lambda: book.void(signed, actor=DR, reason="wrong patient"), RoleRequired, "actor.roles"),
    ):
        with pytest.raises(error) as refused:
            call()
        assert getattr(refused.value, "field", None) == field, refused.value
    assert "admin" in str(refused.value) and "signed off by dr.lee" in str(refused.value)
    assert everything(shared_record) == before
    book.void(signed, actor=ROOT, reason="signed off for the wrong patient")  # an admin may, with a reason
    assert book.summary(signed).void is not None and book.summary(signed).signoff is not None
    before = everything(shared_record)
    with pytest.raises(VisitNotTreatment, match="cannot be voided again"):
        book.void(signed, actor=ROOT, reason="again")
    assert everything(shared_record) == before


def test_record_show_says_void_and_a_removed_void_entry_is_named_by_verify(
    where: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    with TreatmentRecord(where) as record:
        c = clinic(record)
        visit = c.start()
        c.treatment.void(visit, actor=DR, reason="wrong patient")
        c.treatment.note(visit, "the right patient's session is the next one", actor=DR)
    capsys.readouterr()
    assert main(["--db", str(where), "record", "show", str(visit)]) == 0
    out = capsys.readouterr().out
    assert "VOID" in out and "voided by dr.lee" in out and "wrong patient" in out
    assert main(["--db", str(where), "record", "verify"]) == 0
    run_sql(where, f"DELETE FROM audit_log WHERE action = '{VOID}'")
    capsys.readouterr()
    assert main(["--db", str(where), "record", "verify"]) == 6
    assert "deleted" in capsys.readouterr().err
