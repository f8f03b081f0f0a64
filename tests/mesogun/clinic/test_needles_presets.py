"""Needles (gauge, length, change reminder) and clinic-defined presets."""

from __future__ import annotations

import pytest

from firmware_protocol import Mode
from mesogun.clinic.errors import ClinicError, UnknownPreset
from mesogun.clinic.needles import change_reminder, needle
from mesogun.clinic.presets import PRESETS, define, find


def test_a_needle_and_its_change_reminder() -> None:
    assert str(needle(32, 4)) == "32G 4 mm"
    assert change_reminder(499) is None
    assert change_reminder(500) == "change the needle: 500 shots since it was changed (reminded every 500)"
    assert change_reminder(120, every=100) is not None
    with pytest.raises(ClinicError) as refused:
        needle(40, 4)
    assert refused.value.field == "needle.gauge"
    with pytest.raises(ClinicError) as too_long:
        needle(30, 40.0)
    assert too_long.value.field == "needle.length_mm"


def test_the_builtin_presets_keep_their_values_and_gain_soft_limits() -> None:
    assert sorted(PRESETS) == ["body", "face", "face-nappage", "scalp"]
    nappage = PRESETS["face-nappage"]
    assert (nappage.depth_mm, nappage.mode, nappage.max_depth_mm) == (1.0, Mode.NAPPAGE, 2.0)
    assert all(p.builtin and p.max_volume_per_zone_ml for p in PRESETS.values())


def test_a_clinic_preset_is_checked() -> None:
    lips = define("lips", depth_mm=1.0, dose_ml=0.01, rate_hz=2, mode="burst", max_depth_mm=1.5)
    assert not lips.builtin and lips.mode is Mode.BURST and find("lips", [lips]) is lips
    assert find("face") is PRESETS["face"]
    with pytest.raises(ClinicError, match="built in") as builtin:
        define("face", depth_mm=1.0, dose_ml=0.01, rate_hz=2, mode="burst")
    assert builtin.value.field == "preset.name"
    with pytest.raises(ClinicError) as below:
        define("x", depth_mm=2.0, dose_ml=0.01, rate_hz=2, mode="burst", max_depth_mm=1.5)
    assert below.value.field == "preset.max_depth_mm"
    with pytest.raises(UnknownPreset, match="'fase' is not known; nearest: face") as unknown:
        find("fase")
    assert unknown.value.field == "preset"
