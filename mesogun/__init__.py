"""mesogun: host software for an electronic mesotherapy injector.

``async with mesogun.connect("sim://") as gun`` opens a gun (see :mod:`mesogun.session.gun`);
:mod:`mesogun.sync` is the blocking twin for scripts, notebooks and the CLI.
"""

from mesogun.errors import (
    CommandOutcome,
    ConnectionLost,
    DeviceAlarm,
    DeviceRefused,
    IncompatibleDevice,
    LinkError,
    LinkTimeout,
    MesogunError,
    NoSuchSession,
    ParameterError,
    PortNotFound,
    ProtocolViolation,
    RecordError,
    StateError,
)
from mesogun.models import (
    AlarmEvent,
    Diagnostics,
    Event,
    FiredShots,
    GunInfo,
    Limits,
    MissedEvents,
    Settings,
    ShotEvent,
    ShotRecord,
    Status,
    StatusEvent,
    Syringe,
    TriggerEvent,
)
from mesogun.record.recorder import NullRecorder, Recorder
from mesogun.session.controller import HostState
from mesogun.session.gun import EventStream, Gun, connect
from mesogun.session.timeouts import Timeouts
from mesogun.transports import Transport, register_scheme, transport_for_url
from mesogun.transports.discovery import PortInfo, find_by_serial, list_guns

__all__ = [
    "AlarmEvent",
    "CommandOutcome",
    "ConnectionLost",
    "DeviceAlarm",
    "DeviceRefused",
    "Diagnostics",
    "Event",
    "EventStream",
    "FiredShots",
    "Gun",
    "GunInfo",
    "HostState",
    "IncompatibleDevice",
    "Limits",
    "LinkError",
    "LinkTimeout",
    "MesogunError",
    "MissedEvents",
    "NoSuchSession",
    "NullRecorder",
    "ParameterError",
    "PortInfo",
    "PortNotFound",
    "ProtocolViolation",
    "RecordError",
    "Recorder",
    "Settings",
    "ShotEvent",
    "ShotRecord",
    "StateError",
    "Status",
    "StatusEvent",
    "Syringe",
    "Timeouts",
    "Transport",
    "TriggerEvent",
    "connect",
    "find_by_serial",
    "list_guns",
    "register_scheme",
    "transport_for_url",
]
