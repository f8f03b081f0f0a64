"""Products and their lots in the record: a lot's number and expiry, entered once, then named by id when a
treatment session uses it (an expired one is refused: :func:`mesogun.clinic.lots.check_usable`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, insert, select

from mesogun.clinic import lots as rules
from mesogun.clinic.actors import Actor
from mesogun.clinic.errors import DuplicateEntry, NoSuchLot
from mesogun.i18n import N_
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.store import TreatmentRecord
from mesogun.record.writes import inserted_id
from mesogun.wording import Wording


@dataclass(frozen=True)
class StoredLot:
    """A lot as the record holds it."""

    id: int
    product: str
    lot_number: str
    expiry: str
    """ISO date: usable through this day."""
    added: str

    def as_lot(self) -> rules.Lot:
        """The clinic's view of it (for :func:`mesogun.clinic.lots.check_usable`)."""
        return rules.Lot(self.product, self.lot_number, date.fromisoformat(self.expiry))


class LotBook:
    """Enters and reads products and lots in a :class:`TreatmentRecord`."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def add(
        self, product: str, lot_number: str, expiry: str | date, *, actor: Actor, description: str = ""
    ) -> StoredLot:
        """Enter a lot of ``product`` (the product is entered too if new); :class:`DuplicateEntry` (field
        ``lot_number``) if the product has that lot already. An expired lot may be entered (it is on the shelf):
        it is refused when a session would use it."""
        checked = rules.lot(product, lot_number, expiry)
        with self.record.transaction() as db:
            pr, lo = t.products.c, t.lots.c
            product_id = db.execute(select(pr.id).where(pr.name == checked.product)).scalar()
            if product_id is None:
                product_id = inserted_id(
                    db.execute(insert(t.products).values(name=checked.product, description=description, added=now()))
                )
                append_audit(
                    db,
                    actor=actor.name,
                    action="product.add",
                    entity="product",
                    entity_id=product_id,
                    new={"name": checked.product, "description": description},
                )
            taken = db.execute(
                select(lo.id).where(lo.product_id == product_id, lo.lot_number == checked.lot_number)
            ).first()
            if taken is not None:
                raise DuplicateEntry(
                    Wording(
                        N_("lot {lot} of {product} is on record already (lot id {id})"),
                        lot=checked.lot_number,
                        product=checked.product,
                        id=taken[0],
                    ),
                    field="lot_number",
                    value=checked.lot_number,
                )
            values = {"product_id": product_id, "lot_number": checked.lot_number, "expiry": checked.expiry.isoformat()}
            lot_id = inserted_id(db.execute(insert(t.lots).values(**values, added=now())))
            append_audit(
                db,
                actor=actor.name,
                action="lot.add",
                entity="lot",
                entity_id=lot_id,
                new={**values, "product": checked.product},
            )
        return self.get(lot_id)

    def get(self, lot_id: int) -> StoredLot:
        """One lot; :class:`NoSuchLot` (field ``lot``) if none."""
        with self.record.reading() as db:
            return lot_of(db, lot_id)

    def all(self) -> list[StoredLot]:
        """Every lot, by product and expiry."""
        with self.record.reading() as db:
            ids = db.execute(_lots().order_by(t.products.c.name, t.lots.c.expiry, t.lots.c.id)).all()
            return [_stored(row) for row in ids]

    def usable(self, lot_id: int, today: date) -> tuple[StoredLot, str | None]:
        """The lot and its near-expiry warning (``None``: none); :class:`~mesogun.clinic.errors.LotExpired` if it
        expired before ``today``."""
        found = self.get(lot_id)
        return found, rules.check_usable(found.as_lot(), today)


def _lots() -> Select[Any]:
    """The lots with their product's name."""
    lo, pr = t.lots.c, t.products.c
    return select(lo.id, pr.name, lo.lot_number, lo.expiry, lo.added).select_from(
        t.lots.join(t.products, pr.id == lo.product_id)
    )


def _stored(row: Sequence[Any]) -> StoredLot:
    return StoredLot(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]))


def lot_of(db: Connection, lot_id: int) -> StoredLot:
    """The lot of ``lot_id`` read on ``db``; :class:`NoSuchLot` (field ``lot``) if none."""
    row = db.execute(_lots().where(t.lots.c.id == lot_id)).first()
    if row is None:
        raise NoSuchLot(Wording(N_("no lot {lot} in the treatment record"), lot=lot_id), field="lot", value=lot_id)
    return _stored(row)
