"""A simulated laboratory balance speaking MT-SICS (level 0/1 subset), weighing a :class:`~sims.vessel.Vessel`.

The model (every number an option of :data:`BALANCE_OPTIONS`, the same names as ``sim-balance://`` query keys):

- the pan holds the vessel (``container_g``) from power-on, when the balance zeroes on it (initial zero), plus
  ``load_g`` placed after (a check weight; negative: the pan lifted);
- the liquid's mass is shown as a balance calibrated with 8.0 g/cm³ steel weights shows water in air: times
  (1 − ρ_air/ρ_water) / (1 − ρ_air/8.0), the air's density from ``temperature_c``, ``pressure_hpa`` and
  ``humidity_pct`` (OIML R 111-1, E.3), so that a reading × the ISO 8655-6 Z factor is the true volume;
- after a load change the reading approaches the new load exponentially and is stable ``settle_s`` later, if the
  noise (``noise_mg``, Gaussian, seeded) is within the stability band (``stability_mg``); else never;
- ``drift_mg_min`` drifts the reading from power-on (a zero takes it out); readings are rounded to
  ``readability_mg``; over ``capacity_g`` is overload, more than 1 % of the capacity below the initial zero
  underload; Z works within ±2 % of the capacity around the initial zero.

Commands, one per line (CR LF): ``S`` (waits up to ``stability_wait_s`` for stability, then ``S I``; with
``unstable_reply=D`` it answers ``S D <value> g`` at once while unstable), ``SI``, ``Z``, ``T``, ``I2``,
``I3``, ``I4``, ``@`` (cancels pending commands, clears the tare, answers ``I4 A``). An unknown command is
``ES``, a known one with parameters ``EL``, a line with non-ASCII or control bytes or over 64 characters ``ET``.
Commands queue behind a waiting ``S``/``Z``/``T``, as on a real balance; ``@`` overtakes them.

Timers only, on the event loop's clock: it runs in virtual time under looptime, like the gun.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from sims.errors import SimConfigError
from sims.instruments import LineConnection
from sims.options import OptionSpec, convert
from sims.vessel import Vessel, water_density_mg_ul

if TYPE_CHECKING:
    from sims.device import SimulatedGun

REFERENCE_DENSITY_G_ML = 8.0
"""Density of the balance's adjustment weights (OIML R 111 conventional mass)."""
MAX_LINE = 64
"""Longest command line the balance accepts; longer is a transmission error (``ET``)."""
ZERO_RANGE = 0.02
"""Z works within ± this fraction of the capacity around the initial zero."""
UNDERLOAD = 0.01
"""Below the initial zero by more than this fraction of the capacity: underload (the pan lifted)."""


@dataclass(frozen=True)
class BalanceConfig:
    """One simulated balance; defaults are a 5-place semi-micro balance (0.01 mg, 220 g)."""

    model: str = "XPR205"
    serial_number: str = "B900000001"
    firmware: str = "2.40.1"
    capacity_g: float = 220.0
    readability_mg: float = 0.01
    noise_mg: float = 0.01
    drift_mg_min: float = 0.0
    settle_s: float = 2.0
    stability_mg: float = 0.05
    stability_wait_s: float = 5.0
    unstable_reply: str = "I"
    container_g: float = 10.0
    load_g: float = 0.0
    evaporation_mg_s: float = 0.001
    temperature_c: float = 20.0
    pressure_hpa: float = 1013.25
    humidity_pct: float = 50.0
    seed: int | None = None
    gun: str | None = None
    """Serial number of the in-process simulated gun whose needle is over the vessel (``None``: none)."""

    @property
    def readability_g(self) -> float:
        return self.readability_mg / 1000.0


