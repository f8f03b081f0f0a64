"""The treatment zones a shot or a series is given in: face, neck, décolleté, scalp and body areas, each with a
stable id (``face.forehead``, ``scalp.crown``, ``neck``) the record stores, a label people read, and its region.

:func:`zone` is the one check of a zone id: an unknown one is refused naming the field ``zone``, the value and
the nearest ids of the catalog.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from mesogun.clinic.errors import UnknownZone


class Region(StrEnum):
    """The part of the body a zone is in."""

    FACE = "face"
    NECK = "neck"
    DECOLLETE = "decollete"
    SCALP = "scalp"
    BODY = "body"


@dataclass(frozen=True)
class Zone:
    """One treatment zone."""

    id: str
    """Stable id, ``<region>.<area>`` (or the region alone for a region treated as one zone), e.g. ``face.chin``."""
    label: str
    """How a person reads it, e.g. "Cheek (left)"."""
    region: Region


def _sides(region: Region, area: str, label: str) -> tuple[Zone, Zone]:
    return (
        Zone(f"{region}.{area}_left", f"{label} (left)", region),
        Zone(f"{region}.{area}_right", f"{label} (right)", region),
    )


_F, _S, _B = Region.FACE, Region.SCALP, Region.BODY

CATALOG: tuple[Zone, ...] = (
    Zone("face.forehead", "Forehead", _F),
    Zone("face.glabella", "Glabella", _F),
    *_sides(_F, "periorbital", "Periorbital"),
    *_sides(_F, "cheek", "Cheek"),
    *_sides(_F, "nasolabial", "Nasolabial fold"),
    Zone("face.perioral", "Perioral", _F),
    Zone("face.chin", "Chin", _F),
    *_sides(_F, "jawline", "Jawline"),
    Zone("neck", "Neck", Region.NECK),
    Zone("decollete", "Décolleté", Region.DECOLLETE),
    Zone("scalp.frontal", "Scalp, frontal", _S),
    Zone("scalp.vertex", "Scalp, vertex", _S),
    Zone("scalp.crown", "Scalp, crown", _S),
    *_sides(_S, "temporal", "Scalp, temporal"),
    Zone("scalp.occipital", "Scalp, occipital", _S),
    Zone("body.abdomen", "Abdomen", _B),
    *_sides(_B, "flank", "Flank"),
    *_sides(_B, "thigh", "Thigh"),
    *_sides(_B, "buttock", "Buttock"),
    *_sides(_B, "arm", "Upper arm"),
)
"""Every zone, face first (top to bottom), then neck, décolleté, scalp and body."""

ZONES: Mapping[str, Zone] = MappingProxyType({z.id: z for z in CATALOG})
"""The zones by id."""


def zone(zone_id: str) -> Zone:
    """The zone of ``zone_id``; :class:`~mesogun.clinic.errors.UnknownZone` (field ``zone``) naming the value and
    the nearest ids if the catalog has no such zone."""
    found = ZONES.get(zone_id.strip().lower()) if isinstance(zone_id, str) else None
    if found is not None:
        return found
    raise UnknownZone(
        f"zone {zone_id!r} is not a treatment zone; nearest: {', '.join(near(str(zone_id)))}",
        field="zone",
        value=zone_id,
    )


def near(zone_id: str, n: int = 5) -> list[str]:
    """The catalog's ids nearest ``zone_id``: close spellings, else the zones of the region it names, else the
    first zone of each region."""
    wanted = zone_id.strip().lower()
    close = difflib.get_close_matches(wanted, list(ZONES), n=n, cutoff=0.6)
    if close:
        return close
    region = wanted.split(".", 1)[0]
    same_region = [z.id for z in CATALOG if z.region.value == region]
    if same_region:
        return same_region
    return [next(z.id for z in CATALOG if z.region is r) for r in Region]


def in_region(region: Region) -> tuple[Zone, ...]:
    """The zones of one region, in catalog order."""
    return tuple(z for z in CATALOG if z.region is region)


def label(zone_id: str | None) -> str:
    """The label of a zone id as stored (the id itself if the catalog no longer has it; "-" for none)."""
    if zone_id is None:
        return "-"
    found = ZONES.get(zone_id)
    return found.label if found is not None else zone_id
