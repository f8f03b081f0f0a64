"""Non-volatile memory of the simulated gun: identity, lifetime counters, the device calibration, the shot and alarm
logs.

Kept in a JSON file written atomically (temp file in the same folder, then ``os.replace``), so a
killed simulator leaves either the old or the new content, never half a file. The device writes the
lifetime counter before it reports each shot, so a shot the host saw is never lost by a restart.
Without a path the memory lives only as long as the process (still surviving simulated brown-outs).

The shot log (:class:`ShotLogRing`, the last :data:`SHOT_LOG_CAPACITY` shots) sits beside that file in
``<nvm>.shots.jsonl``, one JSON line appended per shot (rewriting 10,000 entries on every shot would
not keep up with the firing rate); a line cut short by a killed simulator is ignored, and the file is
compacted to the ring's size when it has grown to twice that.

The alarm log (:class:`AlarmLog`, the last :data:`ALARM_LOG_CAPACITY` alarm changes, for ``diagnostics``)
survives brown-outs but, unlike a real device's, not a restart of the simulator process: it is not written to
the file.

The device calibration (:class:`StoredCalibration`: the constants a technician writes, factory = the identity,
id 0) and the next calibration id are part of the NVM file, written in the same atomic replace; a file written
before they existed loads as factory.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, astuple, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_protocol import AlarmCode, AlarmPriority, ShotSource
from firmware_protocol.catalog import DIAGNOSTICS_ALARMS_MAX
from firmware_protocol.rules import GAIN_PPM
from sims.errors import NvmError

if TYPE_CHECKING:
    from sims.config import DeviceConfig

NVM_FORMAT = 1

SHOT_LOG_CAPACITY = 10_000
"""Shots the reference device's log keeps (the oldest is overwritten by the next)."""
SHOT_LOG_SUFFIX = ".shots.jsonl"
"""The shot log's file: the NVM file's name with this appended."""
ALARM_LOG_CAPACITY = DIAGNOSTICS_ALARMS_MAX
"""Alarm changes the alarm log keeps (all of them fit one ``diagnostics`` reply)."""


def new_hardware_id() -> str:
    """A random 96-bit board id in hex (a real board reads its microcontroller's unique id)."""
    return secrets.token_hex(12)


def new_counter_epoch() -> int:
    """A random non-zero u32: the id of a lifetime counter's epoch, drawn anew whenever the counter is reset."""
    return secrets.randbelow(0xFFFF_FFFF) + 1


def serial_from_hardware_id(hardware_id: str) -> str:
    """The serial number a simulator reports when none is given: distinct per simulated board."""
    return "SIM-" + hardware_id[:8].upper()


@dataclass(frozen=True)
class StoredCalibration:
    """The device calibration: the device's model of itself, as a technician wrote it (wire units: ppm, µm, s).

    Factory (:data:`FACTORY_CALIBRATION`) is the identity with id 0. The device applies it: to deliver a dose D of
    a brand it pushes D / that brand's gain; to reach set depth S it drives the motor to (S − offset) / gain and
    believes it is at gain × motor + offset; to fire at rate R it runs its timer at R / rate gain.
    """

    calibration_id: int = 0
    volume_gains: tuple[tuple[str, int], ...] = ()
    """(brand, gain in ppm) per syringe brand; a brand not listed has gain 1.0."""
    depth_offset_um: int = 0
    depth_gain_ppm: int = GAIN_PPM
    rate_gain_ppm: int = GAIN_PPM
    calibrated_at: int = 0
    due_at: int = 0
    technician: str = ""
    certificate_id: str = ""

    def volume_gain(self, brand: str) -> float:
        """The device's volume gain for a syringe of ``brand`` (1.0 for a brand it has none for, or "")."""
        return dict(self.volume_gains).get(brand, GAIN_PPM) / GAIN_PPM if brand else 1.0

    @property
    def depth_gain(self) -> float:
        """True depth per µm of motor position, as the device believes it."""
        return self.depth_gain_ppm / GAIN_PPM

    @property
    def rate_gain(self) -> float:
        """True rate / the rate its timer runs at, as the device believes it."""
        return self.rate_gain_ppm / GAIN_PPM

    def motor_um(self, depth_um: float) -> float:
        """The motor position that reaches ``depth_um`` by the device's belief: (S − offset) / gain."""
        return (depth_um - self.depth_offset_um) / self.depth_gain

    def believed_depth_um(self, motor_um: float) -> float:
        """Where the device believes the needle is for a motor position: gain × motor + offset."""
        return self.depth_gain * motor_um + self.depth_offset_um

    def wire_fields(self) -> dict[str, Any]:
        """The fields of a ``calibration`` reply."""
        return {
            "calibration_id": self.calibration_id,
            "volume_gains": [{"brand": brand, "gain_ppm": ppm} for brand, ppm in self.volume_gains],
            "depth_offset_um": self.depth_offset_um,
            "depth_gain_ppm": self.depth_gain_ppm,
            "rate_gain_ppm": self.rate_gain_ppm,
            "calibrated_at": self.calibrated_at,
            "due_at": self.due_at,
            "technician": self.technician,
            "certificate_id": self.certificate_id,
        }