BALANCE_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("model", "str", "model the balance reports (I2)", default="XPR205"),
    OptionSpec("serial_number", "str", "serial number the balance reports (I4, @)", default="B900000001"),
    OptionSpec("firmware", "str", "software version the balance reports (I3)", default="2.40.1"),
    OptionSpec("capacity_g", "float", "maximum load; above it: overload (S +)", "g", 0.001, 100_000, 220.0),
    OptionSpec("readability_mg", "float", "the display's step", "mg", 0.0001, 10_000, 0.01),
    OptionSpec("noise_mg", "float", "standard deviation of a reading's noise (Gaussian)", "mg", 0, 10_000, 0.01),
    OptionSpec("drift_mg_min", "float", "drift from power-on (a zero takes it out)", "mg/min", -1000, 1000, 0.0),
    OptionSpec("settle_s", "float", "time from a load change to a stable reading", "s", 0, 86_400, 2.0),
    OptionSpec("stability_mg", "float", "stability band: noisier than this never settles", "mg", 0, 10_000, 0.05),
    OptionSpec("stability_wait_s", "float", "how long S, Z and T wait for stability before '… I'", "s", 0, 3600, 5.0),
    OptionSpec("unstable_reply", "str", "S while unstable: I (wait, then S I) or D (S D <value> at once)", default="I"),
    OptionSpec("container_g", "float", "the vessel's own mass (on the pan from power-on)", "g", 0, 100_000, 10.0),
    OptionSpec("load_g", "float", "load placed after power-on (negative: the pan lifted)", "g", -100_000, 100_000, 0.0),
    OptionSpec("evaporation_mg_s", "float", "evaporation from the vessel while it holds liquid", "mg/s", 0, 100, 0.001),
    OptionSpec("temperature_c", "float", "water and air temperature", "°C", 0, 40, 20.0),
    OptionSpec("pressure_hpa", "float", "air pressure (buoyancy)", "hPa", 500, 1100, 1013.25),
    OptionSpec("humidity_pct", "float", "relative humidity (buoyancy)", "%", 0, 100, 50.0),
    OptionSpec("seed", "int", "seed of the noise (same seed, same readings); default: random", "", 0, 2**63 - 1),
    OptionSpec("gun", "str", "serial number of the in-process simulated gun over the vessel (sim-balance:// only)"),
)
"""Every simulated balance option (``python -m sims balance --help``, ``sim-balance://?name=value``)."""

_BY_NAME = {spec.name: spec for spec in BALANCE_OPTIONS}


def parse_balance_options(values: Mapping[str, Sequence[str]]) -> BalanceConfig:
    """A checked :class:`BalanceConfig` from ``{name: [raw values]}``; :class:`SimConfigError` names a bad one."""
    checked: dict[str, object] = {}
    for raw_name, raws in values.items():
        name = raw_name.replace("-", "_")
        if name == "serial":
            name = "serial_number"
        spec = _BY_NAME.get(name)
        if spec is None:
            known = ", ".join(s.name for s in BALANCE_OPTIONS)
            raise SimConfigError(raw_name, ",".join(raws), f"one of {known}", reason="is not a balance option")
        if len(raws) != 1:
            raise SimConfigError(name, ",".join(raws), "one value", reason="is given more than once")
        value = convert(spec, raws[0])
        if name == "unstable_reply" and value not in ("I", "D"):
            raise SimConfigError(name, raws[0], "I or D", reason="is not a reply")
        checked[name] = value
    assert set(checked) <= {f.name for f in fields(BalanceConfig)}
    return BalanceConfig(**checked)  # type: ignore[arg-type]  # each value checked against its spec's kind


def parse_balance_query(query: str) -> BalanceConfig:
    """Options from a ``sim-balance://?…`` query string."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return parse_balance_options(values)


def air_density_g_ml(temperature_c: float, pressure_hpa: float, humidity_pct: float) -> float:
    """Moist air's density in g/mL (OIML R 111-1 (2004), E.3): 0.0011993 at 20 °C, 1013.25 hPa, 50 %."""
    t = temperature_c
    kg_m3 = (0.348444 * pressure_hpa - humidity_pct * (0.00252 * t - 0.020582)) / (273.15 + t)
    return kg_m3 / 1000.0


