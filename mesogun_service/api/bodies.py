"""Request bodies: strict JSON types (a string for a number is a 422 naming the field), no unknown fields,
bounded strings; ranges are the gun's own limits, checked by :class:`mesogun.Gun` exactly as for the Python API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """Every request body: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ConfigureBody(Body):
    depth_mm: float | None = Field(default=None, description="Needle depth, mm (e.g. 1.5)")
    dose_ml: float | None = Field(default=None, description="Drop volume per shot, mL (e.g. 0.02)")
    rate_hz: float | None = Field(default=None, description="Firing rate, shots per second (e.g. 3)")
    mode: str | None = Field(default=None, max_length=32, description="Firing mode: single, burst or continuous")
    wait: bool = Field(default=True, description="Return once the needle stop is at the new depth")
    preset: str | None = Field(
        default=None, max_length=40, description="The preset the values come from: its soft limits apply too"
    )
    override_reason: str | None = Field(
        default=None, max_length=1000, description="Why a soft limit is overridden (entered in the record)"
    )


class SyringeBody(Body):
    capacity_ml: float = Field(description="Syringe capacity, mL (e.g. 5)")
    fill_ml: float | None = Field(default=None, description="Volume in the syringe, mL (default: full)")
    brand: str | None = Field(
        default=None,
        max_length=64,
        description="The syringe's brand, declared to the gun so its volume calibration applies (default: the "
        "open treatment session's syringe brand)",
    )


class PrimeBody(Body):
    volume_ml: float = Field(description="Volume pushed through the line, mL")


class CountBody(Body):
    count: int = Field(description="Shots (fire: 0 fires until stopped)")


class FireBody(CountBody):
    override_reason: str | None = Field(
        default=None, max_length=1000, description="Why the zone's volume limit is overridden (entered in the record)"
    )


class ArmBody(Body):
    override_reason: str | None = Field(
        default=None, max_length=1000, description="Why arming in a zone at its volume limit (entered in the record)"
    )


class NoteBody(Body):
    kind: str = Field(min_length=1, max_length=64)
    detail: str = Field(min_length=1, max_length=2000)
    reason: str = Field(min_length=1, max_length=2000)


class AttendBody(Body):
    client: str = Field(min_length=1, max_length=128, description="Who is watching: 'tablet 2', 'cli alice@host'")


class VisitBody(Body):
    note: str = Field(default="", max_length=2000)
