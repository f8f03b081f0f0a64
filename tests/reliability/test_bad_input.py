"""Bad input at the wire, API and simulator-option boundaries: a clean error, no traceback, no state change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mesogun.testing.reliability import bad_input
from tests.mesogun.cli.in_process import mesogun_in_process

Runner = Callable[[Callable[[], Any]], Any]


def test_every_bad_wire_frame_is_dropped_or_refused_and_changes_nothing(virtual: Runner) -> None:
    cases = virtual(bad_input.wire_cases)
    assert cases
    for case in cases:
        assert case.ok, case
    assert any("nak out_of_range" in c.error for c in cases)
    assert any("crc_errors" in c.error for c in cases)


def test_every_bad_api_call_raises_a_mesogun_error_and_changes_nothing(virtual: Runner) -> None:
    cases = virtual(bad_input.api_cases)
    for case in cases:
        assert case.ok, case
        assert case.error.split(":")[0] in ("ParameterError", "StateError", "PortNotFound", "DeviceRefused")


def test_every_bad_simulator_option_is_refused_naming_the_option() -> None:
    for case in bad_input.option_cases():
        assert case.ok, case
        assert case.error.startswith("SimConfigError: ")
        assert case.input.split("=")[0].split(":")[0] in case.error or "fault" in case.error


@pytest.mark.realio
@pytest.mark.slow
def test_bad_cli_flags_exit_with_a_one_line_error_and_leave_the_gun_as_it_was() -> None:
    """Each bad flag is run by the CLI in this process (its exit code and stderr as a child's); the simulator, and
    the campaign's own run (``python -m benchmarks.reliability.bad_input``), are child processes."""
    cases = bad_input.cli_cases(lambda argv: mesogun_in_process(*argv))
    for case in cases:
        assert case.ok, case
        assert not case.error.startswith("exit 0"), case
