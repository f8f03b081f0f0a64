"""The simulator's options: one table shared by ``mesogun sim`` (``--latency-ms``) and ``sim://?latency_ms=``.

:func:`parse_options` turns ``{name: [values]}`` into a checked :class:`SimOptions`; every bad value
raises :class:`~sims.errors.SimConfigError` naming the option, the value, the allowed range and the unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl

from firmware_protocol.rules import REFERENCE_STATUS_PERIOD_MS, REFERENCE_WATCHDOG_MS
from sims.config import DeviceConfig, HiddenTruth, Physics
from sims.errors import SimConfigError
from sims.faults import FaultSpec, parse_fault
from sims.impairments import Impairments


@dataclass(frozen=True)
class OptionSpec:
    """One option: its name (underscores), kind, range, unit and help text."""

    name: str
    kind: str
    """``int``, ``float``, ``bool``, ``str``, ``path``, ``fault`` (repeatable), ``hex`` (int, 0x… allowed) or
    ``brand_gain`` (repeatable ``BRAND=GAIN``; in a URL also ``volume_gain.BRAND=GAIN``)."""
    help: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    default: object = None

    @property
    def cli_name(self) -> str:
        """The command-line spelling (``--latency-ms``)."""
        return "--" + self.name.replace("_", "-")

    @property
    def allowed(self) -> str:
        """The allowed range in words."""
        if self.low is not None and self.high is not None:
            return f"{_fmt(self.low)} to {_fmt(self.high)}"
        return {"bool": "true/false/1/0", "str": "1-32 printable characters", "path": "a file path"}.get(
            self.kind, "any"
        )


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "serial",
        "str",
        "serial number the device reports (kept in NVM once written); default: SIM- and the start of its "
        "random hardware id, so no two simulators share one",
    ),
    OptionSpec(
        "nvm",
        "path",
        "JSON file of the non-volatile memory (lifetime shots, identity, calibration); "
        "created if missing; default: in memory only",
    ),
    OptionSpec("baud", "int", "line speed: each byte takes 10/baud s; 0 = no line time", "bit/s", 0, 4_000_000, 0),
    OptionSpec("latency_ms", "float", "added one-way latency", "ms", 0, 10_000, 0.0),
    OptionSpec("drop", "float", "probability that a byte is lost", "probability per byte", 0, 1, 0.0),
    OptionSpec("corrupt", "float", "probability that a byte is changed", "probability per byte", 0, 1, 0.0),
    OptionSpec("split_writes", "bool", "deliver writes in random 1-16-byte pieces", default=False),
    OptionSpec("seed", "int", "seed of the impairment RNG (same seed, same damage); default: random", "", 0, 2**63 - 1),
    OptionSpec("disconnect_at_s", "float", "the link drops (cable pulled) this long after start", "s", 0, 86_400),
    OptionSpec(
        "fault",
        "fault",
        "inject a fault: NAME:after_shots=N, NAME:mid_stroke=N (halfway through the stroke after N shots) or "
        "NAME:at_s=T, NAME one of occlusion, empty, stall, brownout (repeatable)",
    ),
    OptionSpec(
        "watchdog_ms", "int", "communication watchdog while armed or firing", "ms", 100, 60_000, REFERENCE_WATCHDOG_MS
    ),
    OptionSpec(
        "status_period_ms", "int", "period of unsolicited status; 0 = off", "ms", 0, 60_000, REFERENCE_STATUS_PERIOD_MS
    ),
    OptionSpec(
        "fingerprint",
        "hex",
        "catalog fingerprint the device reports and expects (override to test a mismatch), e.g. 0x12345678",
        "",
        0,
        0xFFFF_FFFF,
    ),
    OptionSpec(
        "firmware_key",
        "path",
        "the public key (ed25519, PEM) firmware images must be signed with, pinned in the bootloader; default: "
        "none, so every firmware update is refused",
    ),
    OptionSpec(
        "factory_image",
        "path",
        "the signed MCUboot image a new board's slot 0 holds; default: an unsigned image of the simulator's version",
    ),
    OptionSpec(
        "firmware_slot_kb",
        "int",
        "size of each of the two firmware image slots, a whole number of 4 kB flash sectors",
        "kB",
        8,
        4096,
        DeviceConfig().firmware_slot_size // 1024,
    ),
    OptionSpec(
        "self_test_ms",
        "int",
        "how long after boot a firmware image's self-test ends (passing, it confirms itself)",
        "ms",
        0,
        600_000,
        DeviceConfig().self_test_ms,
    ),
    OptionSpec(
        "calibration_fingerprint",
        "hex",
        "fingerprint the device reports for its calibration family (override to test a mismatch), e.g. 0x12345678",
        "",
        0,
        0xFFFF_FFFF,
    ),
    OptionSpec(
        "logs_fingerprint",
        "hex",
        "fingerprint the device reports for its logs family (override to test a mismatch), e.g. 0x12345678",
        "",
        0,
        0xFFFF_FFFF,
    ),
    OptionSpec("motor_speed_mm_s", "float", "depth motor speed", "mm/s", 0.1, 100, 5.0),
    OptionSpec("plunger_ms", "float", "plunger stroke time of the largest dose", "ms", 1, 99, 60.0),
    OptionSpec(
        "shot_log_capacity", "int", "shots the device's shot log keeps (get_shot_log)", "shots", 1, 1_000_000, 10_000
    ),
    OptionSpec(
        "lifetime_shots",
        "int",
        "lifetime shot counter of a new NVM (a board that fired before; 4294967290 shows the 2**32 wrap-around)",
        "shots",
        0,
        0xFFFF_FFFF,
        0,
    ),
    OptionSpec(
        "remote_fire",
        "bool",
        "accept a host's fire (remote fire); off: fire from the trigger and pedal only, fire is refused "
        "remote_fire_disabled",
        default=True,
    ),
    OptionSpec(
        "volume_gain",
        "float",
        "hidden truth: true volume = volume pushed x gain (every syringe brand without its own)",
        "",
        0.5,
        1.5,
        1.03,
    ),
    OptionSpec(
        "volume_gain_by_brand",
        "brand_gain",
        "hidden truth per syringe brand: BRAND=GAIN, e.g. Terumo=0.97 (repeatable; in a sim:// URL also "
        "volume_gain.Terumo=0.97)",
        "",
        0.5,
        1.5,
    ),
    OptionSpec(
        "depth_offset_um",
        "float",
        "hidden truth: true depth = depth gain x motor position + offset",
        "µm",
        -500,
        500,
        80.0,
    ),
    OptionSpec("depth_gain", "float", "hidden truth: true depth per µm of motor position", "", 0.5, 1.5, 1.0),
    OptionSpec(
        "rate_gain",
        "float",
        "hidden truth: true firing rate / the rate the device's timer runs at (its clock runs as fast)",
        "",
        0.5,
        1.5,
        1.0,
    ),
)
"""Every simulator option, in ``--help`` order."""

BY_NAME = {o.name: o for o in OPTIONS}


@dataclass(frozen=True)
class SimOptions:
    """A checked set of simulator options."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    impairments: Impairments = field(default_factory=Impairments)
    seed: int | None = None
    nvm_path: Path | None = None
    faults: tuple[FaultSpec, ...] = ()
    disconnect_at_s: float | None = None


