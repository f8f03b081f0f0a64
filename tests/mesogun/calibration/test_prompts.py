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


def test_a_terminal_asks_again_for_a_number_its_check_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import io
    import sys

    from mesogun.calibration import figures
    from mesogun.calibration.prompts import TerminalPrompter

    monkeypatch.setattr(sys, "stdin", io.StringIO("35\n21.5\n"))  # a slip of the finger, then the reading
    ask = TerminalPrompter().ask_number(
        "temperature_c", "Water temperature", unit="°C", check=figures.check_temperature_c
    )
    assert asyncio.run(ask) == 21.5
    err = capsys.readouterr().err
    assert "Error: temperature_c=35 °C is outside 15–30 °C (ISO 8655-6's test conditions)" in err
    assert err.count("Water temperature (°C)") == 2


def test_a_scripted_number_its_check_refuses_is_one_line_naming_field_value_limit_and_unit() -> None:
    import asyncio

    from mesogun.calibration import figures
    from mesogun.calibration.prompts import ScriptedPrompter
    from mesogun.errors import ParameterError

    prompter = ScriptedPrompter({"humidity_pct": 150})
    with pytest.raises(ParameterError) as refused:
        asyncio.run(
            prompter.ask_number("humidity_pct", "Relative humidity", unit="%", check=figures.check_humidity_pct)
        )
    assert str(refused.value) == "humidity_pct=150 % is outside 0–100 % (a relative humidity)"
    assert refused.value.field == "humidity_pct"
