"""The tablet's alarm board for one gun: the device's active alarms by priority (IEC 60601-1-8: high, medium, low),
each with its cause and what to do, acknowledged explicitly by a user (an acknowledged alarm stops flashing but
stays until the device clears it). Pure: the live feed (:mod:`.feed`) tells it what the gun's events say."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from firmware_protocol import AlarmCode, AlarmPriority
from firmware_protocol.rules import ALARM_PRIORITIES
from mesogun_service.tablet.i18n import N_


@dataclass(frozen=True)
class AlarmText:
    """What the tablet says about one alarm code: what it is, its cause and what to do (catalog messages)."""

    title: str
    cause: str
    action: str


TEXTS: Final[dict[AlarmCode, AlarmText]] = {
    AlarmCode.OCCLUSION: AlarmText(
        N_("Occlusion"),
        N_("The line pressure is too high: the needle or the line is blocked. Firing stopped."),
        N_("Take the needle out of the skin, change the needle, check the line for kinks, then clear the alarm."),
    ),
    AlarmCode.RESERVOIR_EMPTY: AlarmText(
        N_("Syringe empty"),
        N_("The syringe ran out. Firing stopped."),
        N_("Load a full syringe and prime it, then clear the alarm."),
    ),
    AlarmCode.MOTOR_STALL: AlarmText(
        N_("Motor stalled"),
        N_("The depth or plunger motor did not reach its target. Firing stopped."),
        N_("Take the handpiece away from the patient, check the needle and syringe fit, then clear the alarm."),
    ),
    AlarmCode.COMMUNICATION_LOST: AlarmText(
        N_("Communication lost"),
        N_("The gun heard nothing from the service in time while armed: it disarmed itself."),
        N_("Check the cable or the link to the gun, then clear the alarm and arm again."),
    ),
    AlarmCode.BROWNOUT_RESET: AlarmText(
        N_("Gun restarted"),
        N_("The gun restarted after a power dip: its settings were lost."),
        N_("Check the power supply, set the depth, dose and rate again, prime, then clear the alarm."),
    ),
    AlarmCode.EMERGENCY_STOP: AlarmText(
        N_("Emergency stop"),
        N_("The emergency stop was pressed or sent. The gun is stopped and will not move."),
        N_("Make the patient safe first; then clear the alarm to release the stop."),
    ),
    AlarmCode.RESERVOIR_LOW: AlarmText(
        N_("Syringe low"),
        N_("Less than ten doses are left in the syringe."),
        N_("Prepare a new syringe."),
    ),
}
"""Cause and what to do per alarm code (``firmware_protocol.AlarmCode``'s meanings)."""

SYMBOLS: Final = {AlarmPriority.HIGH: "!!!", AlarmPriority.MEDIUM: "!!", AlarmPriority.LOW: "!"}
"""Each priority's symbol, so colour is never the only cue."""

PRIORITY_NAMES: Final = {
    AlarmPriority.HIGH: N_("High priority"),
    AlarmPriority.MEDIUM: N_("Medium priority"),
    AlarmPriority.LOW: N_("Low priority"),
}


@dataclass(frozen=True)
class BoardAlarm:
    """One active alarm as the tablets show it."""

    code: AlarmCode
    priority: AlarmPriority
    acknowledged: bool = False
    acknowledged_by: str | None = None
    order: int = 0
    """When it was raised, relative to the others (the oldest of a priority first)."""

    @property
    def name(self) -> str:
        """The code's JSON name (``occlusion``): the Acknowledge route's path segment."""
        return self.code.json_name

    @property
    def text(self) -> AlarmText:
        return TEXTS[self.code]

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.priority]

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES[self.priority]

    @property
    def level(self) -> str:
        """The CSS class of its priority (``high``, ``medium``, ``low``)."""
        return self.priority.json_name


class AlarmBoard:
    """The active alarms of one gun; each change returns whether the board changed (so the feed republishes)."""

    def __init__(self) -> None:
        self._active: dict[AlarmCode, BoardAlarm] = {}
        self._next = 0

    def raised(self, code: AlarmCode, priority: AlarmPriority) -> bool:
        """The device raised ``code`` (an alarm already up keeps its acknowledgement unless its priority rose)."""
        old = self._active.get(code)
        if old is not None and old.priority >= priority:
            return False
        self._next += 1
        self._active[code] = BoardAlarm(code, priority, order=old.order if old else self._next)
        return True

    def cleared(self, code: AlarmCode) -> bool:
        """The device cleared ``code``: it leaves the board."""
        return self._active.pop(code, None) is not None

    def sync(self, active: tuple[AlarmCode, ...]) -> bool:
        """The device's status lists ``active``: alarms it no longer lists leave, ones it lists that the board
        missed (events lost, a tablet started late) come in at their usual priority."""
        changed = False
        for code in [c for c in self._active if c not in active]:
            changed |= self.cleared(code)
        for code in active:
            if code not in self._active:
                # a status carries codes only: the contract's own priority of each
                changed |= self.raised(code, ALARM_PRIORITIES[code])
        return changed

    def acknowledge(self, code: AlarmCode, by: str) -> bool:
        """A user acknowledged ``code`` (it stops flashing, stays until cleared); False if it is not active."""
        alarm = self._active.get(code)
        if alarm is None:
            return False
        if not alarm.acknowledged:
            self._active[code] = replace(alarm, acknowledged=True, acknowledged_by=by)
        return True

    def alarms(self) -> tuple[BoardAlarm, ...]:
        """The active alarms, highest priority first, then oldest first."""
        return tuple(sorted(self._active.values(), key=lambda a: (-a.priority, a.order)))


def alarm_code(name: str) -> AlarmCode | None:
    """The code a path segment names (``occlusion``), or ``None``."""
    try:
        return AlarmCode[name.upper()]
    except KeyError:
        return None
