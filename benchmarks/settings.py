"""How long each benchmark runs: full (the figures we publish), quick (about 2 min in all), smoke (tests only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Mode(enum.Enum):
    """A run length."""

    FULL = "full"
    QUICK = "quick"
    SMOKE = "smoke"
    """Tiny: checks the harness end to end in seconds; the figures mean nothing."""


@dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of every benchmark for one run length."""

    mode: Mode
    decode_frames: int
    """Frames in the synthetic decode stream (each repeat decodes it whole)."""
    decode_repeats: int
    roundtrips: int
    """Timed round trips per peer (after a short warm-up)."""
    session_minutes: float
    """Simulated length of the virtual-time session."""
    session_repeats: int
    """Sessions timed; the median speedup is reported (each repeat must meet the goal too)."""
    firing_seconds: float
    """Wall seconds of continuous firing measured for the host's CPU cost."""
    estop_tries: int
    """Emergency stops timed while firing (p50 and p99 need at least 50)."""

    @classmethod
    def for_mode(cls, mode: Mode) -> Settings:
        """The settings of ``mode``."""
        if mode is Mode.FULL:
            return cls(mode, 4000, 15, 1000, 30.0, 5, 60.0, 100)
        if mode is Mode.QUICK:
            return cls(mode, 2000, 7, 300, 30.0, 3, 20.0, 50)
        return cls(mode, 200, 1, 20, 1.0, 2, 2.0, 3)