FACTORY_CALIBRATION = StoredCalibration()
"""A new board's calibration: the identity, id 0."""


@dataclass(frozen=True)
class NvmData:
    """What survives power loss."""

    serial_number: str
    hardware_revision: str
    shots_lifetime: int = 0
    boot_count: int = 0
    """Power-ons over the device's life, brown-outs included."""
    stall_count: int = 0
    """Plunger motor stalls over the device's life."""
    hardware_id: str = field(default_factory=new_hardware_id)
    """The board's unique id (identity.hardware_id): set once, at manufacture."""
    counter_epoch: int = field(default_factory=new_counter_epoch)
    """The lifetime counter's epoch id (identity.counter_epoch): a new one whenever the counter is reset."""
    calibration: StoredCalibration = FACTORY_CALIBRATION
    """The device calibration in force (``write_calibration``; factory: the identity, id 0)."""
    next_calibration_id: int = 1
    """The id the next ``write_calibration`` gets (monotonic: an id is never given twice)."""

    @classmethod
    def factory(cls, config: DeviceConfig) -> NvmData:
        """A new board's memory: a fresh hardware id and counter epoch, the configured serial (or one derived
        from the hardware id), revision and lifetime counter, the factory calibration."""
        hardware_id = new_hardware_id()
        return cls(
            serial_number=config.serial_number or serial_from_hardware_id(hardware_id),
            hardware_revision=config.hardware_revision,
            shots_lifetime=config.initial_lifetime,
            hardware_id=hardware_id,
        )


_ADDED_FIELDS: dict[str, Any] = {"boot_count": 0, "stall_count": 0, "next_calibration_id": 1}
"""Fields added after format 1 was first written, with the value a file written before them takes."""


@dataclass(frozen=True)
class LoggedAlarm:
    """One alarm change in the alarm log (the fields of a ``diagnostics`` alarm record)."""

    code: AlarmCode
    priority: AlarmPriority
    raised: bool
    boot: int
    """The boot count of the power-on it happened in (its ``device_time_ms`` is on that boot's clock)."""
    device_time_ms: int


class AlarmLog:
    """The last ``capacity`` alarm changes, oldest first."""

    def __init__(self, capacity: int = ALARM_LOG_CAPACITY) -> None:
        self._alarms: deque[LoggedAlarm] = deque(maxlen=capacity)

    def append(self, alarm: LoggedAlarm) -> None:
        """Log one change; the oldest goes when the log is full."""
        self._alarms.append(alarm)

    def __iter__(self) -> Iterator[LoggedAlarm]:
        return iter(self._alarms)

    def __len__(self) -> int:
        return len(self._alarms)


_WRAP = 1 << 32
"""The lifetime counter's modulus: shot indices are u32 and wrap to 0 after 2**32 - 1."""


@dataclass(frozen=True)
class LoggedShot:
    """One entry of the shot log: what the device believes it did (the fields of a ``shot_log`` entry)."""

    shot_index: int
    fire_seq: int
    depth_um: int
    dose_nl: int
    device_time_ms: int
    source: ShotSource = ShotSource.REMOTE
    partial: bool = False
    """The stroke was cut short by an alarm after the plunger started moving (a partial shot)."""
    delivered_nl: int = 0
    """Volume of the stroke as the device believes it (``dose_nl`` for a whole stroke)."""
    host_id: int = 0
    """The host id of the session open when it was fired (0: none)."""
    calibration_id: int = 0
    """The device calibration it was fired with (0: factory)."""


