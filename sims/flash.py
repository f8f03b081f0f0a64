"""The simulated gun's program flash: NOR sectors that are erased whole and programmed only where erased, and a
power cut that can interrupt any operation.

:class:`Flash` is a byte array (kept in memory, or written through to a file beside the NVM so an update survives
a restart of the simulator) with two operations, each counted: ``erase`` (one sector to 0xFF) and ``write``
(bytes into erased flash; writing over programmed bytes is refused, as NOR flash cannot set bits back). A planned
power cut (:meth:`Flash.plan_power_cut`) strikes during the Nth operation from now, leaving it torn (half the
sector erased, half the bytes written), or when the firmware enters a named phase (:meth:`Flash.phase`); either
way :class:`PowerCut` unwinds the firmware, and the device powers on again with the flash as the cut left it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sims.errors import NvmError

ERASED = 0xFF
"""The value of an erased byte."""

FLASH_SUFFIX = ".flash"
"""The flash image's file: the NVM file's name with this appended."""


class PowerCut(Exception):
    """The supply failed during a flash operation or at a phase: the firmware stops where it is."""

    def __init__(self, where: str) -> None:
        super().__init__(f"power cut {where}")
        self.where = where


@dataclass(frozen=True)
class PowerCutPlan:
    """When the next power cut strikes: during the ``at_operation``-th flash operation from when it was planned
    (1: the next one), or when the firmware enters phase ``at_phase``."""

    at_operation: int | None = None
    at_phase: str | None = None


class Flash:
    """``size`` bytes of NOR flash in sectors of ``sector_size`` bytes (``path``: written through to that file,
    loaded from it when it exists with the same size)."""

    def __init__(self, size: int, sector_size: int, path: Path | str | None = None) -> None:
        if sector_size <= 0 or size % sector_size:
            raise ValueError(f"flash size {size} B is not a whole number of {sector_size}-byte sectors")
        self.size = size
        self.sector_size = sector_size
        self.path = Path(path) if path is not None else None
        self.operations = 0
        """Erases and writes done since this object was made (a torn one included)."""
        self.phases: list[str] = []
        """Every phase the firmware entered, in order (for tests choosing where to cut)."""
        self._plans: list[PowerCutPlan] = []
        self._planned_at = 0
        self.fresh = True
        """Whether the flash was blank when it was made (no file yet): the factory programs it."""
        self._data = bytearray([ERASED]) * size
        if self.path is not None and self.path.exists():
            self._load(self.path)
        elif self.path is not None:
            self._persist(0, size)

    # ------------------------------------------------------------------ reads

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``."""
        self._check(offset, length)
        return bytes(self._data[offset : offset + length])

    def is_erased(self, offset: int, length: int) -> bool:
        """Whether every byte of the range reads 0xFF."""
        self._check(offset, length)
        return self._data[offset : offset + length].count(ERASED) == length

    # ------------------------------------------------------------------ operations

    def erase(self, offset: int) -> None:
        """Erase the sector starting at ``offset`` (one operation)."""
        if offset % self.sector_size:
            raise ValueError(f"erase at {offset:#x} is not on a sector boundary ({self.sector_size} B)")
        self._check(offset, self.sector_size)
        if self._cut_now():
            half = self.sector_size // 2
            self._data[offset : offset + half] = bytes([ERASED]) * half
            self._persist(offset, half)
            raise PowerCut(f"erasing the sector at {offset:#x}")
        self._data[offset : offset + self.sector_size] = bytes([ERASED]) * self.sector_size
        self._persist(offset, self.sector_size)

    def write(self, offset: int, data: bytes) -> None:
        """Program ``data`` at ``offset`` into erased flash (one operation)."""
        self._check(offset, len(data))
        if not self.is_erased(offset, len(data)):
            raise ValueError(f"write of {len(data)} B at {offset:#x} over programmed flash (erase it first)")
        if self._cut_now():
            half = len(data) // 2
            self._data[offset : offset + half] = data[:half]
            self._persist(offset, half)
            raise PowerCut(f"writing {len(data)} B at {offset:#x}")
        self._data[offset : offset + len(data)] = data
        self._persist(offset, len(data))

    # ------------------------------------------------------------------ power cuts

    def plan_power_cut(self, *, at_operation: int | None = None, at_phase: str | None = None) -> None:
        """Cut the power during the ``at_operation``-th operation from now, or on entering ``at_phase``. Plans
        queue: a second one counts its operations from when the first struck (a cut during the resumed swap)."""
        if at_operation is not None and at_operation < 1:
            raise ValueError(f"at_operation={at_operation} must be 1 or more (1: the next operation)")
        if not self._plans:
            self._planned_at = self.operations
        self._plans.append(PowerCutPlan(at_operation, at_phase))

    def cancel_power_cut(self) -> None:
        """Forget every planned power cut."""
        self._plans.clear()

    @property
    def power_cut_planned(self) -> bool:
        """Whether a planned power cut has not struck yet."""
        return bool(self._plans)

    def phase(self, name: str) -> None:
        """The firmware enters phase ``name``; the power cut planned for it strikes here."""
        self.phases.append(name)
        if self._plans and self._plans[0].at_phase == name:
            self._struck()
            raise PowerCut(f"at phase {name}")

    def _struck(self) -> None:
        self._plans.pop(0)
        self._planned_at = self.operations

    # ------------------------------------------------------------------ internals

    def _cut_now(self) -> bool:
        self.operations += 1
        at = self._plans[0].at_operation if self._plans else None
        if at is not None and self.operations - self._planned_at >= at:
            self._struck()
            return True
        return False

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"flash range {offset:#x}+{length} is outside the {self.size}-byte flash")

    def _load(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NvmError(f"cannot read the flash image {path}: {exc.strerror or exc}") from exc
        if len(data) != self.size:
            raise NvmError(
                f"flash image {path} is {len(data)} bytes, the device's flash {self.size} bytes (delete it to start "
                "from the factory image)"
            )
        self._data[:] = data
        self.fresh = False

    def _persist(self, offset: int, length: int) -> None:
        if self.path is None:
            return
        try:
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_bytes(bytes(self._data))
                return
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, bytes(self._data[offset : offset + length]), offset)
            finally:
                os.close(fd)
        except OSError as exc:
            raise NvmError(f"cannot write the flash image {self.path}: {exc.strerror or exc}") from exc
