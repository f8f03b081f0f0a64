"""Product lots: expired refused naming the lot and its date; within 30 days warns."""

from __future__ import annotations

from datetime import date

import pytest

from mesogun.clinic.errors import ClinicError, LotExpired
from mesogun.clinic.lots import check_usable, lot

TODAY = date(2026, 3, 10)


def test_an_expired_lot_is_refused_naming_lot_and_date() -> None:
    with pytest.raises(LotExpired) as refused:
        check_usable(lot("HA cocktail", "L123", "2026-03-09"), TODAY)
    assert str(refused.value) == "lot L123 of HA cocktail expired on 2026-03-09: an expired lot is never used"
    assert refused.value.field == "lot" and refused.value.value == "L123" and refused.value.exit_code == 2


@pytest.mark.parametrize(
    ("expiry", "says"),
    [
        ("2026-03-10", "lot L1 of P expires today (2026-03-10)"),
        ("2026-03-11", "lot L1 of P expires in 1 day (2026-03-11)"),
        ("2026-04-09", "lot L1 of P expires in 30 days (2026-04-09)"),
        ("2026-04-10", None),
    ],
)
def test_a_lot_near_its_expiry_warns(expiry: str, says: str | None) -> None:
    assert check_usable(lot("P", "L1", expiry), TODAY) == says


@pytest.mark.parametrize(
    ("args", "field"),
    [(("", "L1", "2026-01-01"), "product"), (("P", " ", "2026-01-01"), "lot_number"), (("P", "L", "31/12"), "expiry")],
)
def test_a_malformed_lot_is_refused_naming_the_field(args: tuple[str, str, str], field: str) -> None:
    with pytest.raises(ClinicError) as refused:
        lot(*args)
    assert refused.value.field == field
