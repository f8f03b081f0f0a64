"""Non-volatile memory of the simulated gun: identity, lifetime shot counter and calibration.

Kept in a JSON file written atomically (temp file in the same folder, then ``os.replace``), so a
killed simulator leaves either the old or the new content, never half a file. The device writes the
lifetime counter before it reports each shot, so a shot the host saw is never lost by a restart.
Without a path the memory lives only as long as the process (still surviving simulated brown-outs).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from sims.errors import NvmError

NVM_FORMAT = 1


@dataclass(frozen=True)
class NvmData:
    """What survives power loss."""

    serial_number: str
    hardware_revision: str
    shots_lifetime: int = 0
    volume_gain: float = 1.03
    depth_offset_um: int = 80


class Nvm:
    """The device's non-volatile memory, backed by an optional JSON file."""

    def __init__(self, path: Path | str | None, factory: NvmData) -> None:
        self.path = Path(path) if path is not None else None
        self.writes = 0
        """How many times the file was written (for tests and benchmarks)."""
        if self.path is not None and self.path.exists():
            self.data = _load(self.path)
        else:
            self.data = factory
            self._write()

    def update(self, **changes: Any) -> None:
        """Change fields and persist them before returning."""
        self.data = replace(self.data, **changes)
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        payload = json.dumps({"format": NVM_FORMAT, **asdict(self.data)}, indent=2) + "\n"
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(payload)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise NvmError(f"cannot write NVM file {self.path}: {exc.strerror or exc}") from exc
        self.writes += 1


def _load(path: Path) -> NvmData:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NvmError(f"cannot read NVM file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise NvmError(f"NVM file {path} is not valid JSON (line {exc.lineno}): {exc.msg}") from exc
    if not isinstance(raw, dict) or raw.get("format") != NVM_FORMAT:
        raise NvmError(f"NVM file {path} is not a format-{NVM_FORMAT} mesogun simulator memory")
    expected = {f.name: f.type for f in fields(NvmData)}
    missing = sorted(set(expected) - set(raw))
    if missing:
        raise NvmError(f"NVM file {path} lacks {', '.join(missing)}")
    values = {k: raw[k] for k in expected}
    checks: dict[str, tuple[type, ...]] = {
        "serial_number": (str,),
        "hardware_revision": (str,),
        "shots_lifetime": (int,),
        "volume_gain": (int, float),
        "depth_offset_um": (int,),
    }
    for key, types in checks.items():
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise NvmError(f"NVM file {path}: {key}={value!r} has the wrong type")
    if values["shots_lifetime"] < 0:
        raise NvmError(f"NVM file {path}: shots_lifetime={values['shots_lifetime']} is negative")
    values["volume_gain"] = float(values["volume_gain"])
    return NvmData(**values)
