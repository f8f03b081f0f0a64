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
    service_estop_tries: int
    """Emergency stops timed through a ``mesogun serve`` process (and as many direct ones, interleaved)."""
    load_seconds: float
    """Wall seconds the load test's 20 clients stream events while the gun fires (issue 13: 5 minutes)."""
    load_baseline_seconds: float
    """Wall seconds of the load test's first burst, watched by one client: the service's CPU peer."""
    load_clients: int
    """Clients that read their event stream promptly (each must receive every shot)."""
    slow_stall_seconds: float
    """How long the slow client reads nothing after subscribing (it must be told it missed events)."""
    slow_buffer: int | None
    """The events the slow client asks the service to keep for it (``?buffer=``; ``None``: the default, 256). Quick
    and smoke runs ask for 16, so that it falls behind within their short bursts."""
    scale_shots: int = 1_000_000
    """Shots in the record the scale benchmark builds (issue 14: 1,000,000)."""
    scale_visits: int = 10_000
    """Visits (one record session each) they are spread over (issue 14: 10,000)."""
    scale_fire_shots: int = 300
    """Shots fired at 10/s on each of the big and the empty record for the commit latency."""
    scale_queries: int = 50
    """Timed calls of each summary and history query."""
    firmware_image_kb: int = 256
    """Size of the signed image the firmware upload benchmark sends (issue 17: about 256 kB)."""

    @classmethod
    def for_mode(cls, mode: Mode) -> Settings:
        """The settings of ``mode``."""
        if mode is Mode.FULL:
            return cls(mode, 4000, 15, 1000, 30.0, 5, 60.0, 100, 100, 300.0, 30.0, 20, 150.0, None)
        if mode is Mode.QUICK:
            return cls(mode, 2000, 7, 300, 30.0, 3, 20.0, 50, 50, 20.0, 5.0, 20, 3600.0, 16, 50_000, 500, 40, 20, 64)
        return cls(mode, 200, 1, 20, 1.0, 2, 2.0, 3, 3, 2.0, 1.0, 20, 3600.0, 16, 2_000, 20, 3, 3, 16)
