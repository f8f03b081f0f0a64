"""Attended clients: who is watching an armed gun. A tablet or a CLI session joins, sends heartbeats and
leaves; when the last one has been silent for longer than the grace period the gun must be made safe."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Attendee:
    client: str
    last_beat: float


class Attendance:
    """The attended clients of one gun, each with the time of its last heartbeat (a monotonic clock)."""

    def __init__(self, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._attendees: dict[str, _Attendee] = {}
        self._last_seen = clock()
        """When a live attendee was last seen (joining, beating, leaving)."""

    @property
    def heartbeat_s(self) -> float:
        """How often an attendee should send a heartbeat: a third of the grace period."""
        return self.grace_s / 3

    def join(self, client: str) -> str:
        """A new attendee; returns its id (random, unguessable)."""
        attendee_id = secrets.token_urlsafe(12)
        now = self._clock()
        self._attendees[attendee_id] = _Attendee(client, now)
        self._last_seen = now
        return attendee_id

    def beat(self, attendee_id: str) -> bool:
        """A heartbeat; False if ``attendee_id`` is unknown (it left, or was dropped as silent)."""
        attendee = self._attendees.get(attendee_id)
        if attendee is None:
            return False
        attendee.last_beat = self._last_seen = self._clock()
        return True

    def leave(self, attendee_id: str) -> bool:
        """An attendee leaves; False if it was not attending."""
        if self._attendees.pop(attendee_id, None) is None:
            return False
        self._last_seen = self._clock()
        return True

    def live(self) -> list[str]:
        """The clients heard from within the grace period (silent ones are dropped)."""
        now = self._clock()
        for attendee_id, attendee in list(self._attendees.items()):
            if now - attendee.last_beat > self.grace_s:
                del self._attendees[attendee_id]
        return [a.client for a in self._attendees.values()]

    def unattended_for(self) -> float:
        """Seconds since the last live attendee was heard from (0 while one is live)."""
        if self.live():
            return 0.0
        return self._clock() - self._last_seen

    def __contains__(self, attendee_id: object) -> bool:
        return attendee_id in self._attendees
