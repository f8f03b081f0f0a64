"""Enumerations shared by the host and the simulated device; on the wire each is one unsigned byte.

JSON and the command line use the lowercase member names (``DeviceState.ARMED`` is ``"armed"``).
Values are part of the protocol contract: never renumber, only append.
"""

from __future__ import annotations

import enum


class WireEnum(enum.IntEnum):
    """An IntEnum with the lowercase JSON name used across tools and docs."""

    @property
    def json_name(self) -> str:
        """The lowercase name used in JSON and on the command line."""
        return self.name.lower()

    @classmethod
    def from_json_name(cls, name: str) -> WireEnum:
        """Look a member up by its lowercase JSON name; ``KeyError`` if there is none."""
        return cls[name.upper()]


class DeviceState(WireEnum):
    """The device's own state, as reported in ``status``."""

    IDLE = 0
    """Powered, no syringe loaded or not primed: parameters may be set, nothing may fire."""
    READY = 1
    """Syringe loaded and primed: may be armed."""
    ARMED = 2
    """Armed: accepts ``fire``; the communication watchdog is running."""
    FIRING = 3
    """Delivering shots; the communication watchdog is running."""
    ALARM = 4
    """A fault stopped the device; ``clear_alarm`` once the cause is removed."""
    EMERGENCY_STOP = 5
    """Emergency stop latched; needs ``clear_alarm`` before anything else moves."""
    PRIMING = 6
    """Pushing the priming volume through the line."""


class Mode(WireEnum):
    """Firing mode set with ``set_parameters``."""

    SINGLE = 0
    """One shot per ``fire``, whatever its count."""
    BURST = 1
    """``count`` shots at the set rate."""
    CONTINUOUS = 2
    """Shots at the set rate until ``stop`` (or ``count`` shots when count > 0)."""
    NAPPAGE = 3
    """A fast superficial series; presets keep the depth at or under 2 mm (a soft limit)."""


class AlarmPriority(WireEnum):
    """Alarm priority, after IEC 60601-1-8."""

    LOW = 0
    """Operator awareness is required (e.g. the syringe is running low)."""
    MEDIUM = 1
    """Prompt operator response is required (e.g. the device rebooted after a supply dip)."""
    HIGH = 2
    """Immediate operator response is required (e.g. occlusion, empty syringe, lost communication)."""


class AlarmCode(WireEnum):
    """Stable alarm codes; the priority travels with each ``alarm`` event."""

    OCCLUSION = 1
    """Line pressure too high: a blocked needle or line. Firing stopped."""
    RESERVOIR_EMPTY = 2
    """The syringe ran out. Firing stopped."""
    MOTOR_STALL = 3
    """The depth or plunger motor did not reach its target. Firing stopped."""
    COMMUNICATION_LOST = 4
    """No valid frame from the host within the watchdog period while armed or firing."""
    BROWNOUT_RESET = 5
    """The device rebooted after a supply dip: RAM state was lost, non-volatile data kept."""
    EMERGENCY_STOP = 6
    """The emergency stop was pressed or commanded."""
    RESERVOIR_LOW = 7
    """Less than ten doses left in the syringe (informational, low priority)."""


class NakCode(WireEnum):
    """Why the device refused a command (the ``code`` of a ``nak``)."""

    UNKNOWN_TYPE = 1
    """The device does not know this message type."""
    BAD_PAYLOAD = 2
    """The payload does not parse as this message type."""
    OUT_OF_RANGE = 3
    """A value is outside the device's hard limits (see ``identity``)."""
    WRONG_STATE = 4
    """The command is not allowed in the device's current state."""
    BUSY = 5
    """The device is priming, or its depth motor is still moving to a new depth: retry when it has finished."""
    INCOMPATIBLE_VERSION = 6
    """The host's protocol version or catalog fingerprint differs from the device's."""
    NO_SYRINGE = 7
    """The command needs a loaded syringe."""
    NOT_PRIMED = 8
    """The line must be primed before arming."""
    ALARM_ACTIVE = 9
    """An alarm or emergency stop is latched; ``clear_alarm`` first."""
    INSUFFICIENT_VOLUME = 10
    """The reservoir holds less than the command needs."""
    REMOTE_FIRE_DISABLED = 11
    """This device is configured to fire from its trigger and pedal only (``identity.remote_fire`` = 0): it
    refuses ``fire``."""


class ShotSource(WireEnum):
    """What fired a shot (``shot`` events, ``shot_log`` entries) or which switch a ``trigger`` event is about."""

    TRIGGER = 1
    """The trigger on the handpiece."""
    PEDAL = 2
    """The foot pedal."""
    REMOTE = 3
    """A host's ``fire`` command (remote fire)."""
