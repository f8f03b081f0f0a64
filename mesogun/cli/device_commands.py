"""Commands that talk to a gun: info, status, set, load, prime, fire, stop, disarm, estop, clear, diagnostics.

Each command opens the device given by ``--device``, records everything in the treatment record
(``--db``), does one thing and closes; the gun is never left armed when the command exits. With a running gun
service (:func:`mesogun.cli.session.on_gun`) the same bodies go through it, and the service keeps the record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import click

from firmware_protocol import AlarmCode, DeviceState, Mode
from mesogun.cli.diagnostics import diagnostics_command
from mesogun.cli.firing_commands import FIRING_COMMANDS
from mesogun.cli.output import emit_fields, emit_json
from mesogun.cli.overrides import OVERRIDE_NOTE, confirm_override, send_overrides_with, stdin_is_terminal
from mesogun.cli.session import CliGun, on_gun, on_gun_safe
from mesogun.clinic.limits import breaches
from mesogun.errors import IncompatibleDevice, RecordError
from mesogun.json_forms import info_fields, plain, status_fields
from mesogun.models import GunInfo, Settings, Status, Syringe
from mesogun.presets import NAPPAGE_SOFT_MAX_DEPTH_MM, PRESETS, Preset
from mesogun.session.controller import HostState
from mesogun.units import DEPTH, DOSE, RATE, Quantity, WireRange, decimals_for, fmt

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one JSON object.")
MODE_NAMES = [m.json_name for m in Mode]


def _range_text(q: Quantity, limits: WireRange, unit: str) -> str:
    d = decimals_for(q, limits.step)
    return f"{fmt(q, limits.min, d)}–{fmt(q, limits.max, d)} {unit}, in steps of {fmt(q, limits.step, d)} {unit}"


def info_text(info: GunInfo) -> dict[str, str]:
    """What ``info`` shows a person: ranges with their units and steps."""
    limits = info.limits
    return {
        "model": info.model,
        "serial number": info.serial_number,
        "hardware revision": info.hardware_revision,
        "firmware version": info.firmware_version,
        "protocol version": str(info.protocol_version),
        "catalog fingerprint": f"0x{info.fingerprint:08X}",
        "calibration": f"id {info.calibration_id} ('mesogun calibrate history' has its run)"
        if info.calibration_id
        else "factory: never calibrated",
        "depth": _range_text(DEPTH, limits.depth_um, "mm"),
        "dose": _range_text(DOSE, limits.dose_nl, "mL"),
        "rate": _range_text(RATE, limits.rate_mhz, "shots/s"),
        "modes": ", ".join(m.json_name for m in limits.modes),
        "syringe sizes": ", ".join(f"{size:g}" for size in info.syringe_sizes_ml) + " mL",
        "prime volume": f"at least {fmt(DOSE, limits.dose_nl.step, decimals_for(DOSE, limits.dose_nl.step))} mL",
        "watchdog": f"{info.watchdog_ms / 1000:g} s without a message from the host disarms the gun",
        "status period": f"{info.status_period_ms / 1000:g} s",
        "remote fire": "accepted (fire from this host)"
        if info.remote_fire
        else "refused: fires from its trigger and pedal only",
        "burst per press": f"1–{info.burst_count_max} shots (mode burst, trigger or pedal)",
    }


def status_text(status: Status, info: GunInfo) -> dict[str, str]:
    """What ``status`` shows a person: user units (mm, mL, shots/s, seconds), each time with the clock it is on."""
    limits = info.limits
    mm, ml, hz = (
        decimals_for(q, r.step) for q, r in ((DEPTH, limits.depth_um), (DOSE, limits.dose_nl), (RATE, limits.rate_mhz))
    )
    settings = status.settings
    if status.syringe_capacity_ml:
        syringe = f"{status.syringe_capacity_ml:g} mL syringe, {status.reservoir_ml:.{ml}f} mL left"
        syringe += ", line primed" if status.primed else ", line not primed"
    else:
        syringe = "none loaded"
    return {
        "state": status.state.json_name,
        "depth": f"{settings.depth_mm:.{mm}f} mm (needle stop now at {status.needle_depth_mm:.{mm}f} mm)",
        "dose": f"{settings.dose_ml:.{ml}f} mL per shot",
        "rate": f"{settings.rate_hz:.{hz}f} shots/s",
        "mode": settings.mode.json_name,
        "syringe": syringe,
        "shots": f"{status.shots_session} this session, {status.shots_lifetime} lifetime"
        + (f", {status.shots_remaining} left in this fire command" if status.shots_remaining else ""),
        "alarms": ", ".join(code.json_name for code in status.active_alarms) or "none",
        "device time": f"{status.device_time:.3f} s since the gun powered on (the gun's clock, not this computer's)",
    }


@click.command("info")
@JSON_OPTION
@click.pass_context
def info_command(ctx: click.Context, as_json: bool) -> None:
    """Show the gun's identity and hard limits as it reports them."""

    async def body(gun: CliGun) -> GunInfo:
        return gun.info

    info = on_gun(ctx, body)
    emit_json(info_fields(info)) if as_json else emit_fields(info_text(info))


