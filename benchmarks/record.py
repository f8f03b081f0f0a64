"""The result record every benchmark returns: our figure, the peer's, and the ratio in our favour.

``ratio`` says how many times better we are than the peer: ours/peer for throughputs (higher is better),
peer/ours for times and costs (lower is better). ``goal`` is the ratio we aim for (``None`` for lines
that only inform, such as a p99 next to its p50 headline).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any


class Better(enum.Enum):
    """Which direction of our figure is good: it decides how the ratio is formed."""

    HIGHER = "higher"
    """A throughput: ratio = ours / peer."""
    LOWER = "lower"
    """A time or a cost: ratio = peer / ours."""


def ratio_for(ours: float, peer_value: float, better: Better) -> float:
    """How many times better ``ours`` is than ``peer_value`` (``inf`` when the divisor is zero)."""
    numerator, denominator = (ours, peer_value) if better is Better.HIGHER else (peer_value, ours)
    if denominator == 0:
        return math.inf
    return numerator / denominator


@dataclass(frozen=True)
class Result:
    """One line of the report: a measured figure of ours against a named peer's, same run."""

    name: str
    ours: float | None
    peer: str
    peer_value: float | None
    unit: str
    better: Better
    goal: float | None
    note: str = ""
    skipped: str | None = None
    """Why the benchmark could not run (then ``ours``, ``peer_value`` and ``ratio`` are ``None``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Supporting figures (sample counts, bytes per frame, the other percentile, …)."""

    @property
    def ratio(self) -> float | None:
        """Times better than the peer (see the module docstring), or ``None`` if skipped."""
        if self.ours is None or self.peer_value is None:
            return None
        return ratio_for(self.ours, self.peer_value, self.better)

    @property
    def met(self) -> bool | None:
        """Whether the ratio reaches the goal; ``None`` if there is no goal or no figure."""
        ratio = self.ratio
        if ratio is None or self.goal is None:
            return None
        return ratio >= self.goal

    def as_json(self) -> dict[str, Any]:
        """The JSON object of this line (``--json`` prints one per line)."""
        ratio = self.ratio
        obj: dict[str, Any] = {
            "name": self.name,
            "ours": self.ours,
            "peer": self.peer,
            "peer_value": self.peer_value,
            "unit": self.unit,
            "ratio": None if ratio is None else round(ratio, 4),
            "goal": self.goal,
            "met": self.met,
            "better": self.better.value,
        }
        if self.note:
            obj["note"] = self.note
        if self.skipped is not None:
            obj["skipped"] = self.skipped
        if self.extra:
            obj["extra"] = self.extra
        return obj


def skipped(name: str, peer: str, unit: str, better: Better, goal: float | None, reason: str) -> Result:
    """A line for a benchmark that could not run, saying why."""
    return Result(name, None, peer, None, unit, better, goal, skipped=reason)
