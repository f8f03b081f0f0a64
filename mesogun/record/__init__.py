"""The treatment record: the ``Recorder`` seam the Gun talks to, and the SQLite store behind it."""

from mesogun.record.recorder import Direction, NullRecorder, Recorder
from mesogun.record.store import SessionRecorder, SessionSummary, ShotRow, TreatmentRecord, default_path

__all__ = [
    "Direction",
    "NullRecorder",
    "Recorder",
    "SessionRecorder",
    "SessionSummary",
    "ShotRow",
    "TreatmentRecord",
    "default_path",
]
