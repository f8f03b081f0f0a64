"""Short fuzz runs of the stream decoder and the simulated gun's command handler, plus every past crasher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesogun.testing.reliability import fuzz_decoder, fuzz_device

CRASHERS = Path(__file__).parent / "crashers"


@pytest.fixture(autouse=True)
def _no_loop_left() -> Iterator[None]:
    yield
    fuzz_device.close_loop()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1500))
def test_stream_decoder_survives_any_input_and_ignores_chunking(data: bytes) -> None:
    """Noise, damaged and intact frames: only documented errors, intact frames always decoded."""
    fuzz_decoder.target(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_device_command_handler_survives_any_frames_and_keeps_its_safety_rules(data: bytes) -> None:
    """Raw bytes, valid-CRC frames, random commands, faults: no crash, naks change nothing, watchdog holds."""
    fuzz_device.target(data)


@pytest.mark.parametrize("seed", fuzz_decoder.seeds() + fuzz_device.seeds(), ids=lambda s: f"{len(s)}B")
def test_seed_corpus_runs_clean_on_both_targets(seed: bytes) -> None:
    """The fuzzers' starting corpus (real session traffic, paths to firing) is clean on both targets."""
    fuzz_decoder.target(seed)
    fuzz_device.target(seed)


def test_every_past_crasher_replays_clean() -> None:
    """Every input that ever crashed a fuzz target (tests/reliability/crashers) replays clean."""
    assert CRASHERS.is_dir()
    for path in sorted(CRASHERS.glob("*-*")):
        target = fuzz_decoder.target if path.name.startswith("decoder") else fuzz_device.target
        target(path.read_bytes())