class ShotLogRing:
    """The last ``capacity`` shots, in shot index order; persisted to an append-only file when given one."""

    def __init__(self, capacity: int = SHOT_LOG_CAPACITY, path: Path | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"shot log capacity={capacity} must be at least 1 shot")
        self.capacity = capacity
        self.path = path
        self._shots: deque[LoggedShot] = deque(maxlen=capacity)
        self._lines = 0
        if path is not None and path.exists():
            self._load(path)

    def __len__(self) -> int:
        return len(self._shots)

    def __iter__(self) -> Iterator[LoggedShot]:
        return iter(self._shots)

    @property
    def oldest_index(self) -> int:
        """Index of the oldest shot held (0: empty)."""
        return self._shots[0].shot_index if self._shots else 0

    @property
    def newest_index(self) -> int:
        """Index of the newest shot held (0: empty)."""
        return self._shots[-1].shot_index if self._shots else 0

    def append(self, shot: LoggedShot) -> None:
        """Log one shot (persisted before returning); the oldest goes when the ring is full."""
        self._shots.append(shot)
        if self.path is None:
            return
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(_shot_line(shot))
        except OSError as exc:
            raise NvmError(f"cannot write the shot log {self.path}: {exc.strerror or exc}") from exc
        self._lines += 1
        if self._lines >= 2 * self.capacity:
            self._compact()

    def clear(self) -> None:
        """Forget every shot (a counter reset), in the file too."""
        self._shots.clear()
        if self.path is not None:
            _write_atomically(self.path, "")
        self._lines = 0

    def page(self, from_index: int, count: int) -> list[LoggedShot]:
        """Up to ``count`` shots from ``max(from_index, oldest_index)`` on (indices are consecutive, counted
        modulo 2**32 across the counter's wrap)."""
        if not self._shots:
            return []
        start = (from_index - self.oldest_index) % _WRAP
        if start >= len(self._shots) and not self.after_newest(from_index):  # before the window: its oldest shot
            start = 0
        return list(itertools.islice(self._shots, start, start + count))

    def after_newest(self, index: int) -> bool:
        """Whether ``index`` comes after the newest shot held (serial-number order modulo 2**32: the half of the
        counter's range that follows ``newest_index``); never for an empty log but for an index above 0."""
        if not self._shots:
            return index > 0
        return 0 < (index - self.newest_index) % _WRAP < _WRAP // 2

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise NvmError(f"cannot read the shot log {path}: {exc.strerror or exc}") from exc
        lines = text.split("\n")
        complete, cut = lines[:-1], lines[-1]  # a last line without its newline was cut short by a kill
        for number, line in enumerate(complete, start=1):
            try:
                values = json.loads(line)
                index, fire_seq, depth, dose, time_ms, source, partial, delivered, *later = (int(v) for v in values)
                host_id, calibration_id = (*later, 0, 0)[:2]  # a log written before host ids or calibration ids
                shot = LoggedShot(
                    index,
                    fire_seq,
                    depth,
                    dose,
                    time_ms,
                    ShotSource(source),
                    bool(partial),
                    delivered,
                    host_id,
                    calibration_id,
                )
            except (ValueError, TypeError, IndexError) as exc:
                raise NvmError(f"shot log {path} line {number} is damaged: {exc}") from exc
            self._shots.append(shot)
        self._lines = len(complete)
        if cut:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the file with the ring's shots only (atomically, like the NVM file)."""
        assert self.path is not None
        _write_atomically(self.path, "".join(_shot_line(shot) for shot in self._shots))
        self._lines = len(self._shots)


def _shot_line(shot: LoggedShot) -> str:
    return json.dumps([int(v) if isinstance(v, bool | ShotSource) else v for v in astuple(shot)]) + "\n"