@click.command("status")
@JSON_OPTION
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show the gun's state, parameters, syringe and shot counters (session and lifetime), in mm, mL, shots/s and
    seconds; the device time is on the gun's own clock (seconds since it powered on)."""

    async def body(gun: CliGun) -> tuple[Status, GunInfo]:
        return await gun.refresh_status(), gun.info

    status, info = on_gun(ctx, body)
    emit_json(status_fields(status)) if as_json else emit_fields(status_text(status, info))


@click.command("set")
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    help="Start from a treatment preset's depth, dose, rate and mode; --depth, --dose, --rate or --mode given "
    "with it override the preset's value.",
)
@click.option("--depth", type=float, metavar="MM", help="Needle depth, mm (e.g. 1.5).")
@click.option("--dose", type=float, metavar="ML", help="Drop volume per shot, mL (e.g. 0.02).")
@click.option("--rate", type=float, metavar="HZ", help="Firing rate, shots per second (e.g. 3).")
@click.option("--mode", type=click.Choice(MODE_NAMES), help="Firing mode.")
@click.option(
    "--yes",
    is_flag=True,
    help=f"Go past a soft limit (nappage deeper than {NAPPAGE_SOFT_MAX_DEPTH_MM:g} mm, a --preset's depth limit) "
    "without being asked; needs --reason.",
)
@click.option("--reason", metavar="TEXT", help="Why a soft limit is overridden; entered in the treatment record.")
@JSON_OPTION
@click.pass_context
def set_command(
    ctx: click.Context,
    preset: str | None,
    depth: float | None,
    dose: float | None,
    rate: float | None,
    mode: str | None,
    yes: bool,
    reason: str | None,
    as_json: bool,
) -> None:
    """Set depth, dose, rate and mode from a --preset and/or one by one (omitted ones keep their value) and
    print what the device applied.

    Nappage deeper than its soft limit (2 mm; a limit of the technique, not of the device), or a depth past
    the --preset's own soft limit (face 2.5 mm, scalp 3.5 mm), warns and asks for confirmation and a reason on a
    terminal; without a terminal it needs --yes --reason TEXT, else it exits 2
    and sends nothing. A confirmed override is entered in the treatment record with its reason (see 'mesogun
    record show --session'). Through a gun service with a treatment session open on the gun, the service also
    checks the session preset's limits (refused, exit 2, unless --yes --reason).
    """
    chosen: Preset | None = None
    if preset is not None:
        chosen = PRESETS[preset]
        depth = chosen.depth_mm if depth is None else depth
        dose = chosen.dose_ml if dose is None else dose
        rate = chosen.rate_hz if rate is None else rate
        mode = mode or chosen.mode.json_name
    if depth is None and dose is None and rate is None and mode is None:
        raise click.UsageError("nothing to set: give --preset NAME or at least one of --depth, --dose, --rate, --mode")
    if yes and not (reason and reason.strip()):
        raise click.UsageError("--yes needs --reason TEXT: an override is entered in the treatment record with why")
    wanted_mode = Mode[mode.upper()] if mode else None
    ask = stdin_is_terminal()
    confirmed: str | None = None  # the override's reason, once confirmed
    breach = _soft_limit_breach(chosen, wanted_mode, depth) if wanted_mode is not None and depth is not None else None
    if breach is not None:  # known before connecting: ask (or refuse) before anything is sent
        confirmed = confirm_override(breach, yes=yes, reason=reason, ask=ask, value=depth)

    def apply(confirmed: str | None) -> tuple[Settings, str | None] | str:
        async def body(gun: CliGun) -> tuple[Settings, str | None] | str:
            current = gun.status.settings
            depth_then = current.depth_mm if depth is None else depth
            breach = _soft_limit_breach(chosen, wanted_mode or current.mode, depth_then)
            why = confirmed
            if breach is not None and why is None:
                if ask and not yes:
                    return breach  # the device's own values go past the limit: ask with the gun left as it is
                why = confirm_override(breach, yes=yes, reason=reason, ask=False, value=depth)
            given = why or (reason.strip() if yes and reason else None)
            through_service = send_overrides_with(gun, given, preset)  # the service checks, and enters it
            if breach is not None and why is not None and not through_service:
                await gun.note(OVERRIDE_NOTE, f"confirmed: {breach}", why)  # on record before it is sent
            applied = await gun.configure(depth_mm=depth, dose_ml=dose, rate_hz=rate, mode=mode)
            return applied, breach

        return on_gun(ctx, body)

    result = apply(confirmed)
    if isinstance(result, str):
        result = apply(confirm_override(result, yes=yes, reason=reason, ask=True, value=depth))
    assert not isinstance(result, str)  # a confirmed override is applied, never asked about again
    applied, overridden = result
    emit_json(plain(applied)) if as_json else emit_fields(plain(applied))
    if overridden is not None:
        click.echo(f"override entered in the treatment record: {overridden}", err=True)


