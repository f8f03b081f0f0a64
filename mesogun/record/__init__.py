"""The treatment record: the ``Recorder`` seam the Gun talks to, the SQLite store, and the writer thread."""

from mesogun.record.recorder import Direction, FailureHandler, NullRecorder, Recorder
from mesogun.record.session_recorder import SessionRecorder
from mesogun.record.store import (
    BETWEEN_SESSIONS,
    MAX_PLAUSIBLE_UNRECEIVED,
    AlarmRow,
    SessionSummary,
    ShotRow,
    TreatmentRecord,
    default_path,
    is_keepalive,
)
from mesogun.record.writer import RECORD_WRITE_TIMEOUT, RecordWriter

__all__ = [
    "BETWEEN_SESSIONS",
    "MAX_PLAUSIBLE_UNRECEIVED",
    "RECORD_WRITE_TIMEOUT",
    "AlarmRow",
    "Direction",
    "FailureHandler",
    "NullRecorder",
    "RecordWriter",
    "Recorder",
    "SessionRecorder",
    "SessionSummary",
    "ShotRow",
    "TreatmentRecord",
    "default_path",
    "is_keepalive",
]
