"""What a technician reads in ``mesogun calibrate``'s plain lines (:class:`TextReporter`, ``point_words``)."""

from __future__ import annotations

import pytest

from mesogun.calibration.prompts import TextReporter, point_words


def test_a_depth_point_reads_in_micrometres_the_unit_of_its_limit() -> None:
    depth = {"nominal": 1000.0, "unit": "µm", "systematic_error": 80.3, "systematic_pct": 8.03, "random_pct": 0.05}
    assert point_words(depth) == "1000 µm: +80.3 µm, random 0.05 %"
    volume = {"nominal": 20.0, "unit": "µL", "systematic_error": 0.004, "systematic_pct": 0.02, "random_pct": 0.08}
    assert point_words(volume) == "20 µL: +0.02 %, random 0.08 %"


def test_a_step_line_leaves_out_empty_constants(capsys: pytest.CaptureFixture[str]) -> None:
    constants = {"calibration_id": 0, "volume_gain_by_brand": {}, "depth_offset_um": 80}
    TextReporter().step("correction", "done", after=constants, results=[], reason="")
    line = capsys.readouterr().err.strip()
    assert line == "correction: done (after calibration id 0, depth offset um 80)"
