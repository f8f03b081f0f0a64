"""The pre-treatment checklist: every item answered, a contraindication present only with an override and its
reason, a clinic's own list from TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesogun.clinic.checklist import DEFAULT_ITEMS, AnswerGiven, check, load
from mesogun.clinic.errors import ChecklistIncomplete, ContraindicationPresent, ReasonRequired

ALL_NO: dict[str, AnswerGiven] = {item.id: False for item in DEFAULT_ITEMS}


def test_the_defaults_are_the_issues_contraindications() -> None:
    assert [i.id for i in DEFAULT_ITEMS] == [
        "pregnancy",
        "clotting",
        "skin_infection",
        "eczema_psoriasis",
        "allergy",
        "retinol_alcohol",
    ]
    assert "aspirin" in DEFAULT_ITEMS[1].question


def test_all_answered_and_none_present_passes() -> None:
    checked = check({**ALL_NO, "allergy": (False, "none known")})
    assert checked.present == () and checked.override_reason is None
    assert [a.item for a in checked.answers] == [i.id for i in DEFAULT_ITEMS]
    assert checked.answers[4].note == "none known"


def test_an_unanswered_item_is_refused_naming_it() -> None:
    answers = {k: v for k, v in ALL_NO.items() if k != "clotting"}
    with pytest.raises(ChecklistIncomplete, match=r"checklist item clotting .* is not answered") as refused:
        check(answers)
    assert refused.value.field == "checklist.clotting"


def test_an_answer_to_no_item_is_refused() -> None:
    with pytest.raises(ChecklistIncomplete, match="'smoker' is not on the checklist") as refused:
        check({**ALL_NO, "smoker": True})
    assert refused.value.field == "checklist.smoker"


def test_a_present_contraindication_needs_an_override_with_a_reason() -> None:
    answers: dict[str, AnswerGiven] = {**ALL_NO, "clotting": (True, "aspirin daily")}
    with pytest.raises(ContraindicationPresent, match="contraindication present: clotting") as refused:
        check(answers)
    assert refused.value.field == "checklist.clotting" and refused.value.code == "MG704"
    with pytest.raises(ReasonRequired) as blank:
        check(answers, override_reason="  ")
    assert blank.value.field == "override_reason"
    checked = check(answers, override_reason=" GP approved: low dose, superficial only ")
    assert checked.present == ("clotting",) and checked.override_reason == "GP approved: low dose, superficial only"


def test_an_override_with_nothing_present_is_not_kept() -> None:
    assert check(ALL_NO, override_reason="just in case").override_reason is None


def test_a_clinic_checklist_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "checklist.toml"
    path.write_text(
        '[[item]]\nid = "pregnancy"\nquestion = "Pregnant?"\n[[item]]\nid = "smoker"\nquestion = "Smoker?"\n'
    )
    items = load(path)
    assert [(i.id, i.question) for i in items] == [("pregnancy", "Pregnant?"), ("smoker", "Smoker?")]
    assert check({"pregnancy": False, "smoker": False}, items=items).present == ()
    path.write_text('[[item]]\nid = "Bad Id"\nquestion = "?"\n')
    with pytest.raises(ChecklistIncomplete, match="lower-case letters"):
        load(path)
    with pytest.raises(ChecklistIncomplete, match=r"(?i)no such file"):
        load(tmp_path / "missing.toml")
