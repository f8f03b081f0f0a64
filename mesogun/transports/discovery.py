"""Discovery: list serial ports that may be guns (pyserial's ``list_ports``), and find one by serial number."""

from __future__ import annotations

from dataclasses import dataclass

from serial.tools import list_ports

from mesogun.errors import ParameterError


@dataclass(frozen=True)
class PortInfo:
    """One serial port as the operating system describes it."""

    device: str
    """The path or name to open (``/dev/ttyACM0``, ``COM3``)."""
    vid_pid: str | None
    """USB vendor and product id as ``"VVVV:PPPP"`` (hex), ``None`` for a non-USB port."""
    serial_number: str | None
    """The USB serial number (a gun reports the same one in ``identity``)."""
    description: str
    """The port's description (product name)."""


def _parse_vid_pid(vid_pid: str) -> tuple[int, int]:
    try:
        vid_text, pid_text = vid_pid.split(":")
        vid, pid = int(vid_text, 16), int(pid_text, 16)
    except ValueError:
        raise ParameterError(
            f"vid_pid={vid_pid!r} must be two hex numbers as VVVV:PPPP, e.g. 1209:0001", field="vid_pid", value=vid_pid
        ) from None
    if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
        raise ParameterError(f"vid_pid={vid_pid!r}: each part must be 0000..FFFF", field="vid_pid", value=vid_pid)
    return vid, pid


def list_guns(vid_pid: str | None = None) -> list[PortInfo]:
    """Serial ports that may be guns, sorted by device; only those matching ``vid_pid`` ("VVVV:PPPP") if given."""
    wanted = _parse_vid_pid(vid_pid) if vid_pid is not None else None
    found: list[PortInfo] = []
    for port in list_ports.comports():
        vid, pid = port.vid, port.pid
        if wanted is not None and (vid, pid) != wanted:
            continue
        found.append(
            PortInfo(
                device=port.device,
                vid_pid=f"{vid:04X}:{pid:04X}" if vid is not None and pid is not None else None,
                serial_number=port.serial_number,
                description=port.description or "",
            )
        )
    return sorted(found, key=lambda p: p.device)


def find_by_serial(serial_number: str, vid_pid: str | None = None) -> PortInfo | None:
    """The port whose USB serial number is ``serial_number`` (a replugged gun may get a new path), or ``None``."""
    for port in list_guns(vid_pid):
        if port.serial_number == serial_number:
            return port
    return None