def decimals_of(step: float) -> int:
    """How many decimals a value on a grid of ``step`` shows (0.00001 → 5)."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(-int(exponent), 0)


@dataclass
class _Waiting:
    """A command waiting for stability (S, Z, T): when it started and its re-check timer."""

    command: str
    started: float
    timer: asyncio.TimerHandle | None = None


class SimulatedBalance:
    """One simulated balance: feed it host bytes with :meth:`receive`; it answers through the attached ``send``."""

    def __init__(self, config: BalanceConfig | None = None, *, vessel: Vessel | None = None) -> None:
        self.config = cfg = config or BalanceConfig()
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self.vessel = vessel or Vessel(
            self._loop.time,
            container_g=cfg.container_g,
            temperature_c=cfg.temperature_c,
            evaporation_mg_s=cfg.evaporation_mg_s,
        )
        self.vessel.listeners.append(self._load_changed)
        rho_air = air_density_g_ml(cfg.temperature_c, cfg.pressure_hpa, cfg.humidity_pct)
        rho_water = water_density_mg_ul(cfg.temperature_c)
        self.buoyancy = (1 - rho_air / rho_water) / (1 - rho_air / REFERENCE_DENSITY_G_ML)
        """What the display shows of a true mass of water (just under 1: the air holds the water up)."""
        self._rng = random.Random(cfg.seed)
        self._decimals = decimals_of(cfg.readability_g)
        self._powered_at = now
        self._extra_g = 0.0
        self._initial_zero_g = self._gross_g(now)
        self._zero_g = self._initial_zero_g
        self._tare_g = 0.0
        self._extra_g = cfg.load_g  # placed after power-on, settled from the start
        self._changed_at = -math.inf
        self._target_g = self._changed_from_g = self._gross_g(now)
        self._send: Callable[[bytes], None] | None = None
        self._buffer = bytearray()
        self._queue: deque[str] = deque()
        self._waiting: _Waiting | None = None
        self.received: list[str] = []
        """Every command line received, in order (for tests)."""
        self._detach_gun: Callable[[], None] | None = None
        self._fail_next: str | None = None

    # ------------------------------------------------------------------ the world around it

    def place_under(self, gun: SimulatedGun) -> None:
        """Put the vessel under ``gun``'s needle (what it truly delivers lands in the vessel)."""
        self.remove_from_gun()
        self._detach_gun = self.vessel.place_under(gun)

    def remove_from_gun(self) -> None:
        """Take the vessel away from the gun it was under, if any."""
        if self._detach_gun is not None:
            self._detach_gun()
            self._detach_gun = None

    def place(self, grams: float) -> None:
        """Put ``grams`` on the pan (a check weight; negative takes load off, e.g. the pan lifted)."""
        self._extra_g += grams
        self._load_changed()

    def fail_next(self, reply: str) -> None:
        """Answer the next command with ``reply`` instead (``ET``: line noise garbled it; ``EL``: a setting locks it;
        ``ES``): a test's fault injection."""
        self._fail_next = reply

    def true_reading_g(self) -> float:
        """What a perfect display would show now (no noise, settled, not rounded): for tests."""
        return self._target_now() - self._zero_g - self._tare_g

    # ------------------------------------------------------------------ the line

    def attach(self, send: Callable[[bytes], None]) -> None:
        """Replies go to ``send``."""
        self._send = send

    def detach(self) -> None:
        """Nobody listens: replies are lost."""
        self._send = None

    def receive(self, data: bytes) -> None:
        """Bytes from the host: complete lines (CR LF, or LF) are commands."""
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    self._buffer.clear()
                    self._reply("ET")
                return
            raw = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            self._line(raw)

    def connect(self) -> LineConnection:
        """A new in-process host connection (the previous one's replies stop)."""
        return LineConnection(self)

    def close(self) -> None:
        """Power off: cancel the waiting command's timer, take the vessel from the gun, detach."""
        if self._waiting is not None and self._waiting.timer is not None:
            self._waiting.timer.cancel()
        self._waiting = None
        self._queue.clear()
        self.remove_from_gun()
        self.detach()

    # ------------------------------------------------------------------ commands

    def _line(self, raw: bytes) -> None:
        if len(raw) > MAX_LINE or any(b < 0x20 or b > 0x7E for b in raw):
            self._reply("ET")
            return
        line = raw.decode("ascii").strip()
        if not line:
            return
        self.received.append(line)
        if line.split()[0] == "@":
            self._reset(line)
            return
        self._queue.append(line)
        self._next()

    def _next(self) -> None:
        while self._waiting is None and self._queue:
            self._execute(self._queue.popleft())

    def _execute(self, line: str) -> None:
        command, *params = line.split()
        if self._fail_next is not None:
            reply, self._fail_next = self._fail_next, None
            self._reply(reply)
            return
        handler = {
            "S": self._weigh,
            "SI": self._weigh_now,
            "Z": self._weigh,
            "T": self._weigh,
            "I2": self._identity,
            "I3": self._identity,
            "I4": self._identity,
        }.get(command)
        if handler is None:
            self._reply("ES")
        elif params:
            self._reply("EL")
        else:
            handler(command)

    def _reset(self, line: str) -> None:
        if line != "@":
            self._reply("EL")
            return
        if self._waiting is not None and self._waiting.timer is not None:
            self._waiting.timer.cancel()
        self._waiting = None
        self._queue.clear()
        self._tare_g = 0.0
        self._reply(f'I4 A "{self.config.serial_number}"')

    def _identity(self, command: str) -> None:
        cfg = self.config
        text = {
            "I2": f"{cfg.model} Excellence {cfg.capacity_g:.{self._decimals}f} g",
            "I3": cfg.firmware,
            "I4": cfg.serial_number,
        }[command]
        self._reply(f'{command} A "{text}"')

    def _weigh_now(self, command: str) -> None:
        now = self._loop.time()
        limit = self._limit(now)
        if limit:
            self._reply(f"S {limit}")
            return
        status = "S" if self._stable(now) else "D"
        self._reply(f"S {status} {self._format(self._display_g(now))} g")

    def _weigh(self, command: str) -> None:
        """S, Z or T: at once if stable (or over/underloaded), else wait for stability up to the wait limit."""
        self._waiting = _Waiting(command, self._loop.time())
        self._check()

    def _check(self) -> None:
        waiting = self._waiting
        assert waiting is not None
        waiting.timer = None
        now = self._loop.time()
        command = waiting.command
        answer = self._refusal(command, now)
        if answer is None and self._stable(now):
            answer = self._done(command, now)
        elif answer is None and command == "S" and self.config.unstable_reply == "D":
            answer = f"S D {self._format(self._display_g(now))} g"
        elif answer is None and now >= waiting.started + self.config.stability_wait_s:
            answer = f"{command} I"
        if answer is None:
            deadline = waiting.started + self.config.stability_wait_s
            stable_at = self._changed_at + self.config.settle_s if self._settles() else math.inf
            waiting.timer = self._loop.call_at(min(deadline, max(stable_at, now)), self._check)
            return
        self._waiting = None
        self._reply(answer)
        self._next()

    def _refusal(self, command: str, now: float) -> str | None:
        """``S +``/``S -``, ``T +``/``T -``; ``Z +``/``Z -`` outside the zero setting range."""
        if command == "Z":
            offset = self._target_now() - self._initial_zero_g
            band = ZERO_RANGE * self.config.capacity_g
            return "Z +" if offset > band else "Z -" if offset < -band else None
        limit = self._limit(now)
        return f"{command} {limit}" if limit else None

    def _done(self, command: str, now: float) -> str:
        value = self._display_g(now)
        if command == "S":
            return f"S S {self._format(value)} g"
        if command == "Z":
            self._zero_g += value + self._tare_g
            self._tare_g = 0.0
            return "Z A"
        self._tare_g += value
        return f"T S {self._format(self._tare_g)} g"

    # ------------------------------------------------------------------ the physics

    def _gross_g(self, now: float) -> float:
        """The true load on the pan as the display would show it settled, before zero and tare: the vessel (its
        liquid with buoyancy), what was placed, and the drift since power-on."""
        drift = self.config.drift_mg_min * (now - self._powered_at) / 60.0 / 1000.0
        liquid = self.vessel.liquid_mg() / 1000.0 * self.buoyancy
        return self.vessel.container_g + liquid + self._extra_g + drift

    def _target_now(self) -> float:
        return self._gross_g(self._loop.time())

    def _load_changed(self) -> None:
        """The load changed now: the reading starts from where it was and approaches the new load."""
        now = self._loop.time()
        was = self._target_g + self._residual(now)
        self._target_g = self._gross_g(now)
        self._changed_from_g = was
        self._changed_at = now

    def _residual(self, now: float) -> float:
        """How far the reading still is from the load, settling exponentially (1 % left after ``settle_s``)."""
        settle = self.config.settle_s
        elapsed = now - self._changed_at
        if settle <= 0 or elapsed >= settle:
            return 0.0
        return (self._changed_from_g - self._target_g) * math.exp(-elapsed / settle * math.log(100))

    def _settles(self) -> bool:
        return self.config.noise_mg <= self.config.stability_mg

    def _stable(self, now: float) -> bool:
        return self._settles() and now - self._changed_at >= self.config.settle_s

    def _display_g(self, now: float) -> float:
        """The net reading now: load, settling residual and noise, less zero and tare, on the display's grid."""
        noise = self._rng.gauss(0.0, self.config.noise_mg / 1000.0) if self.config.noise_mg > 0 else 0.0
        net = self._gross_g(now) + self._residual(now) + noise - self._zero_g - self._tare_g
        step = self.config.readability_g
        return round(net / step) * step

    def _limit(self, now: float) -> str:
        """``+`` overload, ``-`` underload, ``""`` within range (on the gross load)."""
        gross = self._gross_g(now)
        if gross > self.config.capacity_g:
            return "+"
        if gross < self._initial_zero_g - UNDERLOAD * self.config.capacity_g:
            return "-"
        return ""

    def _format(self, grams: float) -> str:
        return f"{grams:>10.{self._decimals}f}"

    def _reply(self, line: str) -> None:
        if self._send is not None:
            self._send(line.encode("ascii") + b"\r\n")


