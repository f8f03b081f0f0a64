"""Soft limits, the one implementation: what in a treatment's settings is beyond a preset's or a mode's soft
limit (:func:`breaches`), and whether going past them is authorised (:func:`authorize`: an override needs a
non-blank reason, which the record keeps beside the values).

Soft limits are the technique's (:mod:`mesogun.clinic.presets`): nappage at most
:data:`~mesogun.clinic.presets.NAPPAGE_SOFT_MAX_DEPTH_MM` deep with any preset or none, a preset's
``max_depth_mm``, and its ``max_volume_per_zone_ml`` for one zone in one session. The device's **hard** limits
(its depth, dose and rate ranges: :mod:`firmware_protocol.rules`, checked by :class:`mesogun.Gun` before
anything is sent and again by the device) are never checked or overridden here: no override reaches past them.
The CLI (``mesogun set``), the Python API and the gun service all call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from firmware_protocol import Mode
from mesogun.clinic.errors import ReasonRequired, SoftLimitExceeded
from mesogun.clinic.presets import NAPPAGE_SOFT_MAX_DEPTH_MM, Preset
from mesogun.errors import Hint

MODE_MAX_DEPTH_MM: dict[Mode, float] = {Mode.NAPPAGE: NAPPAGE_SOFT_MAX_DEPTH_MM}
"""Soft depth limits of a firing mode, whatever the preset."""

OVERRIDE = Hint(
    "{0} to go ahead anyway; the override and its reason are entered in the treatment record",
    ("override_soft_limit",),
)
"""How a soft limit's refusal is overridden, said in each audience's words (the API's reason, the service's
``override_reason``, the CLI's ``--yes --reason TEXT``)."""

REASON_MAX = 1000
"""The longest override reason, characters."""


@dataclass(frozen=True)
class Breach:
    """One soft limit a setting goes past."""

    limit: str
    """Which limit, e.g. ``mode.nappage.max_depth_mm``, ``preset.face.max_volume_per_zone_ml``."""
    field: str
    """The setting beyond it: ``depth_mm`` or ``volume_ml`` (the zone's volume with what is planned)."""
    value: float
    maximum: float
    unit: str
    message: str
    """One line naming the value and the limit, e.g. "nappage at depth_mm=2.5 is deeper than its soft limit of
    2 mm (nappage is superficial)"."""


def breaches(
    preset: Preset | None,
    mode: Mode | None,
    depth_mm: float | None,
    dose_ml: float | None = None,
    *,
    zone: str | None = None,
    zone_delivered_ml: float | None = None,
    planned_ml: float | None = None,
) -> tuple[Breach, ...]:
    """Every soft limit these settings go past (empty: none), depth first.

    ``mode`` and ``depth_mm`` are what the gun will be set to (``None``: unknown, not checked). The zone's volume is
    checked when ``zone_delivered_ml`` (what the session has delivered into ``zone`` so far) is given: with
    ``planned_ml`` more (default: one shot of ``dose_ml``) it must stay within the preset's
    ``max_volume_per_zone_ml``. A mode limit and a preset's depth limit no looser than the mode's say the same
    thing once.
    """
    found: list[Breach] = []
    if depth_mm is not None:
        mode_max = MODE_MAX_DEPTH_MM.get(mode) if mode is not None else None
        if mode_max is not None and depth_mm > mode_max and mode is not None:
            found.append(
                Breach(
                    f"mode.{mode.json_name}.max_depth_mm",
                    "depth_mm",
                    depth_mm,
                    mode_max,
                    "mm",
                    f"{mode.json_name} at depth_mm={depth_mm:g} is deeper than its soft limit of {mode_max:g} mm "
                    f"({mode.json_name} is superficial)",
                )
            )
        preset_max = preset.max_depth_mm if preset is not None else None
        if (
            preset is not None
            and preset_max is not None
            and depth_mm > preset_max
            and not (found and found[0].maximum <= preset_max)
        ):
            found.append(
                Breach(
                    f"preset.{preset.name}.max_depth_mm",
                    "depth_mm",
                    depth_mm,
                    preset_max,
                    "mm",
                    f"depth_mm={depth_mm:g} is deeper than preset {preset.name}'s soft limit of {preset_max:g} mm",
                )
            )
    zone_max = preset.max_volume_per_zone_ml if preset is not None else None
    if preset is not None and zone_max is not None and zone_delivered_ml is not None:
        more = planned_ml if planned_ml is not None else (dose_ml or 0.0)
        total = zone_delivered_ml + more
        if total > zone_max + 1e-9:
            where = f"zone {zone}" if zone else "the zone"
            found.append(
                Breach(
                    f"preset.{preset.name}.max_volume_per_zone_ml",
                    "volume_ml",
                    round(total, 6),
                    zone_max,
                    "mL",
                    f"{where} would receive {total:g} mL this session ({zone_delivered_ml:g} mL delivered + "
                    f"{more:g} mL planned), more than preset {preset.name}'s soft limit of {zone_max:g} mL per zone",
                )
            )
    return tuple(found)


def authorize(found: Sequence[Breach], reason: str | None) -> str | None:
    """Whether settings with these breaches may go ahead: ``None`` when there are none; the override's reason
    (stripped) when one is given; else refused: :class:`SoftLimitExceeded` (no override asked for, naming the first
    breach's field and value) or :class:`ReasonRequired` (an override whose reason is blank, field ``reason``)."""
    if not found:
        return None
    summary = "; ".join(b.message for b in found)
    if reason is None:
        first = found[0]
        refused = SoftLimitExceeded(
            "; ".join(f"soft limit {b.limit}: {b.message}" for b in found), field=first.field, value=first.value
        )
        refused.hint = OVERRIDE
        raise refused
    kept = reason.strip()
    if not kept:
        raise ReasonRequired(
            f"an override of a soft limit needs a reason, entered in the record ({summary})", field="reason", value=""
        )
    if len(kept) > REASON_MAX:
        raise ReasonRequired(
            f"an override reason is at most {REASON_MAX} characters (got {len(kept)})", field="reason", value=len(kept)
        )
    return kept
