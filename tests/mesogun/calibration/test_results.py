"""A calibration run's record through JSON and back: every field, passed, failed and aborted runs alike, and a
malformed text refused with what is wrong."""

from __future__ import annotations

import json

import pytest

from mesogun.calibration.results import FORMAT, CalibrationRun, ConstantsSnapshot, RunOutcome
from tests.mesogun.calibration import runs


@pytest.mark.parametrize("make", [runs.volume_passed, runs.depth_failed, runs.rate_aborted])
def test_a_run_survives_json_unchanged(make) -> None:
    run = make()
    text = run.to_json()
    back = CalibrationRun.from_json(text)
    assert back == run
    assert back.to_json() == text
    assert json.loads(text)["format"] == FORMAT


def test_the_json_form_is_plain_and_readable() -> None:
    data = json.loads(runs.volume_passed().to_json())
    assert data["kind"] == "volume" and data["outcome"] == "passed"
    assert data["started_at"] == "2026-03-02T09:15:00+00:00"
    assert data["balance"]["calibration_due"] == "2026-09-30"
    assert data["constants_after"]["volume_gain_by_brand"]["BD"] == pytest.approx(1.03, abs=0.002)
    assert data["signature"]["meaning"] == "performed this calibration and verified its results"
    assert len(data["as_found"][2]["readings"]) == 10 and data["as_found"][2]["shots_per_reading"] == 10
    assert data["as_found"][0]["limits"]["random_pct"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(format=99), "format must be 1"),
        (lambda d: d.update(outcome="maybe"), "run.outcome='maybe' is not one of"),
        (lambda d: d.update(surprise=1), "unknown fields ['surprise']"),
        (lambda d: d["as_found"][0].update(mean="big"), "run.as_found[0].mean must be a number"),
        (lambda d: d.pop("technician"), "technician"),
    ],
)
def test_a_malformed_run_is_refused_naming_what_is_wrong(change, words) -> None:
    data = runs.volume_passed().to_dict()
    change(data)
    with pytest.raises(ValueError) as caught:
        CalibrationRun.from_dict(data)
    assert words in str(caught.value)


def test_the_constants_snapshot_is_read_only_and_knows_a_brands_gain() -> None:
    constants = ConstantsSnapshot({"BD": 1.03}, 80, 1.0, 1.0, 3)
    assert constants.volume_gain("BD") == 1.03 and constants.volume_gain("Terumo") == 1.0
    with pytest.raises(TypeError):
        constants.volume_gain_by_brand["BD"] = 2.0  # type: ignore[index]
    assert RunOutcome("aborted") is RunOutcome.ABORTED