def _soft_limit_breach(preset: Preset | None, mode: Mode, depth_mm: float) -> str | None:
    """The soft limits these settings go past, in one line (:func:`mesogun.clinic.limits.breaches`), or ``None``."""
    found = breaches(preset, mode, depth_mm)
    return "; ".join(b.message for b in found) if found else None


@click.command("load")
@click.option("--capacity", type=float, required=True, metavar="ML", help="Syringe capacity, mL (e.g. 5).")
@click.option("--fill", type=float, metavar="ML", help="Volume in the syringe, mL (default: full).")
@click.option(
    "--brand",
    metavar="BRAND",
    help="The syringe's brand, declared to the gun so its volume calibration for it applies (e.g. BD; "
    "default through a service: the treatment session's).",
)
@JSON_OPTION
@click.pass_context
def load_command(ctx: click.Context, capacity: float, fill: float | None, brand: str | None, as_json: bool) -> None:
    """Declare a newly loaded syringe (the line must be primed again) and its brand."""

    async def body(gun: CliGun) -> Syringe:
        return await gun.load_syringe(capacity_ml=capacity, fill_ml=fill, brand=brand)

    syringe = on_gun(ctx, body)
    if as_json:
        emit_json(plain(syringe))
    else:  # the warnings go to stderr, one line each; no brand declared: no brand line
        lines = {k: v for k, v in plain(syringe).items() if k != "warnings" and v is not None}
        emit_fields(lines)
    for warning in syringe.warnings:
        click.echo(f"warning: {warning}", err=True)


SafeAction = Callable[[CliGun], Awaitable[str | None]]
"""A safe-making command's body: does it, returns what to say when the gun was already safe (else None)."""


async def _stop(gun: CliGun) -> str | None:
    was_firing = gun.state is HostState.FIRING
    await gun.stop()  # sent whatever the host believes: a fire whose ack was lost may be firing
    return None if was_firing else "already stopped (the gun was not firing)"


async def _estop(gun: CliGun) -> str | None:
    was_stopped = gun.state is HostState.EMERGENCY_STOP
    await gun.emergency_stop()
    return "already in emergency stop" if was_stopped else None


async def _disarm(gun: CliGun) -> str | None:
    return None if await gun.disarm() else "already disarmed"


async def _clear(gun: CliGun) -> str | None:
    status = gun.status
    latched = status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP) or any(
        code is not AlarmCode.RESERVOIR_LOW for code in status.active_alarms
    )
    await gun.clear_alarm()
    return None if latched else "nothing was latched (already clear)"


async def _send_to_incompatible(gun: CliGun, name: str) -> str:
    """``stop``/``estop`` to a gun of another core catalog (sent, unrecorded, state unknown); others refused."""
    error = gun.incompatible
    assert error is not None
    if name == "stop":
        await gun.stop()
    elif name == "estop":
        await gun.emergency_stop()
    else:
        raise IncompatibleDevice(f"{name} refused: {error}; only stop and estop reach it")
    return f"sent, not recorded, the gun's state unknown: {error}"


def _safe_command(name: str, action: SafeAction, doc: str) -> click.Command:
    """A command that makes the gun safe: it succeeds (exit 0) in every state, saying so if it was already."""

    @click.command(name, help=doc)
    @JSON_OPTION
    @click.pass_context
    def command(ctx: click.Context, as_json: bool) -> None:
        async def body(gun: CliGun) -> tuple[str | None, Status | None]:
            if gun.incompatible is not None:  # another core catalog: only stop and emergency_stop reach it
                return await _send_to_incompatible(gun, name), None
            note = await action(gun)
            return note, gun.status

        (note, status), record_error = on_gun_safe(ctx, body)
        if status is None:
            assert note is not None
            emit_json({"done": name, "state": None, "already": False}) if as_json else click.echo(f"{name}: {note}")
            return
        state = status.state.json_name
        if as_json:
            emit_json({"done": name, "state": state, "already": note is not None})
        else:
            click.echo(f"{name}: {note or 'done'}, gun {state}")
        if record_error is not None:  # sent first; now say loudly that it is not on record (exit 6)
            raise RecordError(f"{name} was sent (gun {state}), but it is NOT in the treatment record: {record_error}")

    return command


DEVICE_COMMANDS: list[click.Command] = [
    info_command,
    status_command,
    diagnostics_command,
    set_command,
    load_command,
    *FIRING_COMMANDS,
    _safe_command("stop", _stop, "Stop firing at the end of the shot in progress (succeeds if not firing)."),
    _safe_command("disarm", _disarm, "Disarm the gun (succeeds, saying so, if it is not armed)."),
    _safe_command("estop", _estop, "Emergency stop: stops everything, latched until 'clear'."),
    _safe_command(
        "clear",
        _clear,
        "Clear latched alarms, notices (brownout_reset) and an emergency stop (their cause must be gone); "
        "succeeds, saying so, if nothing is latched.",
    ),
]