def _write_atomically(path: Path, payload: str) -> None:
    """Write ``payload`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise NvmError(f"cannot write NVM file {path}: {exc.strerror or exc}") from exc


class Nvm:
    """The device's non-volatile memory, backed by an optional JSON file (and the shot log beside it)."""

    def __init__(
        self, path: Path | str | None, factory: NvmData, *, shot_log_capacity: int = SHOT_LOG_CAPACITY
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.writes = 0
        """How many times the file was written (for tests and benchmarks)."""
        if self.path is not None and self.path.exists():
            self.data, upgraded = _load(self.path)
            if upgraded:  # a file written before hardware_id and counter_epoch existed: give it both, once
                self._write()
        else:
            self.data = factory
            self._write()
        log_path = self.path.with_name(self.path.name + SHOT_LOG_SUFFIX) if self.path is not None else None
        self.shot_log = ShotLogRing(shot_log_capacity, log_path)
        """The last shots, kept like the rest of the NVM (a brown-out or a restart keeps them)."""
        self.alarm_log = AlarmLog()
        """The last alarm changes (a brown-out keeps them; a restart of the simulator does not)."""

    def reset_counter(self) -> None:
        """Service action: the lifetime counter back to 0 in a new counter epoch, the shot log emptied (its
        indices would repeat); the board's identity and calibration stay."""
        self.shot_log.clear()
        self.update(shots_lifetime=0, counter_epoch=new_counter_epoch())

    def update(self, **changes: Any) -> None:
        """Change fields and persist them before returning."""
        self.data = replace(self.data, **changes)
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        payload = json.dumps({"format": NVM_FORMAT, **asdict(self.data)}, indent=2) + "\n"
        _write_atomically(self.path, payload)
        self.writes += 1


_ADDED_LATER = frozenset({"hardware_id", "counter_epoch"})
"""Fields a file written by an older simulator may lack (drawn anew when it is loaded)."""


def _load(path: Path) -> tuple[NvmData, bool]:
    """The memory in ``path``, and whether fields added later had to be drawn for it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NvmError(f"cannot read NVM file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise NvmError(f"NVM file {path} is not valid JSON (line {exc.lineno}): {exc.msg}") from exc
    if not isinstance(raw, dict) or raw.get("format") != NVM_FORMAT:
        raise NvmError(f"NVM file {path} is not a format-{NVM_FORMAT} mesogun simulator memory")
    expected = {f.name: f.type for f in fields(NvmData)}
    raw = {**_ADDED_FIELDS, **raw}
    calibration = _load_calibration(path, raw.pop("calibration", None))
    missing = sorted(set(expected) - set(raw) - _ADDED_LATER - {"calibration"})
    if missing:
        raise NvmError(f"NVM file {path} lacks {', '.join(missing)}")
    values = {k: raw[k] for k in expected if k in raw}
    upgraded = not set(raw) >= _ADDED_LATER
    checks: dict[str, tuple[type, ...]] = {
        "serial_number": (str,),
        "hardware_revision": (str,),
        "shots_lifetime": (int,),
        "boot_count": (int,),
        "stall_count": (int,),
        "hardware_id": (str,),
        "counter_epoch": (int,),
        "next_calibration_id": (int,),
    }
    for key, types in checks.items():
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise NvmError(f"NVM file {path}: {key}={value!r} has the wrong type")
    for key in ("shots_lifetime", "boot_count", "stall_count"):
        if values[key] < 0:
            raise NvmError(f"NVM file {path}: {key}={values[key]} is negative")
    if not 0 < values.get("counter_epoch", 1) <= 0xFFFF_FFFF:
        raise NvmError(f"NVM file {path}: counter_epoch={values['counter_epoch']} is not a non-zero u32")
    values["next_calibration_id"] = max(values["next_calibration_id"], calibration.calibration_id + 1)
    return NvmData(**values, calibration=calibration), upgraded


_CALIBRATION_TYPES: dict[str, type] = {
    "calibration_id": int,
    "depth_offset_um": int,
    "depth_gain_ppm": int,
    "rate_gain_ppm": int,
    "calibrated_at": int,
    "due_at": int,
    "technician": str,
    "certificate_id": str,
}


def _load_calibration(path: Path, raw: object) -> StoredCalibration:
    """The device calibration an NVM file holds; factory when the file predates it (no ``calibration`` key)."""
    if raw is None:
        return FACTORY_CALIBRATION
    if not isinstance(raw, dict):
        raise NvmError(f"NVM file {path}: calibration={raw!r} is not an object")
    values: dict[str, Any] = {}
    for key, kind in _CALIBRATION_TYPES.items():
        value = raw.get(key, getattr(FACTORY_CALIBRATION, key))
        if isinstance(value, bool) or not isinstance(value, kind):
            raise NvmError(f"NVM file {path}: calibration.{key}={value!r} has the wrong type")
        values[key] = value
    gains = raw.get("volume_gains", [])
    try:
        pairs = tuple((str(brand), int(ppm)) for brand, ppm in gains)
    except (TypeError, ValueError) as exc:
        raise NvmError(f"NVM file {path}: calibration.volume_gains={gains!r} is not a list of [brand, ppm]") from exc
    return StoredCalibration(**values, volume_gains=pairs)
