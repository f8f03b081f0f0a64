"""Treatment presets by indication: starting points a practitioner adjusts within the device's limits, each with
its soft limits (the deepest depth and the most volume per zone in a session that the technique calls for).

Soft limits are this project's choices, not clinical advice and not device limits: going past one needs an
override with a reason (:mod:`mesogun.clinic.limits`, the one check). The device's hard limits are the device's
(:mod:`firmware_protocol.rules`) and are never overridden. A clinic defines its own presets (stored in the record);
built-in names cannot be redefined.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from firmware_protocol import Mode
from mesogun.clinic.errors import ClinicError, UnknownPreset
from mesogun.i18n import N_
from mesogun.wording import Wording

NAPPAGE_SOFT_MAX_DEPTH_MM = 2.0
"""The soft limit of nappage depth, mm: nappage is a superficial technique (a fast series of shallow drops;
the face-nappage preset uses 1.0 mm), so deeper than this is treated as a likely mistake, in nappage mode with any
preset or none. It is this project's choice, stated in the protocol reference's Mode table (docs/protocol.md), not
a device limit: the device accepts its full depth range; ``set --yes --reason`` overrides it, on record."""

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
"""What a preset's name is made of."""


@dataclass(frozen=True)
class Preset:
    """Depth, dose, rate and mode for one indication, in user units, and its soft limits (``None``: none)."""

    name: str
    depth_mm: float
    dose_ml: float
    rate_hz: float
    mode: Mode
    description: str
    max_depth_mm: float | None = None
    """The deepest depth the technique calls for; deeper needs an override with a reason."""
    max_volume_per_zone_ml: float | None = None
    """The most volume delivered into one zone in one session; more needs an override with a reason."""
    builtin: bool = True
    """False: defined by the clinic (stored in the record)."""


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        p.name: p
        for p in (
            Preset("face", 1.5, 0.02, 4.0, Mode.BURST, N_("face: superficial, small drops"), 2.5, 1.0),
            Preset(
                "face-nappage",
                1.0,
                0.005,
                8.0,
                Mode.NAPPAGE,
                N_("face, nappage: fast superficial series"),
                NAPPAGE_SOFT_MAX_DEPTH_MM,
                1.0,
            ),
            Preset("scalp", 2.5, 0.05, 3.0, Mode.BURST, N_("scalp: medium depth"), 3.5, 2.0),
            Preset("body", 4.0, 0.1, 2.0, Mode.BURST, N_("body: deep, larger drops"), None, 10.0),
        )
    }
)
"""The built-in presets, by name (their descriptions are catalog words; a clinic's own are shown as written)."""


def define(
    name: str,
    *,
    depth_mm: float,
    dose_ml: float,
    rate_hz: float,
    mode: Mode | str,
    description: str = "",
    max_depth_mm: float | None = None,
    max_volume_per_zone_ml: float | None = None,
) -> Preset:
    """A clinic-defined preset, checked: a new name (lower-case letters, digits, ``-``, ``_``; not a built-in),
    positive values, a known mode, soft limits not below the preset's own values. Each refusal names its field."""
    if not name or not set(name) <= NAME_CHARS or len(name) > 40:
        raise ClinicError(
            f"preset name {name!r}: 1-40 lower-case letters, digits, - or _", field="preset.name", value=name
        )
    if name in PRESETS:
        raise ClinicError(f"preset {name} is built in; choose another name", field="preset.name", value=name)
    if isinstance(mode, str):
        try:
            mode = Mode[mode.upper()]
        except KeyError:
            names = ", ".join(m.json_name for m in Mode)
            raise ClinicError(f"mode {mode!r} is not one of: {names}", field="preset.mode", value=mode) from None
    for field, value in (("depth_mm", depth_mm), ("dose_ml", dose_ml), ("rate_hz", rate_hz)):
        if not isinstance(value, int | float) or not value > 0:
            raise ClinicError(f"preset {field}={value!r} must be above 0", field=f"preset.{field}", value=value)
    for field, limit, own, unit in (
        ("max_depth_mm", max_depth_mm, depth_mm, "mm"),
        ("max_volume_per_zone_ml", max_volume_per_zone_ml, dose_ml, "mL"),
    ):
        if limit is not None and (not isinstance(limit, int | float) or limit < own):
            raise ClinicError(
                f"preset {field}={limit!r} is below the preset's own value {own:g} {unit}",
                field=f"preset.{field}",
                value=limit,
            )
    if len(description) > 200 or "\n" in description:
        raise ClinicError("preset description: one line of at most 200 characters", field="preset.description")
    return Preset(
        name,
        float(depth_mm),
        float(dose_ml),
        float(rate_hz),
        mode,
        description.strip(),
        None if max_depth_mm is None else float(max_depth_mm),
        None if max_volume_per_zone_ml is None else float(max_volume_per_zone_ml),
        builtin=False,
    )


def find(name: str, clinic: Iterable[Preset] = ()) -> Preset:
    """The preset called ``name``: built in, or one of the clinic's; :class:`UnknownPreset` (field ``preset``)
    naming the value and the nearest names."""
    known = {**PRESETS, **{p.name: p for p in clinic}}
    found = known.get(name)
    if found is not None:
        return found
    nearest = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5) or sorted(known)
    raise UnknownPreset(
        Wording(N_("preset {preset} is not known; nearest: {presets}"), preset=repr(name), presets=", ".join(nearest)),
        field="preset",
        value=name,
    )
