"""The zone map of the treatment page: the zones of :mod:`mesogun.clinic.zones` laid out in rows over a drawing
of a face (with the neck, décolleté and scalp) and, when the catalog has body regions, of a body, each zone a
button named by its label (in the page's language). Rows go from the viewer's left: the patient's right side
first, as the practitioner facing them sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mesogun.clinic.zones import CATALOG, Region, Zone
from mesogun_service.tablet.i18n import N_, gettext

FACE_ROWS: Final = (
    ("scalp.occipital", "scalp.crown", "scalp.vertex"),
    ("scalp.temporal_right", "scalp.frontal", "scalp.temporal_left"),
    ("face.forehead",),
    ("face.periorbital_right", "face.glabella", "face.periorbital_left"),
    ("face.cheek_right", "face.cheek_left"),
    ("face.nasolabial_right", "face.perioral", "face.nasolabial_left"),
    ("face.jawline_right", "face.chin", "face.jawline_left"),
    ("neck",),
    ("decollete",),
)
"""The face view, top to bottom (the back of the scalp in the top row)."""

BODY_ROWS: Final = (
    ("body.arm_right", "body.arm_left"),
    ("body.flank_right", "body.abdomen", "body.flank_left"),
    ("body.buttock_right", "body.buttock_left"),
    ("body.thigh_right", "body.thigh_left"),
)
"""The body view, top to bottom."""


@dataclass(frozen=True)
class ZoneButton:
    """One zone on the map: its id (what the session records), its label in the page's language, whether it is
    the session's zone now."""

    id: str
    label: str
    current: bool


@dataclass(frozen=True)
class MapView:
    """One drawing (``face`` or ``body``) with its rows of zones."""

    name: str
    title: str
    rows: tuple[tuple[ZoneButton, ...], ...]


def views(language: str, current: str | None, catalog: tuple[Zone, ...] = CATALOG) -> tuple[MapView, ...]:
    """The map's views in ``language``, ``current`` marked: the face view, then the body view if the catalog has
    body zones; a zone of the catalog neither view places goes in a last row of its region's view."""
    by_id = {zone.id: zone for zone in catalog}

    def button(zone: Zone) -> ZoneButton:
        return ZoneButton(zone.id, gettext(language, zone.label), zone.id == current)

    def rows(layout: tuple[tuple[str, ...], ...], regions: set[Region]) -> tuple[tuple[ZoneButton, ...], ...]:
        placed = {zone_id for row in layout for zone_id in row}
        laid = [tuple(button(by_id[z]) for z in row if z in by_id) for row in layout]
        rest = tuple(button(z) for z in catalog if z.region in regions and z.id not in placed)
        return tuple(row for row in (*laid, rest) if row)

    face = MapView(
        "face",
        gettext(language, N_("Face, neck and scalp")),
        rows(FACE_ROWS, {Region.FACE, Region.NECK, Region.DECOLLETE, Region.SCALP}),
    )
    shown = [face]
    if any(zone.region is Region.BODY for zone in catalog):
        shown.append(MapView("body", gettext(language, N_("Body")), rows(BODY_ROWS, {Region.BODY})))
    return tuple(shown)


def label_of(language: str, zone_id: str | None) -> str | None:
    """The label of zone ``zone_id`` in ``language`` (the id itself for a zone the catalog no longer has)."""
    if zone_id is None:
        return None
    for zone in CATALOG:
        if zone.id == zone_id:
            return gettext(language, zone.label)
    return zone_id
