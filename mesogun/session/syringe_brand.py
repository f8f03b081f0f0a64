"""A loaded syringe's brand, declared to the device (``set_syringe_brand``) so its volume gain applies.

The device keeps a volume gain per syringe brand and forgets the brand at every load, so every load declares
it again. Pure checks here, used by :meth:`~mesogun.session.gun.Gun.load_syringe` and
:meth:`~mesogun.calibration.device.CalibrationPort.set_syringe_brand` alike: the brand's size, a brand that
matches a calibrated one only in its case (refused: the device compares bytes, so ``bd`` would get no
correction), and the warning when a volume-calibrated gun gets a brand (or none) it has no gain for.
"""

from __future__ import annotations

from collections.abc import Mapping

from firmware_protocol.rules import CALIBRATION_LIMITS
from mesogun.errors import ParameterError
from mesogun.i18n import N_
from mesogun.wording import Worded, Wording

__all__ = ["check_brand", "check_spelling", "uncorrected_warning"]


def check_brand(brand: object) -> str:
    """``brand`` if the device can keep it (text of at most its bytes; "" declares none), else ParameterError."""
    top = CALIBRATION_LIMITS.brand_max_bytes
    if not isinstance(brand, str) or len(brand.encode("utf-8")) > top:
        raise ParameterError(
            Wording(
                N_("brand={brand} must be text of at most {top} bytes of UTF-8 (the syringe's brand, e.g. BD)"),
                brand=repr(brand),
                top=top,
            ),
            field="brand",
            value=brand,
        )
    return brand


def check_spelling(brand: str, gains: Mapping[str, float]) -> None:
    """Refuse a brand that matches a calibrated one only in another case (the device would give it no gain)."""
    if brand in gains:
        return
    alike = [name for name in gains if name.casefold() == brand.casefold()]
    if alike:
        raise ParameterError(
            Wording(
                N_(
                    "brand={brand} is not a brand this gun is calibrated for; it has a volume gain for {brands} "
                    "(brands are matched exactly: give it as {alike})"
                ),
                brand=repr(brand),
                brands=_names(gains),
                alike=repr(alike[0]),
            ),
            field="brand",
            value=brand,
        )


def uncorrected_warning(serial: str, brand: str | None, gains: Mapping[str, float]) -> Worded | None:
    """Why the doses of this syringe go uncorrected on a volume-calibrated gun, worded for the catalog (``None``: they
    are corrected, or the gun was never volume-calibrated)."""
    if not gains or (brand and brand in gains):
        return None
    if brand:
        template = N_(
            "syringe brand {brand} has no volume calibration on gun {serial} (calibrated for {brands}): its doses are "
            "not corrected (volume gain 1.0); declare the brand loaded (--brand) or calibrate it"
        )
    else:
        template = N_(
            "no syringe brand declared on gun {serial} (calibrated for {brands}): its doses are not corrected (volume "
            "gain 1.0); declare the brand loaded (--brand) or calibrate it"
        )
    return Worded(Wording(template, brand=repr(brand), serial=serial, brands=_names(gains)))


def _names(gains: Mapping[str, float]) -> str:
    return ", ".join(sorted(gains))
