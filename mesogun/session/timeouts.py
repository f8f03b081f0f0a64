"""Every timeout and period the session uses, named in one frozen settings object passed to ``connect()``.

Nothing in :mod:`mesogun.session` waits on a bare number: a wait that can end by timing out reads its
bound from :class:`Timeouts`, so the whole timing policy of a session is visible (and testable) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesogun.errors import ParameterError
from mesogun.link import ACK_TIMEOUT, RETRIES


@dataclass(frozen=True)
class Timeouts:
    """How long the session waits for what, in seconds (loop time: virtual under ``looptime``)."""

    ack: float = ACK_TIMEOUT
    """Wait for a command's reply before re-sending it (same seq: the device executes it once)."""
    retries: int = RETRIES
    """Re-sends after the first attempt before the command fails with ``LinkTimeout``."""
    silence: float | None = None
    """No data from the device for this long means the connection is lost. ``None``: derived from the
    device (``silence_periods`` status periods, at least ``silence_min`` and four heartbeat periods)."""
    silence_before_identity: float = 2.0
    """The silence timeout while connecting, before the device said its status period."""
    silence_periods: int = 10
    """Derived silence timeout, in device status periods."""
    silence_min: float = 0.5
    """Floor of the derived silence timeout."""
    heartbeat_fraction: float = 0.25
    """Send a heartbeat when nothing went out for this fraction of the device's watchdog period."""
    settle: float = 120.0
    """Wait for the device to finish priming or moving the needle stop."""
    firing_end: float = 5.0
    """When leaving the gun safe: wait for the shot in progress to end after ``stop``, before ``disarm``."""
    close_grace: float = 5.0
    """``close()`` lets making the gun safe take this long beyond the stop and disarm's own retry budget."""
    status_poll_periods: float = 3.0
    """While waiting on a status-decided outcome, ask for a status after this many silent status periods."""
    status_poll_min: float = 0.2
    """Floor of that status poll interval."""
    record: float = 10.0
    """Longest a treatment-record call may take before the session treats the record as failed (stop,
    disarm, ``RecordError``). A safety net: the record has its own, shorter, write timeout."""
    record_lag: float = 0.5
    """Longest a shot or alarm may wait for the record, counted when the next one arrives, before the record
    counts as failed: bounds the shots fired unrecorded while a disk stalls (5 at 10 shots/s)."""

    def __post_init__(self) -> None:
        if self.ack <= 0:
            raise ParameterError(f"ack_timeout={self.ack} must be more than 0 s", field="ack_timeout", value=self.ack)
        if self.retries < 0:
            raise ParameterError(f"retries={self.retries} must be 0 or more", field="retries", value=self.retries)
        if not 0 < self.heartbeat_fraction < 1:
            raise ParameterError(
                f"heartbeat_fraction={self.heartbeat_fraction} must be between 0 and 1 (exclusive)",
                field="heartbeat_fraction",
                value=self.heartbeat_fraction,
            )

    @property
    def command_budget(self) -> float:
        """The longest one command can take on the link: every attempt unanswered."""
        return self.ack * (self.retries + 1)