def parse_query(query: str) -> SimOptions:
    """Options from the query string of a ``sim://`` URL (``serial=SIM0001&latency_ms=5&fault=…``)."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        name, dot, brand = key.partition(".")
        if dot and name.replace("-", "_") == "volume_gain":  # volume_gain.Terumo=0.97: a brand's own hidden gain
            values.setdefault("volume_gain_by_brand", []).append(f"{brand}={value}")
            continue
        values.setdefault(key.replace("-", "_"), []).append(value)
    return parse_options(values)


def parse_options(values: Mapping[str, Sequence[str]]) -> SimOptions:
    """Check every option in ``values`` (name → one or more raw strings) and build :class:`SimOptions`."""
    checked: dict[str, object] = {}
    faults: list[FaultSpec] = []
    for raw_name, raws in values.items():
        name = raw_name.replace("-", "_")
        spec = BY_NAME.get(name)
        if spec is None:
            known = ", ".join(o.name for o in OPTIONS)
            raise SimConfigError(raw_name, ",".join(raws), f"one of {known}", reason="is not a simulator option")
        if spec.kind == "fault":
            faults.extend(parse_fault(raw) for raw in raws)
            continue
        if spec.kind == "brand_gain":
            checked[name] = dict(_brand_gain(spec, raw) for raw in raws)
            continue
        if len(raws) != 1:
            raise SimConfigError(name, ",".join(raws), "one value", reason="is given more than once")
        checked[name] = convert(spec, raws[0])

    def get(name: str) -> object:
        value = checked.get(name)
        return BY_NAME[name].default if value is None else value

    base = DeviceConfig()
    fingerprint = checked.get("fingerprint")
    device = replace(
        base,
        serial_number=str(checked["serial"]) if "serial" in checked else None,
        fingerprint=int(fingerprint) if isinstance(fingerprint, int) else base.fingerprint,
        family_fingerprints=_family_fingerprints(base, checked),
        watchdog_ms=_int(get("watchdog_ms")),
        status_period_ms=_int(get("status_period_ms")),
        physics=replace(
            Physics(),
            motor_speed_um_s=_float(get("motor_speed_mm_s")) * 1000,
            plunger_max_ms=_float(get("plunger_ms")),
            plunger_min_ms=min(Physics().plunger_min_ms, _float(get("plunger_ms"))),
        ),
        hidden_truth=HiddenTruth(
            volume_gain=_float(get("volume_gain")),
            volume_gain_by_brand=dict(_brand_gains(checked.get("volume_gain_by_brand"))),
            depth_offset_um=_float(get("depth_offset_um")),
            depth_gain=_float(get("depth_gain")),
            rate_gain=_float(get("rate_gain")),
        ),
        shot_log_capacity=_int(get("shot_log_capacity")),
        initial_lifetime=_int(get("lifetime_shots")),
        remote_fire=bool(get("remote_fire")),
        firmware_key=_file_bytes("firmware_key", checked.get("firmware_key")),
        factory_image=_file_bytes("factory_image", checked.get("factory_image")),
        firmware_slot_size=_slot_size(_int(get("firmware_slot_kb")), base.flash_sector_size),
        self_test_ms=_int(get("self_test_ms")),
    )
    impairments = Impairments(
        baud=_int(get("baud")),
        latency_ms=_float(get("latency_ms")),
        drop=_float(get("drop")),
        corrupt=_float(get("corrupt")),
        split_writes=bool(get("split_writes")),
    )
    seed = checked.get("seed")
    nvm = checked.get("nvm")
    disconnect = checked.get("disconnect_at_s")
    return SimOptions(
        device=device,
        impairments=impairments,
        seed=int(seed) if isinstance(seed, int) else None,
        nvm_path=Path(str(nvm)) if nvm else None,
        faults=tuple(faults),
        disconnect_at_s=float(disconnect) if isinstance(disconnect, int | float) else None,
    )


def _slot_size(kb: int, sector_size: int) -> int:
    """``firmware_slot_kb`` in bytes; :class:`SimConfigError` unless it is a whole number of flash sectors."""
    if (kb * 1024) % sector_size:
        spec = BY_NAME["firmware_slot_kb"]
        allowed = f"a multiple of {sector_size // 1024}"
        raise SimConfigError(spec.name, kb, allowed, spec.unit, "is no whole sector count")
    return kb * 1024


def _file_bytes(name: str, value: object) -> bytes | None:
    """The contents of the file an option names (``None``: not given); :class:`SimConfigError` if unreadable."""
    if value is None:
        return None
    try:
        return Path(str(value)).read_bytes()
    except OSError as exc:
        raise SimConfigError(name, str(value), "a readable file", reason=f"cannot be read ({exc.strerror})") from None


def _family_fingerprints(base: DeviceConfig, checked: Mapping[str, object]) -> dict[str, int]:
    """The further families' fingerprints, with any ``<family>_fingerprint`` override."""
    families = dict(base.family_fingerprints)
    for name in families:
        override = checked.get(f"{name}_fingerprint")
        if isinstance(override, int):
            families[name] = override
    return families


