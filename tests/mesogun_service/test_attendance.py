"""Attended clients on a fake clock: live within the grace period, dropped when silent, unattended time."""

from __future__ import annotations

from mesogun_service.attendance import Attendance


def test_an_attendee_is_live_while_it_beats_and_dropped_when_silent() -> None:
    now = [0.0]
    attendance = Attendance(5.0, clock=lambda: now[0])
    tablet = attendance.join("tablet")
    now[0] = 4.0
    assert attendance.beat(tablet) and attendance.live() == ["tablet"] and attendance.unattended_for() == 0
    now[0] = 9.5  # 5.5 s since its last beat
    assert attendance.live() == [] and not attendance.beat(tablet)
    assert attendance.unattended_for() == 5.5
    assert attendance.heartbeat_s == 5.0 / 3


def test_leaving_starts_the_unattended_time_at_once() -> None:
    now = [0.0]
    attendance = Attendance(5.0, clock=lambda: now[0])
    cli = attendance.join("cli")
    now[0] = 2.0
    assert attendance.leave(cli) and not attendance.leave(cli)
    now[0] = 3.0
    assert attendance.unattended_for() == 1.0
