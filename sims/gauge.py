"""A simulated digital dial indicator with a serial output, reading where a simulated gun's needle tip truly is.

Its line protocol (ASCII, one request per line, CR LF; 9600 8N1 on a serial line):

- ``?`` → the reading, ``+01.234 mm`` (signed, mm, as many decimals as the resolution has);
- ``ID?`` → ``ID <model>,<serial>,<firmware>,<resolution mm>,<range mm>``;
- an unknown request → ``ERR 1 unknown command``; a reading outside 0…range → ``ERR 2 out of range``.

The indicator is zeroed on the handpiece's skin-contact face, so it reads the depth the needle tip truly reaches:
:meth:`~sims.device.SimulatedGun.true_needle_depth_um` (the hidden truth), plus its own zero error
(``offset_um``) and Gaussian noise (``noise_um``, seeded), rounded to ``resolution_um``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl

from sims.balance import decimals_of
from sims.errors import SimConfigError
from sims.instruments import LineConnection
from sims.options import OptionSpec, convert

if TYPE_CHECKING:
    pass


class DepthSource(Protocol):
    """What the gauge reads: the needle tip's true depth below the contact face, in µm."""

    def true_needle_depth_um(self) -> float: ...


@dataclass(frozen=True)
class GaugeConfig:
    """One simulated dial indicator: 12.7 mm range, 1 µm resolution."""

    model: str = "SIM-DI-127"
    serial_number: str = "G0000001"
    firmware: str = "1.0"
    resolution_um: float = 1.0
    range_mm: float = 12.7
    noise_um: float = 0.5
    offset_um: float = 0.0
    seed: int | None = None
    gun: str | None = None


GAUGE_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("model", "str", "model the gauge reports (ID?)", default="SIM-DI-127"),
    OptionSpec("serial_number", "str", "serial number the gauge reports (ID?)", default="G0000001"),
    OptionSpec("firmware", "str", "firmware version the gauge reports (ID?)", default="1.0"),
    OptionSpec("resolution_um", "float", "the display's step", "µm", 0.01, 1000, 1.0),
    OptionSpec("range_mm", "float", "measuring range from 0", "mm", 0.1, 1000, 12.7),
    OptionSpec("noise_um", "float", "standard deviation of a reading's noise (Gaussian)", "µm", 0, 1000, 0.5),
    OptionSpec("offset_um", "float", "the gauge's own zero error", "µm", -1000, 1000, 0.0),
    OptionSpec("seed", "int", "seed of the noise (same seed, same readings); default: random", "", 0, 2**63 - 1),
    OptionSpec("gun", "str", "serial number of the in-process simulated gun it measures (sim-gauge:// only)"),
)
"""Every simulated gauge option (``python -m sims gauge --help``, ``sim-gauge://?name=value``)."""

_BY_NAME = {spec.name: spec for spec in GAUGE_OPTIONS}


def parse_gauge_options(values: Mapping[str, Sequence[str]]) -> GaugeConfig:
    """A checked :class:`GaugeConfig`; :class:`SimConfigError` names a bad option."""
    checked: dict[str, object] = {}
    for raw_name, raws in values.items():
        name = "serial_number" if raw_name == "serial" else raw_name.replace("-", "_")
        spec = _BY_NAME.get(name)
        if spec is None:
            known = ", ".join(s.name for s in GAUGE_OPTIONS)
            raise SimConfigError(raw_name, ",".join(raws), f"one of {known}", reason="is not a gauge option")
        if len(raws) != 1:
            raise SimConfigError(name, ",".join(raws), "one value", reason="is given more than once")
        checked[name] = convert(spec, raws[0])
    assert set(checked) <= {f.name for f in fields(GaugeConfig)}
    return GaugeConfig(**checked)  # type: ignore[arg-type]  # each value checked against its spec's kind


class SimulatedGauge:
    """One simulated dial indicator over a :class:`DepthSource`; bytes in through :meth:`receive`."""

    def __init__(self, config: GaugeConfig | None = None, source: DepthSource | None = None) -> None:
        self.config = config or GaugeConfig()
        self.source = source
        """What the spindle rests on (``None``: nothing; the gauge reads 0)."""
        self._rng = random.Random(self.config.seed)
        self._decimals = decimals_of(self.config.resolution_um / 1000.0)
        self._send: Callable[[bytes], None] | None = None
        self._buffer = bytearray()

    def attach(self, send: Callable[[bytes], None]) -> None:
        self._send = send

    def detach(self) -> None:
        self._send = None

    def connect(self) -> LineConnection:
        """A new in-process host connection."""
        return LineConnection(self)

    def reading_mm(self) -> float:
        """What the display shows now, in mm."""
        cfg = self.config
        true_um = self.source.true_needle_depth_um() if self.source is not None else 0.0
        noise = self._rng.gauss(0.0, cfg.noise_um) if cfg.noise_um > 0 else 0.0
        step = cfg.resolution_um
        return round((true_um + cfg.offset_um + noise) / step) * step / 1000.0

    def receive(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end]).strip().decode("ascii", errors="replace")
            del self._buffer[: end + 1]
            if line:
                self._reply(self._answer(line))
        if len(self._buffer) > 64:
            self._buffer.clear()

    def _answer(self, line: str) -> str:
        cfg = self.config
        if line == "ID?":
            resolution = f"{cfg.resolution_um / 1000.0:.{self._decimals}f}"
            return f"ID {cfg.model},{cfg.serial_number},{cfg.firmware},{resolution},{cfg.range_mm:g}"
        if line != "?":
            return "ERR 1 unknown command"
        mm = self.reading_mm()
        if not 0.0 <= mm <= cfg.range_mm:
            return "ERR 2 out of range"
        width = 4 + self._decimals if self._decimals else 3
        return f"{mm:+0{width}.{self._decimals}f} mm"

    def _reply(self, line: str) -> None:
        if self._send is not None:
            self._send(line.encode("ascii") + b"\r\n")


@dataclass
class InProcessGauge:
    """A started simulated gauge and its one in-process connection (what ``sim-gauge://`` opens)."""

    gauge: SimulatedGauge
    connection: LineConnection

    def unplug(self) -> None:
        self.connection.unplug()

    def close(self) -> None:
        self.connection.close()
        self.gauge.detach()


def start_inprocess_gauge(query: str = "", *, source: DepthSource | None = None) -> InProcessGauge:
    """A simulated gauge from a ``sim-gauge://`` query, on ``source`` if given, else on the live in-process gun the
    query's ``gun=SERIAL`` names. :class:`SimConfigError` for bad options or a gun that does not run here."""
    from sims.registry import named_gun

    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        values.setdefault(key, []).append(value)
    config = parse_gauge_options(values)
    if source is None and config.gun is not None:
        source = named_gun(config.gun)
    gauge = SimulatedGauge(config, source)
    return InProcessGauge(gauge, gauge.connect())
