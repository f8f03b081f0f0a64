"""The clinic's own presets in the record (the built-in ones are :data:`mesogun.clinic.presets.PRESETS`): defined
once by name, each with its soft limits; a definition is an audit entry."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from firmware_protocol import Mode
from mesogun.clinic.actors import Actor
from mesogun.clinic.errors import DuplicateEntry
from mesogun.clinic.presets import Preset, find
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.store import TreatmentRecord


def _wire(value: float | None, scale: int) -> int | None:
    return None if value is None else round(value * scale)


class PresetBook:
    """Defines and reads the clinic's presets in a :class:`TreatmentRecord`."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def define(self, preset: Preset, *, actor: Actor) -> Preset:
        """Store a clinic preset (made by :func:`mesogun.clinic.presets.define`); :class:`DuplicateEntry` (field
        ``preset.name``) if the clinic has one of that name."""
        values = {
            "name": preset.name,
            "depth_um": _wire(preset.depth_mm, 1000),
            "dose_nl": _wire(preset.dose_ml, 1_000_000),
            "rate_mhz": _wire(preset.rate_hz, 1000),
            "mode": preset.mode.json_name,
            "description": preset.description,
            "max_depth_um": _wire(preset.max_depth_mm, 1000),
            "max_volume_per_zone_nl": _wire(preset.max_volume_per_zone_ml, 1_000_000),
        }
        with self.record.transaction() as db:
            exists = db.execute(select(t.clinic_presets.c.name).where(t.clinic_presets.c.name == preset.name)).first()
            if exists is not None:
                raise DuplicateEntry(
                    f"the clinic has a preset {preset.name} already", field="preset.name", value=preset.name
                )
            db.execute(insert(t.clinic_presets).values(**values, created=now()))
            append_audit(
                db, actor=actor.name, action="preset.define", entity="preset", entity_id=preset.name, new=values
            )
        return self.find(preset.name)

    def all(self) -> list[Preset]:
        """The clinic's presets, by name."""
        with self.record.reading() as db:
            return clinic_presets(db)

    def find(self, name: str) -> Preset:
        """A preset by name, built in or the clinic's (:class:`~mesogun.clinic.errors.UnknownPreset`)."""
        with self.record.reading() as db:
            return find(name, clinic_presets(db))


def clinic_presets(db: Connection) -> list[Preset]:
    """The clinic's presets read on ``db``, by name."""
    p = t.clinic_presets.c
    rows = db.execute(
        select(
            p.name, p.depth_um, p.dose_nl, p.rate_mhz, p.mode, p.description, p.max_depth_um, p.max_volume_per_zone_nl
        ).order_by(p.name)
    ).all()
    return [
        Preset(
            name,
            depth / 1000,
            dose / 1e6,
            rate / 1000,
            Mode[mode.upper()],
            description,
            None if max_depth is None else max_depth / 1000,
            None if max_volume is None else max_volume / 1e6,
            builtin=False,
        )
        for name, depth, dose, rate, mode, description, max_depth, max_volume in rows
    ]
