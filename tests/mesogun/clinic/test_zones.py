"""The zone catalog: every zone has a unique id in its region; an unknown zone is refused naming the field,
the value and the nearest zones."""

from __future__ import annotations

import pytest

from mesogun.cli.hints import as_command
from mesogun.clinic.errors import UnknownZone
from mesogun.clinic.zones import CATALOG, ZONES, Region, in_region, label, listing, near, zone


def test_the_catalog_covers_face_neck_decollete_scalp_and_body() -> None:
    assert len(ZONES) == len(CATALOG)
    assert {z.region for z in CATALOG} == set(Region)
    assert zone("face.forehead").label == "Forehead"
    assert zone("face.cheek_left").label == "Cheek (left)" and zone("scalp.crown").region is Region.SCALP
    assert [z.id for z in in_region(Region.FACE)][:2] == ["face.forehead", "face.glabella"]
    assert len(in_region(Region.FACE)) == 12 and len(in_region(Region.BODY)) == 9
    assert all(z.id.startswith(z.region.value) for z in CATALOG)


def test_an_unknown_zone_names_the_field_the_value_and_near_ones() -> None:
    with pytest.raises(UnknownZone) as refused:
        zone("face.forehed")
    assert refused.value.field == "zone" and refused.value.value == "face.forehed"
    assert "'face.forehed' is not a treatment zone; nearest: face.forehead" in str(refused.value)
    assert refused.value.code == "MG701" and refused.value.exit_code == 2


def test_close_ids_are_those_begun_or_spelled_alike_at_most_three() -> None:
    assert near("face.jaw") == ["face.jawline_left", "face.jawline_right"]
    assert near("face.cheek") == ["face.cheek_left", "face.cheek_right", "face.chin"]
    assert near("necck") == ["neck"]
    assert near("face.nose_tip") == []  # not face.jawline_left, which difflib finds at 0.6


def test_a_zone_unlike_any_lists_its_region_or_every_region_and_says_how_to_list_all() -> None:
    with pytest.raises(UnknownZone) as refused:
        zone("face.nosetip")
    face = ", ".join(z.id for z in in_region(Region.FACE))
    assert str(refused.value) == (
        f"zone 'face.nosetip' is not a treatment zone; none is close; the face zones: {face} "
        "(read mesogun.clinic.zones.CATALOG to see every zone)"
    )
    assert refused.value.describe(as_command).endswith("(run 'mesogun session zones' to see every zone)")
    with pytest.raises(UnknownZone, match=r"none is close; the scalp zones: scalp\.frontal, scalp\.vertex"):
        zone("scalp.qq")
    with pytest.raises(UnknownZone, match=r"the regions are face, neck, decollete, scalp, body"):
        zone("elbow")


def test_the_listing_is_the_catalog() -> None:
    assert [z["id"] for z in listing()] == [z.id for z in CATALOG]
    assert listing()[0] == {"id": "face.forehead", "label": "Forehead", "region": "face"}


def test_a_stored_id_reads_as_its_label() -> None:
    assert label("decollete") == "Décolleté" and label("gone.zone") == "gone.zone" and label(None) == "-"
