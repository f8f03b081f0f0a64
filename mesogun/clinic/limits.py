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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from firmware_protocol import Mode
from mesogun.clinic.errors import ReasonRequired, SoftLimitExceeded
from mesogun.clinic.presets import NAPPAGE_SOFT_MAX_DEPTH_MM, Preset
from mesogun.errors import Hint
from mesogun.i18n import N_
from mesogun.wording import Number, Wording

MODE_MAX_DEPTH_MM: dict[Mode, float] = {Mode.NAPPAGE: NAPPAGE_SOFT_MAX_DEPTH_MM}
"""Soft depth limits of a firing mode, whatever the preset."""

OVERRIDE = Hint(
    N_("{0} to go ahead anyway; the override and its reason are entered in the treatment record"),
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
    wording: Wording | None = None
    """The message worded for the catalog (it reads as :attr:`message` in English)."""

    @classmethod
    def worded(cls, limit: str, field: str, value: float, maximum: float, unit: str, wording: Wording) -> Breach:
        """A breach whose message is ``wording``."""
        return cls(limit, field, value, maximum, unit, str(wording), wording)

    @property
    def said(self) -> Wording | str:
        """The message as a refusal carries it: its wording, else its English."""
        return self.wording if self.wording is not None else self.message


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
                Breach.worded(
                    f"mode.{mode.json_name}.max_depth_mm",
                    "depth_mm",
                    depth_mm,
                    mode_max,
                    "mm",
                    Wording(
                        N_(
                            "{mode} at depth_mm={depth} is deeper than its soft limit of {limit} mm "
                            "({mode} is superficial)"
                        ),
                        mode=mode.json_name,
                        depth=Number(depth_mm, "g"),
                        limit=Number(mode_max, "g"),
                    ),
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
                Breach.worded(
                    f"preset.{preset.name}.max_depth_mm",
                    "depth_mm",
                    depth_mm,
                    preset_max,
                    "mm",
                    Wording(
                        N_("depth_mm={depth} is deeper than preset {preset}'s soft limit of {limit} mm"),
                        depth=Number(depth_mm, "g"),
                        preset=preset.name,
                        limit=Number(preset_max, "g"),
                    ),
                )
            )
    zone_max = preset.max_volume_per_zone_ml if preset is not None else None
    if preset is not None and zone_max is not None and zone_delivered_ml is not None:
        more = planned_ml if planned_ml is not None else (dose_ml or 0.0)
        total = zone_delivered_ml + more
        if total > zone_max + 1e-9:
            volumes = {
                "total": Number(total, "g"),
                "delivered": Number(zone_delivered_ml, "g"),
                "planned": Number(more, "g"),
                "preset": preset.name,
                "limit": Number(zone_max, "g"),
            }
            found.append(
                Breach.worded(
                    f"preset.{preset.name}.max_volume_per_zone_ml",
                    "volume_ml",
                    round(total, 6),
                    zone_max,
                    "mL",
                    Wording(
                        N_(
                            "zone {zone} would receive {total} mL this session ({delivered} mL delivered + {planned} mL"
                            " planned), more than preset {preset}'s soft limit of {limit} mL per zone"
                        ),
                        zone=zone,
                        **volumes,
                    )
                    if zone
                    else Wording(
                        N_(
                            "the zone would receive {total} mL this session ({delivered} mL delivered + {planned} mL"
                            " planned), more than preset {preset}'s soft limit of {limit} mL per zone"
                        ),
                        **volumes,
                    ),
                )
            )
    return tuple(found)


def authorize(found: Sequence[Breach], reason: str | None) -> str | None:
    """Whether settings with these breaches may go ahead: ``None`` when there are none; the override's reason
    (stripped) when one is given; else refused: :class:`SoftLimitExceeded` (no override asked for, naming the first
    breach's field and value) or :class:`ReasonRequired` (an override whose reason is blank, field ``reason``)."""
    if not found:
        return None
    summary = joined(b.said for b in found)
    if reason is None:
        first = found[0]
        refused = SoftLimitExceeded(
            joined(Wording(N_("soft limit {limit}: {breach}"), limit=b.limit, breach=b.said) for b in found),
            field=first.field,
            value=first.value,
        )
        refused.hint = OVERRIDE
        raise refused
    kept = reason.strip()
    if not kept:
        raise ReasonRequired(
            Wording(
                N_("an override of a soft limit needs a reason, entered in the record ({summary})"), summary=summary
            ),
            field="reason",
            value="",
        )
    if len(kept) > REASON_MAX:
        raise ReasonRequired(
            Wording(
                N_("an override reason is at most {limit} characters (got {length})"),
                limit=REASON_MAX,
                length=len(kept),
            ),
            field="reason",
            value=len(kept),
        )
    return kept


def joined(parts: Iterable[Wording | str]) -> Wording:
    """Messages said one after the other ("…; …"), each translated on its own."""
    items = list(parts)
    first: Wording | str = items[0] if items else ""
    for then in items[1:]:
        first = Wording(N_("{first}; {then}"), first=first, then=then)
    return first if isinstance(first, Wording) else Wording("{first}", first=first)