def _brand_gain(spec: OptionSpec, raw: str) -> tuple[str, float]:
    """One ``BRAND=GAIN`` of a brand's hidden volume gain."""
    brand, equals, gain = raw.partition("=")
    brand = brand.strip()
    if not equals or not 1 <= len(brand) <= 32 or not brand.isprintable():
        raise SimConfigError(spec.name, raw, "BRAND=GAIN, a brand of 1-32 printable characters", reason="is not valid")
    number = convert(replace(spec, name=f"volume_gain.{brand}", kind="float"), gain)
    assert isinstance(number, float)
    return brand, number


def _brand_gains(value: object) -> dict[str, float]:
    return dict(value) if isinstance(value, dict) else {}


def _int(value: object) -> int:
    assert isinstance(value, int | float)
    return int(value)


def _float(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def convert(spec: OptionSpec, raw: str) -> object:
    """One raw string to its checked value."""
    text = raw.strip()
    if spec.kind == "bool":
        lowered = text.lower()
        if lowered in ("", "1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SimConfigError(spec.name, raw, spec.allowed, reason="is not a boolean")
    if spec.kind == "str":
        if not 1 <= len(text) <= 32 or not text.isprintable():
            raise SimConfigError(spec.name, raw, spec.allowed, reason="is not a valid text")
        return text
    if spec.kind == "path":
        if not text:
            raise SimConfigError(spec.name, raw, spec.allowed, reason="is empty")
        return text
    number: float
    try:
        if spec.kind == "hex":
            number = int(text, 0)
        elif spec.kind == "int":
            number = int(text)
        else:
            number = float(text)
    except ValueError:
        kind = "a number" if spec.kind == "float" else "an integer"
        raise SimConfigError(spec.name, raw, f"{kind}, {spec.allowed}", spec.unit, reason="is not a number") from None
    if (
        not math.isfinite(number)
        or (spec.low is not None and number < spec.low)
        or (spec.high is not None and number > spec.high)
    ):
        raise SimConfigError(spec.name, raw, spec.allowed, spec.unit, reason="is out of range")
    return number


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"
