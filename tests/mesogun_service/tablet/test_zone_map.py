"""The treatment page's zone map: every zone of the catalog is on it once, named by a label the message catalog
holds, the current one marked; a body view only with body zones."""

from __future__ import annotations

from mesogun.clinic.zones import CATALOG, Region
from mesogun_service.tablet.i18n import translations
from mesogun_service.tablet.zone_map import views


def test_every_zone_is_on_the_map_once_with_a_catalogued_label() -> None:
    shown = [button for view in views("en", "face.chin") for row in view.rows for button in row]
    assert sorted(b.id for b in shown) == sorted(z.id for z in CATALOG)
    french = {button.label for view in views("fr", "face.chin") for row in view.rows for button in row}
    assert french == {translations("fr").gettext(z.label) for z in CATALOG} and "Menton" in french
    assert [b.id for b in shown if b.current] == ["face.chin"]


def test_the_body_view_only_when_the_catalog_has_body_zones() -> None:
    assert [v.name for v in views("en", None)] == ["face", "body"]
    face_only = tuple(z for z in CATALOG if z.region is not Region.BODY)
    assert [v.name for v in views("en", None, face_only)] == ["face"]
