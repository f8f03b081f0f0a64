"""The treatment page's preparing forms: "Load syringe" (capacity, fill; the brand is the open session's), "Prime"
(volume), the settings (a preset's values, then depth, dose, rate and mode within the device's hard limits; a
soft-limit crossing asks for a reason and applies with it) and the zone map. Each calls the API's own handler and
says its refusal at the field; a page that saw another gun state does nothing (:mod:`.treat_gun`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pydantic
from fastapi import APIRouter, Request
from starlette.responses import Response

from mesogun.clinic.errors import ReasonRequired, SoftLimitExceeded
from mesogun.errors import MesogunError, ParameterError
from mesogun.models import GunInfo
from mesogun.units import DEPTH, DOSE, RATE, Quantity, WireRange, decimals_for, from_wire, to_wire
from mesogun_service.accounts import Role
from mesogun_service.api import clinic, guns, treatments
from mesogun_service.api.bodies import ConfigureBody, PrimeBody, SyringeBody
from mesogun_service.api.clinic_bodies import ZoneBody
from mesogun_service.errors import http_status
from mesogun_service.hosted import HostedGun
from mesogun_service.tablet import zone_map
from mesogun_service.tablet.feed import feed_for
from mesogun_service.tablet.forms import FieldErrors, FormGuard, read_number
from mesogun_service.tablet.i18n import N_, gettext, language_of
from mesogun_service.tablet.page import go_to, layout, page_user
from mesogun_service.tablet.refusals import at_field, invalid, labelled, notice, say
from mesogun_service.tablet.templating import number, render
from mesogun_service.tablet.treat_gun import hosted_of, is_stale, open_session, say_stale, state_of

router = APIRouter(prefix="/tablet/guns/{serial}/treat", include_in_schema=False)

PAGE = "/tablet/guns/{serial}/treat"

MODE_NAMES: Final = {
    "single": N_("single"),
    "burst": N_("burst"),
    "continuous": N_("continuous"),
    "nappage": N_("nappage"),
}
"""Each firing mode as the page names it."""


@dataclass(frozen=True)
class Setting:
    """One number of the settings form: its field (the API's), label, quantity and the device limit that bounds
    it."""

    name: str
    label: str
    quantity: Quantity
    limit: str
    unit: str


SETTINGS: Final = (
    Setting("depth_mm", N_("Depth (mm)"), DEPTH, "depth_um", "mm"),
    Setting("dose_ml", N_("Dose (mL)"), DOSE, "dose_nl", "mL"),
    Setting("rate_hz", N_("Rate (shots/s)"), RATE, "rate_mhz", N_("shots/s")),
)


def page_path(serial: str) -> str:
    return PAGE.format(serial=serial)


async def posted(request: Request) -> dict[str, str]:
    """The posted form's text fields."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def fresh(request: Request, errors: FieldErrors, hosted: HostedGun, form: dict[str, str]) -> bool:
    """Whether the posted form may act: not posted before (its one-time id), from a page that saw the gun's state
    now; else the reason said at the form."""
    guard: FormGuard = request.app.state.tablet_forms
    if not guard.claim(form.get("form_id", "")):
        errors.say_form(N_("This form was already sent; nothing was done again."))
        return False
    if is_stale(hosted, form.get("seen_state", "")):
        say_stale(errors, hosted)
        return False
    return True


def say_error(errors: FieldErrors, exc: MesogunError, labels: dict[str, str]) -> None:
    """A core refusal: at its field (prefixed with the field's label) if the form has it, else at the form."""
    field = getattr(exc, "field", None)
    if isinstance(field, str) and field in labels:
        errors.add(field, at_field(errors.language, labels[field], exc))
    else:
        errors.form = say(exc, errors.language)


def say_invalid(errors: FieldErrors, exc: pydantic.ValidationError, labels: dict[str, str]) -> None:
    """A body the API's model refuses: each error at its field."""
    for problem in exc.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        if field in labels:
            errors.add(field, labelled(errors.language, labels[field], invalid(errors.language, problem)))
        else:
            errors.form = invalid(errors.language, problem)


def _fragment(request: Request, template: str, key: str, values: dict[str, Any], serial: str, status: int) -> Response:
    """One form of the page rendered alone (htmx swaps it in), with a new one-time id."""
    guard: FormGuard = request.app.state.tablet_forms
    context = layout(request, None, gun=serial, serial=serial, **{key: {**values, "form_id": guard.new_id()}})
    return render(request, template, context, status_code=status)


# ---------------------------------------------------------------------------------------------- syringe, prime


def syringe_values(
    language: str, info: GunInfo, session: dict[str, Any] | None, form: dict[str, str] | None = None
) -> dict[str, Any]:
    """What the syringe form shows: the capacities the gun takes (the session's size first chosen), the fill."""
    sizes = [float(s) for s in info.syringe_sizes_ml]
    wanted = (session or {}).get("syringe_ml")
    chosen = form.get("capacity_ml") if form else None
    if chosen is None:
        chosen = f"{wanted:g}" if isinstance(wanted, int | float) and wanted in sizes else f"{sizes[-1]:g}"
    return {
        "sizes": [(f"{s:g}", f"{number(language, s, 1)} mL") for s in sizes],
        "capacity": chosen,
        "fill": (form or {}).get("fill_ml", ""),
        "brand": (session or {}).get("syringe_brand"),
        "errors": None,
        "done": None,
        "warnings": [],
    }


@router.post("/syringe")
async def load_syringe(request: Request, serial: str) -> Response:
    """ "Load syringe": declare the syringe loaded (the brand: the session's), clearing priming."""
    await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    language = language_of(request)
    errors = FieldErrors(language)
    form = await posted(request)
    session = await open_session(request, hosted)
    values = syringe_values(language, hosted.gun.info, session, form)
    labels = {"capacity_ml": gettext(language, N_("Syringe (mL)")), "fill_ml": gettext(language, N_("Fill (mL)"))}
    seen = form.get("seen_state", "")
    status = 409
    if fresh(request, errors, hosted, form):
        status = 422
        capacity = read_number(form, "capacity_ml", errors, label=labels["capacity_ml"])
        fill = read_number(form, "fill_ml", errors, label=labels["fill_ml"], required=False)
        if capacity is not None and not errors:
            try:
                loaded = await guns.load_syringe(
                    hosted, request.app.state.record, SyringeBody(capacity_ml=capacity, fill_ml=fill)
                )
            except MesogunError as exc:
                say_error(errors, exc, labels)
                status = http_status(exc) if not errors.by_field else 422
            else:
                if state_of(hosted) != seen:
                    return go_to(request, page_path(serial))
                values["done"] = gettext(language, N_("Syringe loaded: {capacity} mL, {fill} mL in it.")).format(
                    capacity=number(language, loaded["capacity_ml"], 1), fill=number(language, loaded["fill_ml"], 2)
                )
                values["warnings"] = [notice(warning, language) for warning in loaded.get("warnings", [])]
                values["fill"] = ""
                status = 200
    values.update(errors=errors or None, seen_state=state_of(hosted))
    return _fragment(request, "_treat_syringe_form.html", "syringe", values, serial, status)


def prime_values(form: dict[str, str] | None = None) -> dict[str, Any]:
    return {"volume": (form or {}).get("volume_ml", "0.1"), "errors": None, "done": None}


@router.post("/prime")
async def prime(request: Request, serial: str) -> Response:
    """ "Prime": push the volume through the line; the page again once the gun is ready."""
    await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    language = language_of(request)
    errors = FieldErrors(language)
    form = await posted(request)
    values = prime_values(form)
    labels = {"volume_ml": gettext(language, N_("Prime volume (mL)"))}
    status = 409
    if fresh(request, errors, hosted, form):
        status = 422
        volume = read_number(form, "volume_ml", errors, label=labels["volume_ml"])
        if volume is not None and not errors:
            try:
                primed = await guns.prime(hosted, PrimeBody(volume_ml=volume))
            except MesogunError as exc:
                say_error(errors, exc, labels)
                status = http_status(exc) if not errors.by_field else 422
            else:
                if state_of(hosted) != form.get("seen_state", ""):
                    return go_to(request, page_path(serial))
                values["done"] = gettext(language, N_("Primed {volume} mL.")).format(
                    volume=number(language, primed["primed_ml"], 2)
                )
                status = 200
    values.update(errors=errors or None, seen_state=state_of(hosted))
    return _fragment(request, "_treat_prime_form.html", "prime", values, serial, status)


# ---------------------------------------------------------------------------------------------- settings


def _limits(info: GunInfo, setting: Setting) -> WireRange:
    found: WireRange = getattr(info.limits, setting.limit)
    return found


def setting_fields(language: str, info: GunInfo) -> list[dict[str, Any]]:
    """Each number's field: name, label, unit, and its hard limits as the input's min, max and step."""
    fields = []
    for setting in SETTINGS:
        limit = _limits(info, setting)
        places = decimals_for(setting.quantity, limit.step)
        low, high, step = (from_wire(setting.quantity, v) for v in (limit.min, limit.max, limit.step))
        unit = gettext(language, setting.unit)
        fields.append(
            {
                "name": setting.name,
                "label": gettext(language, setting.label),
                "unit": unit,
                "min": f"{low:.{places}f}",
                "max": f"{high:.{places}f}",
                "step": f"{step:.{places}f}",
                "places": places,
                "range": gettext(language, N_("{low}–{high} {unit}, in steps of {step} {unit}")).format(
                    low=number(language, low, places),
                    high=number(language, high, places),
                    step=number(language, step, places),
                    unit=unit,
                ),
            }
        )
    return fields


async def preset_list(request: Request, session: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every preset as ``GET /presets`` lists them, the session's first."""
    presets: list[dict[str, Any]] = await clinic.list_presets(request.app.state.record)
    first = (session or {}).get("preset")
    return sorted(presets, key=lambda p: p["name"] != first)


async def settings_values(
    request: Request,
    hosted: HostedGun,
    session: dict[str, Any] | None,
    *,
    preset: str | None = None,
    form: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the settings form shows: the presets (the session's listed first; the chosen one ``preset``, else the
    form's, else none) and the values (the form's, else the chosen preset's, else the device's now)."""
    language = language_of(request)
    gun = hosted.gun
    info = gun.info
    presets = await preset_list(request, session)
    chosen = preset if preset is not None else (form or {}).get("preset", "")
    fields = setting_fields(language, info)
    if form is not None:
        values = {f["name"]: form.get(f["name"], "") for f in fields} | {"mode": form.get("mode", "")}
    else:
        picked: dict[str, Any] | None = next((p for p in presets if p["name"] == preset), None)
        source: dict[str, Any] = picked or {
            "depth_mm": gun.status.settings.depth_mm,
            "dose_ml": gun.status.settings.dose_ml,
            "rate_hz": gun.status.settings.rate_hz,
            "mode": gun.status.settings.mode.json_name,
        }
        values = {f["name"]: f"{source[f['name']]:.{f['places']}f}" for f in fields} | {"mode": source["mode"]}
    modes = [(m.json_name, gettext(language, MODE_NAMES.get(m.json_name, m.json_name))) for m in info.limits.modes]
    return {
        "fields": fields,
        "values": values,
        "modes": modes,
        "presets": [(p["name"], _preset_text(language, p)) for p in presets],
        "preset": chosen,
        "session_preset": (session or {}).get("preset"),
        "errors": None,
        "done": None,
        "soft_limit": None,
        "reason": (form or {}).get("override_reason", ""),
        "seen_state": state_of(hosted),
    }


def _preset_text(language: str, preset: dict[str, Any]) -> str:
    """A preset as the picker lists it: its name and its values with units."""
    mode = gettext(language, MODE_NAMES.get(preset["mode"], preset["mode"]))
    return gettext(language, N_("{name}: {depth} mm, {dose} mL, {rate} shots/s, {mode}")).format(
        name=preset["name"],
        depth=number(language, preset["depth_mm"], 1),
        dose=number(language, preset["dose_ml"], 3),
        rate=number(language, preset["rate_hz"], 1),
        mode=mode,
    )


@router.get("/settings")
async def settings_form(request: Request, serial: str, preset: str = "") -> Response:
    """The settings form filled with ``preset``'s values (nothing applied until the form is sent)."""
    await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    session = await open_session(request, hosted)
    values = await settings_values(request, hosted, session, preset=preset)
    return _fragment(request, "_treat_settings_form.html", "settings", values, serial, 200)


def check_hard_limits(language: str, info: GunInfo, form: dict[str, str], errors: FieldErrors) -> dict[str, float]:
    """The numbers typed, each within the device's hard limits (the core's check, :func:`mesogun.units.to_wire`);
    one outside them is said at its field naming the range and unit."""
    numbers: dict[str, float] = {}
    for setting, field in zip(SETTINGS, setting_fields(language, info), strict=True):
        value = read_number(form, setting.name, errors, label=field["label"])
        if value is None:
            continue
        limit = _limits(info, setting)
        try:
            to_wire(setting.quantity, value, limit)
        except ParameterError as exc:
            if not from_wire(setting.quantity, limit.min) <= value <= from_wire(setting.quantity, limit.max):
                errors.say(
                    setting.name,
                    N_("{label}: {value} {unit} is outside the device's range {low}–{high} {unit}; nothing was sent"),
                    label=field["label"],
                    value=number(language, value, field["places"]),
                    unit=field["unit"],
                    low=number(language, float(field["min"]), field["places"]),
                    high=number(language, float(field["max"]), field["places"]),
                )
            else:
                errors.add(setting.name, at_field(language, field["label"], exc))
            continue
        numbers[setting.name] = value
    return numbers


@router.post("/settings")
async def apply_settings(request: Request, serial: str) -> Response:
    """Set depth, dose, rate and mode (``guns.configure``): the hard limits first (at the field, nothing sent),
    then a soft-limit crossing asks for a reason in the form; with one, it applies."""
    await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    language = language_of(request)
    errors = FieldErrors(language)
    form = await posted(request)
    session = await open_session(request, hosted)
    values = await settings_values(request, hosted, session, form=form)
    labels = {f["name"]: f["label"] for f in values["fields"]}
    labels |= {"mode": gettext(language, N_("Mode")), "override_reason": gettext(language, N_("Reason"))}
    asked = form.get("reason_asked") == "1"
    status = 409
    if fresh(request, errors, hosted, form):
        status = 422
        numbers = check_hard_limits(language, hosted.gun.info, form, errors)
        mode = form.get("mode", "")
        if mode not in {name for name, _ in values["modes"]}:
            errors.say("mode", N_("Mode: choose one of the gun's modes"))
        if not errors:
            status = await _configure(request, hosted, form, numbers, mode, asked, errors, labels, values)
    values.update(errors=errors or None, seen_state=state_of(hosted))
    if values["soft_limit"] is None and asked and status != 200:
        values["soft_limit"] = form.get("soft_limit", "")
    return _fragment(request, "_treat_settings_form.html", "settings", values, serial, status)


async def _configure(
    request: Request,
    hosted: HostedGun,
    form: dict[str, str],
    numbers: dict[str, float],
    mode: str,
    asked: bool,
    errors: FieldErrors,
    labels: dict[str, str],
    values: dict[str, Any],
) -> int:
    """The configure itself; the reply's status (its outcome said in ``values`` or ``errors``)."""
    language = errors.language
    try:
        body = ConfigureBody(
            depth_mm=numbers["depth_mm"],
            dose_ml=numbers["dose_ml"],
            rate_hz=numbers["rate_hz"],
            mode=mode,
            preset=form.get("preset") or None,
            override_reason=form.get("override_reason", "") if asked else None,
        )
        await guns.configure(request, hosted, request.app.state.soft_limits[hosted.url], body)
    except pydantic.ValidationError as exc:
        say_invalid(errors, exc, labels)
        return 422
    except SoftLimitExceeded as exc:
        values["soft_limit"] = say(exc, language)
        errors.say_form(N_("A soft limit would be crossed: say why to go ahead (kept in the record), or change it."))
        return 409
    except ReasonRequired:
        errors.say("override_reason", N_("Reason: say why the soft limit is crossed (kept in the record)"))
        return 422
    except MesogunError as exc:
        say_error(errors, exc, labels)
        return 422 if errors.by_field else http_status(exc)
    settings = hosted.gun.status.settings
    values["values"] = {f["name"]: f"{getattr(settings, f['name']):.{f['places']}f}" for f in values["fields"]} | {
        "mode": settings.mode.json_name
    }
    values["reason"] = ""
    values["done"] = gettext(language, N_("Settings applied: {depth} mm, {dose} mL, {rate} shots/s, {mode}.")).format(
        depth=number(language, settings.depth_mm, 1),
        dose=number(language, settings.dose_ml, 3),
        rate=number(language, settings.rate_hz, 1),
        mode=gettext(language, MODE_NAMES.get(settings.mode.json_name, settings.mode.json_name)),
    )
    return 200


# ---------------------------------------------------------------------------------------------- zone map


def zone_values(language: str, session: dict[str, Any] | None) -> dict[str, Any]:
    """The zone map: its views, the session's zone marked."""
    current = (session or {}).get("zone")
    return {
        "views": zone_map.views(language, current),
        "current": zone_map.label_of(language, current),
        "errors": None,
        "visit_id": (session or {}).get("visit_id"),
    }


@router.post("/zone")
async def choose_zone(request: Request, serial: str) -> Response:
    """A zone of the map: the zone the next shots are given in (``treatments.zone``)."""
    await page_user(request, Role.PRACTITIONER)
    hosted = hosted_of(request, serial)
    language = language_of(request)
    errors = FieldErrors(language)
    form = await posted(request)
    session = await open_session(request, hosted)
    status = 409
    if session is None:
        errors.say_form(N_("No treatment session is open on this gun: start one first."))
    elif fresh(request, errors, hosted, form):
        try:
            session = await treatments.change_zone(
                request,
                request.app.state.registry,
                request.app.state.record,
                int(session["visit_id"]),
                ZoneBody(zone=form.get("zone", "")),
            )
            await feed_for(request.app, hosted).refresh()  # the zone's counters at once, not at the next shot
            status = 200
        except pydantic.ValidationError as exc:
            say_invalid(errors, exc, {})
            status = 422
        except MesogunError as exc:
            errors.form = say(exc, language)
            status = http_status(exc)
    values = zone_values(language, session) | {"errors": errors or None, "seen_state": state_of(hosted)}
    return _fragment(request, "_treat_zone_map.html", "zones", values, serial, status)
