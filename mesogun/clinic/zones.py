"""The treatment zones a shot or a series is given in: face, neck, décolleté, scalp and body areas, each with a
stable id (``face.forehead``, ``scalp.crown``, ``neck``) the record stores, a label people read, and its region.

:func:`zone` is the one check of a zone id: an unknown one is refused naming the field ``zone``, the value and
the catalog's close ids, else its region's, with a hint to list them all (``mesogun session zones``, ``GET /zones``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from mesogun.clinic.errors import UnknownZone
from mesogun.errors import Hint
from mesogun.i18n import N_
from mesogun.wording import Wording


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


LIST_ZONES = Hint(N_("{0} to see every zone"), ("list_zones",))
"""What an unknown zone's refusal suggests: the catalog listed (the CLI's ``mesogun session zones``)."""


def zone(zone_id: str) -> Zone:
    """The zone of ``zone_id``; :class:`~mesogun.clinic.errors.UnknownZone` (field ``zone``) naming the value and
    the close ids (up to 3), else the zones of the region it names, else the regions, if the catalog has none."""
    found = ZONES.get(zone_id.strip().lower()) if isinstance(zone_id, str) else None
    if found is not None:
        return found
    wanted = str(zone_id).strip().lower()
    close = near(wanted)
    region = wanted.split(".", 1)[0]
    if close:
        more = Wording(N_("nearest: {zones}"), zones=", ".join(close))
    elif region in Region.__members__.values():
        more = Wording(
            N_("none is close; the {region} zones: {zones}"),
            region=region,
            zones=", ".join(z.id for z in in_region(Region(region))),
        )
    else:
        more = Wording(N_("the regions are {regions}"), regions=", ".join(Region))
    error = UnknownZone(
        Wording(N_("zone {zone} is not a treatment zone; {more}"), zone=repr(zone_id), more=more),
        field="zone",
        value=zone_id,
    )
    error.hint = LIST_ZONES
    raise error


def near(zone_id: str, n: int = 3) -> list[str]:
    """Up to ``n`` of the catalog's ids close to ``zone_id``: those it begins (``face.jaw``: the jawline's), then
    close spellings (``face.forehed``); none when nothing is close (``face.nose_tip``)."""
    wanted = zone_id.strip().lower()
    begun = [z for z in ZONES if wanted and z.startswith(wanted)]
    close = difflib.get_close_matches(wanted, list(ZONES), n=n, cutoff=0.7)
    return list(dict.fromkeys([*begun, *close]))[:n]


def listing() -> list[dict[str, str]]:
    """The catalog as the service's ``GET /zones`` and ``mesogun session zones --json`` give it: ``id``,
    ``label``, ``region``."""
    return [{"id": z.id, "label": z.label, "region": z.region.value} for z in CATALOG]


def in_region(region: Region) -> tuple[Zone, ...]:
    """The zones of one region, in catalog order."""
    return tuple(z for z in CATALOG if z.region is region)


def label(zone_id: str | None) -> str:
    """The label of a zone id as stored (the id itself if the catalog no longer has it; "-" for none)."""
    if zone_id is None:
        return "-"
    found = ZONES.get(zone_id)
    return found.label if found is not None else zone_id
