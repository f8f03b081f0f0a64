"""Soft limits, one implementation: nappage at most 2 mm with any preset or none, a preset's depth and volume per
zone; an override needs a non-blank reason."""

from __future__ import annotations

import pytest

from firmware_protocol import Mode
from mesogun.cli.hints import as_command
from mesogun.clinic.errors import ReasonRequired, SoftLimitExceeded
from mesogun.clinic.limits import authorize, breaches
from mesogun.clinic.presets import PRESETS
from mesogun.presets import soft_limit_breach

FACE, NAPPAGE = PRESETS["face"], PRESETS["face-nappage"]


def test_nappage_deeper_than_2_mm_with_or_without_a_preset_is_one_breach() -> None:
    alone = breaches(None, Mode.NAPPAGE, 2.5)
    with_preset = breaches(NAPPAGE, Mode.NAPPAGE, 2.5)
    assert alone == with_preset and [b.limit for b in alone] == ["mode.nappage.max_depth_mm"]
    assert alone[0].message == "nappage at depth_mm=2.5 is deeper than its soft limit of 2 mm (nappage is superficial)"
    assert soft_limit_breach(Mode.NAPPAGE, 2.5) == alone[0].message  # mesogun set's check is this one
    assert breaches(None, Mode.NAPPAGE, 2.0) == () and soft_limit_breach(Mode.BURST, 3.9) is None


def test_a_presets_depth_limit() -> None:
    (breach,) = breaches(FACE, Mode.BURST, 2.6)
    assert (breach.limit, breach.field, breach.value, breach.maximum, breach.unit) == (
        "preset.face.max_depth_mm",
        "depth_mm",
        2.6,
        2.5,
        "mm",
    )
    assert breaches(FACE, Mode.BURST, 2.5) == ()
    assert breaches(PRESETS["body"], Mode.BURST, 4.0) == ()  # no soft depth limit: the device's range is the limit


def test_a_zones_volume_counts_what_was_delivered_and_what_is_planned() -> None:
    assert breaches(FACE, Mode.BURST, 1.5, 0.02, zone="face.chin", zone_delivered_ml=0.98) == ()  # exactly 1 mL
    (one_more,) = breaches(FACE, Mode.BURST, 1.5, 0.02, zone="face.chin", zone_delivered_ml=0.99)
    assert one_more.field == "volume_ml" and one_more.value == 1.01 and one_more.maximum == 1.0
    assert "zone face.chin would receive 1.01 mL this session (0.99 mL delivered + 0.02 mL planned)" in one_more.message
    (planned,) = breaches(FACE, Mode.BURST, 1.5, 0.02, zone_delivered_ml=0.5, planned_ml=0.6)
    assert planned.value == 1.1
    assert breaches(FACE, Mode.BURST, 1.5, 0.02) == ()  # no zone volume given: not checked


def test_an_override_needs_a_reason() -> None:
    found = breaches(FACE, Mode.NAPPAGE, 3.0)
    assert [b.limit for b in found] == ["mode.nappage.max_depth_mm"]  # the preset's looser 2.5 mm is not repeated
    with pytest.raises(SoftLimitExceeded) as refused:
        authorize(found, None)
    assert refused.value.field == "depth_mm" and refused.value.value == 3.0
    said = refused.value.describe(as_command)
    assert said.startswith(f"soft limit mode.nappage.max_depth_mm: {found[0].message} (give --yes --reason TEXT")
    assert said.count("reason") == 2 and "override_reason" not in said  # said once, in the CLI's words
    assert "pass an override reason to go ahead" in str(refused.value)  # the Python API's
    with pytest.raises(ReasonRequired) as blank:
        authorize(found, " \t")
    assert blank.value.field == "reason"
    assert authorize(found, " thick dermis ") == "thick dermis"
    assert authorize((), None) is None
