"""The default aftercare advice is the issue's list; a clinic's own list replaces it, and a bad one is refused
with the item and field named."""

from __future__ import annotations

import pytest

from mesogun.clinic.aftercare import DEFAULT_ADVICE, AftercareItem, advice
from mesogun.errors import ParameterError


def test_the_default_advice_covers_what_the_issue_names() -> None:
    text = " ".join(item.text for item in advice()).lower()
    for words in ("clean", "moisturised", "spf 30", "cloudy", "make-up", "hydrated", "24 to 48 hours", "sun"):
        assert words in text
    assert "strenuous" in text and "postpone" in text
    assert len({item.id for item in DEFAULT_ADVICE}) == len(DEFAULT_ADVICE)


def test_a_clinics_list_replaces_the_default() -> None:
    mine = advice([{"id": "ice", "text": " Cool the area with an ice pack. "}, AftercareItem("call", "Call us.")])
    assert mine == (AftercareItem("ice", "Cool the area with an ice pack."), AftercareItem("call", "Call us."))


@pytest.mark.parametrize(
    ("custom", "field"),
    [
        ([], "aftercare"),
        ([{"id": "ice", "text": "  "}], "aftercare[0].text"),
        ([{"text": "Rest."}], "aftercare[0].id"),
        ([AftercareItem("a", "One."), AftercareItem("a", "Two.")], "aftercare[1].id"),
    ],
)
def test_a_bad_list_is_refused_naming_the_field(custom, field) -> None:
    with pytest.raises(ParameterError) as caught:
        advice(custom)
    assert caught.value.field == field and field in str(caught.value)
