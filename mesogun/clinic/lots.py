"""Product lots: a product (or cocktail) with its lot number and expiry date. An expired lot is refused; one
within :data:`NEAR_EXPIRY_DAYS` of its expiry warns. Pure: the caller says what day it is (``today``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mesogun.clinic.errors import ClinicError, LotExpired
from mesogun.i18n import N_
from mesogun.wording import Worded, Wording

NEAR_EXPIRY_DAYS = 30
"""A lot expiring within this many days (inclusive) warns."""

TEXT_MAX = 200
"""The longest product name or lot number, characters."""


@dataclass(frozen=True)
class Lot:
    """One lot of a product: its name, the lot number printed on it, and its expiry date (usable through it)."""

    product: str
    lot_number: str
    expiry: date


def parse_expiry(value: str | date) -> date:
    """An expiry date from ISO text (``2026-05-31``) or a date; refused (field ``expiry``) if malformed."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise ClinicError(
            Wording(N_("expiry {value} is not a date (YYYY-MM-DD)"), value=repr(value)), field="expiry", value=value
        ) from None


def lot(product: str, lot_number: str, expiry: str | date) -> Lot:
    """A checked :class:`Lot`: product and lot number non-blank, one line, at most :data:`TEXT_MAX` characters."""
    for name, text in (("product", product), ("lot_number", lot_number)):
        if not isinstance(text, str) or not text.strip() or len(text) > TEXT_MAX or "\n" in text:
            raise ClinicError(
                Wording(
                    N_("{field} must be one non-blank line of at most {limit} characters (got {value})"),
                    field=name,
                    limit=TEXT_MAX,
                    value=repr(text),
                ),
                field=name,
                value=text,
            )
    return Lot(product.strip(), lot_number.strip(), parse_expiry(expiry))


def check_usable(found: Lot, today: date) -> Worded | None:
    """Whether ``found`` may be used ``today``: :class:`~mesogun.clinic.errors.LotExpired` (field ``lot``, naming
    the lot and its date) if past its expiry; a warning (one line, worded for the catalog) if it expires within
    :data:`NEAR_EXPIRY_DAYS`; ``None`` otherwise."""
    left = (found.expiry - today).days
    if left < 0:
        raise LotExpired(
            Wording(
                N_("lot {lot} of {product} expired on {expiry}: an expired lot is never used"),
                lot=found.lot_number,
                product=found.product,
                expiry=found.expiry.isoformat(),
            ),
            field="lot",
            value=found.lot_number,
        )
    if left <= NEAR_EXPIRY_DAYS:
        if left == 0:
            template = N_("lot {lot} of {product} expires today ({expiry})")
        elif left == 1:
            template = N_("lot {lot} of {product} expires in 1 day ({expiry})")
        else:
            template = N_("lot {lot} of {product} expires in {days} days ({expiry})")
        return Worded(
            Wording(template, lot=found.lot_number, product=found.product, days=left, expiry=found.expiry.isoformat())
        )
    return None