@dataclass
class InProcessBalance:
    """A started simulated balance and its one in-process connection (what ``sim-balance://`` opens)."""

    balance: SimulatedBalance
    connection: LineConnection

    def unplug(self) -> None:
        """Cable pulled: the host's reads end; the balance runs on."""
        self.connection.unplug()

    def close(self) -> None:
        """Unplug and power the balance off."""
        self.connection.close()
        self.balance.close()


def start_inprocess_balance(query: str = "", *, gun: SimulatedGun | None = None) -> InProcessBalance:
    """A simulated balance on the running loop from a ``sim-balance://`` query, its vessel under ``gun`` if given
    (else under the live in-process gun the query's ``gun=SERIAL`` names). Bad options or a ``gun=`` no live gun
    has raise :class:`~sims.errors.SimConfigError` (a ``ValueError``)."""
    from sims.registry import named_gun

    config = parse_balance_query(query)
    if gun is not None and config.gun is not None and gun.nvm.data.serial_number != config.gun:
        given = gun.nvm.data.serial_number
        raise SimConfigError("gun", config.gun, f"the serial number of the simulated gun given ({given})")
    if gun is None and config.gun is not None:
        gun = named_gun(config.gun)
    balance = SimulatedBalance(config)
    if gun is not None:
        balance.place_under(gun)
    return InProcessBalance(balance, balance.connect())
