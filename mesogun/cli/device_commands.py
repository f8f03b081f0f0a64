"""Commands that talk to a gun: devices, info, status, set, load, prime, fire, stop, disarm, estop, clear.

Each command opens the device given by ``--device``, records everything in the treatment record
(``--db``), does one thing and closes; the gun is never left armed when the command exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import click

from firmware_protocol import AlarmCode, DeviceState, Mode
from mesogun.cli.firing import arm_fire_disarm
from mesogun.cli.output import emit_fields, emit_json, emit_table, plain
from mesogun.cli.session import device_url, run_on_gun, run_safe_on_gun
from mesogun.errors import RecordError, ShotsNotReceived
from mesogun.models import AlarmEvent, FiredShots, GunInfo, ShotRecord, Status
from mesogun.session.controller import HostState
from mesogun.session.gun import Gun
from mesogun.transports.discovery import list_guns
from mesogun.units import DEPTH, DOSE, RATE, Quantity, WireRange, decimals_for, fmt, from_wire

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one JSON object.")
MODE_NAMES = [m.json_name for m in Mode]


def info_fields(info: GunInfo) -> dict[str, Any]:
    """What ``info --json`` prints, in user units (the ranges' steps included)."""
    limits = info.limits
    return {
        "model": info.model,
        "serial_number": info.serial_number,
        "hardware_revision": info.hardware_revision,
        "firmware_version": info.firmware_version,
        "protocol_version": info.protocol_version,
        "fingerprint": f"0x{info.fingerprint:08X}",
        "depth_range_mm": list(info.depth_range_mm),
        "depth_step_mm": from_wire(DEPTH, limits.depth_um.step),
        "dose_range_ml": list(info.dose_range_ml),
        "dose_step_ml": from_wire(DOSE, limits.dose_nl.step),
        "rate_range_hz": list(info.rate_range_hz),
        "rate_step_hz": from_wire(RATE, limits.rate_mhz.step),
        "modes": [m.json_name for m in limits.modes],
        "syringe_sizes_ml": list(info.syringe_sizes_ml),
        "watchdog_ms": info.watchdog_ms,
        "status_period_ms": info.status_period_ms,
    }


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
        "depth": _range_text(DEPTH, limits.depth_um, "mm"),
        "dose": _range_text(DOSE, limits.dose_nl, "mL"),
        "rate": _range_text(RATE, limits.rate_mhz, "shots/s"),
        "modes": ", ".join(m.json_name for m in limits.modes),
        "syringe sizes": ", ".join(f"{size:g}" for size in info.syringe_sizes_ml) + " mL",
        "prime volume": f"at least {fmt(DOSE, limits.dose_nl.step, decimals_for(DOSE, limits.dose_nl.step))} mL",
        "watchdog": f"{info.watchdog_ms / 1000:g} s without a message from the host disarms the gun",
        "status period": f"{info.status_period_ms / 1000:g} s",
    }


def status_fields(status: Status) -> dict[str, Any]:
    """What ``status --json`` prints, in user units (shots_lifetime included)."""
    fields: dict[str, Any] = plain(status)
    settings = fields.pop("settings")
    return {"state": fields.pop("state"), **settings, **fields}


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
        "shots": f"{status.shots_session} this session, {status.shots_lifetime} lifetime, "
        f"{status.shots_remaining} left in the syringe",
        "alarms": ", ".join(code.json_name for code in status.active_alarms) or "none",
        "device time": f"{status.device_time:.3f} s since the gun powered on (the gun's clock, not this computer's)",
    }


def shot_fields(shot: ShotRecord) -> dict[str, Any]:
    """One shot as printed."""
    return dataclasses.asdict(shot)


def _print_shot_line(shot: ShotRecord, done: int, total: int, err: bool) -> None:
    of = f"/{total}" if total else ""
    click.echo(
        f"[{done}{of}] shot {shot.index}: depth {shot.depth_mm:.2f} mm, dose {shot.dose_ml:.3f} mL, "
        f"t={shot.device_time:.3f} s",
        err=err,
    )


def _print_alarm(alarm: AlarmEvent, err: bool) -> None:
    click.echo(f"ALARM {alarm.code.json_name} ({alarm.priority.json_name} priority)", err=err)


@click.command("devices")
@click.option("--vid-pid", metavar="VVVV:PPPP", help="Only ports with this USB vendor:product id (hex).")
@JSON_OPTION
def devices_command(vid_pid: str | None, as_json: bool) -> None:
    """List serial ports that may be guns, with VID:PID, serial number and description."""
    ports = list_guns(vid_pid)
    if as_json:
        emit_json([dataclasses.asdict(p) for p in ports])
    elif not ports:
        click.echo("no serial ports found" + (f" with VID:PID {vid_pid}" if vid_pid else ""))
    else:
        emit_table([dataclasses.asdict(p) for p in ports], ["device", "vid_pid", "serial_number", "description"])


@click.command("info")
@JSON_OPTION
@click.pass_context
def info_command(ctx: click.Context, as_json: bool) -> None:
    """Show the gun's identity and hard limits as it reports them."""

    async def body(gun: Gun) -> GunInfo:
        return gun.info

    info = run_on_gun(device_url(ctx), ctx.obj.db, body)
    emit_json(info_fields(info)) if as_json else emit_fields(info_text(info))


@click.command("status")
@JSON_OPTION
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show the gun's state, parameters, syringe and shot counters (session and lifetime), in mm, mL, shots/s and
    seconds; the device time is on the gun's own clock (seconds since it powered on)."""

    async def body(gun: Gun) -> tuple[Status, GunInfo]:
        return await gun.refresh_status(), gun.info

    status, info = run_on_gun(device_url(ctx), ctx.obj.db, body)
    emit_json(status_fields(status)) if as_json else emit_fields(status_text(status, info))


@click.command("set")
@click.option("--depth", type=float, metavar="MM", help="Needle depth, mm (e.g. 1.5).")
@click.option("--dose", type=float, metavar="ML", help="Drop volume per shot, mL (e.g. 0.02).")
@click.option("--rate", type=float, metavar="HZ", help="Firing rate, shots per second (e.g. 3).")
@click.option("--mode", type=click.Choice(MODE_NAMES), help="Firing mode.")
@JSON_OPTION
@click.pass_context
def set_command(
    ctx: click.Context, depth: float | None, dose: float | None, rate: float | None, mode: str | None, as_json: bool
) -> None:
    """Set depth, dose, rate and mode (omitted ones keep their value) and print what the device applied."""
    if depth is None and dose is None and rate is None and mode is None:
        raise click.UsageError("nothing to set: give at least one of --depth, --dose, --rate, --mode")

    async def body(gun: Gun) -> Any:
        return await gun.configure(depth_mm=depth, dose_ml=dose, rate_hz=rate, mode=mode)

    applied = plain(run_on_gun(device_url(ctx), ctx.obj.db, body))
    emit_json(applied) if as_json else emit_fields(applied)


@click.command("load")
@click.option("--capacity", type=float, required=True, metavar="ML", help="Syringe capacity, mL (e.g. 5).")
@click.option("--fill", type=float, metavar="ML", help="Volume in the syringe, mL (default: full).")
@JSON_OPTION
@click.pass_context
def load_command(ctx: click.Context, capacity: float, fill: float | None, as_json: bool) -> None:
    """Declare a newly loaded syringe (the line must be primed again)."""

    async def body(gun: Gun) -> Any:
        return await gun.load_syringe(capacity_ml=capacity, fill_ml=fill)

    loaded = plain(run_on_gun(device_url(ctx), ctx.obj.db, body))
    emit_json(loaded) if as_json else emit_fields(loaded)


@click.command("prime")
@click.option("--volume", type=float, required=True, metavar="ML", help="Volume to push through the line, mL.")
@JSON_OPTION
@click.pass_context
def prime_command(ctx: click.Context, volume: float, as_json: bool) -> None:
    """Prime the line (expel air); uses reservoir volume. Returns once the gun is ready."""

    async def body(gun: Gun) -> dict[str, Any]:
        primed = await gun.prime(volume_ml=volume)
        return {"primed_ml": primed, "reservoir_ml": gun.status.reservoir_ml}

    result = run_on_gun(device_url(ctx), ctx.obj.db, body)
    emit_json(result) if as_json else emit_fields(result)


@click.command("fire")
@click.option("--count", type=click.IntRange(min=0), required=True, help="Shots to fire; 0 = until Ctrl-C.")
@JSON_OPTION
@click.pass_context
def fire_command(ctx: click.Context, count: int, as_json: bool) -> None:
    """Arm, fire COUNT shots at the set rate, and disarm, printing each shot as it lands.

    With --count 0 the gun fires until Ctrl-C, then stops and disarms. The gun is never left armed when
    this command exits, whatever happens.
    """
    progress: list[int] = [0]

    def on_shot(shot: ShotRecord) -> None:
        progress[0] += 1
        _print_shot_line(shot, progress[0], count, err=as_json)

    stop_request = asyncio.Event()  # Ctrl-C sets it: firing stops, the gun is disarmed, the shots are printed

    async def body(gun: Gun) -> list[ShotRecord]:
        on_alarm = functools.partial(_print_alarm, err=as_json)
        with warnings.catch_warnings():  # the summary line names shots not received: no Python warning too
            warnings.simplefilter("ignore", ShotsNotReceived)
            return await arm_fire_disarm(gun, count, on_shot, on_alarm, stop_request if count == 0 else None)

    shots = run_on_gun(device_url(ctx), ctx.obj.db, body, stop_request=stop_request if count == 0 else None)
    volume = sum(s.dose_ml for s in shots)
    fired = shots.fired if isinstance(shots, FiredShots) else len(shots)  # the device's count
    recovered, unreceived = sum(s.recovered for s in shots), fired - len(shots)
    if as_json:
        summary = {"fired": fired, "recovered": recovered, "unreceived": unreceived, "volume_ml": round(volume, 6)}
        emit_json({**summary, "shots": [shot_fields(s) for s in shots]})
    else:
        said = ((recovered, "recovered from the device log"), (unreceived, "not received"))
        notes = "".join(f"; {_shots_details(n)} {what}" for n, what in said if n)
        click.echo(f"fired {fired} shots, {volume:.3f} mL{notes}")


def _shots_details(count: int) -> str:
    """``1 shot's details``, ``2 shots' details``."""
    return f"{count} shot's details" if count == 1 else f"{count} shots' details"


SafeAction = Callable[[Gun], Awaitable[str | None]]
"""A safe-making command's body: does it, returns what to say when the gun was already safe (else None)."""


async def _stop(gun: Gun) -> str | None:
    was_firing = gun.state is HostState.FIRING
    await gun.stop()  # sent whatever the host believes: a fire whose ack was lost may be firing
    return None if was_firing else "already stopped (the gun was not firing)"


async def _estop(gun: Gun) -> str | None:
    was_stopped = gun.state is HostState.EMERGENCY_STOP
    await gun.emergency_stop()
    return "already in emergency stop" if was_stopped else None


async def _disarm(gun: Gun) -> str | None:
    return None if await gun.disarm() else "already disarmed"


async def _clear(gun: Gun) -> str | None:
    status = gun.status
    latched = status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP) or any(
        code is not AlarmCode.RESERVOIR_LOW for code in status.active_alarms
    )
    await gun.clear_alarm()
    return None if latched else "nothing was latched (already clear)"


def _safe_command(name: str, action: SafeAction, doc: str) -> click.Command:
    """A command that makes the gun safe: it succeeds (exit 0) in every state, saying so if it was already."""

    @click.command(name, help=doc)
    @JSON_OPTION
    @click.pass_context
    def command(ctx: click.Context, as_json: bool) -> None:
        async def body(gun: Gun) -> tuple[str | None, Status]:
            note = await action(gun)
            return note, gun.status

        (note, status), record_error = run_safe_on_gun(device_url(ctx), ctx.obj.db, body)
        state = status.state.json_name
        if as_json:
            emit_json({"done": name, "state": state, "already": note is not None})
        else:
            click.echo(f"{name}: {note or 'done'}, gun {state}")
        if record_error is not None:  # sent first; now say loudly that it is not on record (exit 6)
            raise RecordError(f"{name} was sent (gun {state}), but it is NOT in the treatment record: {record_error}")

    return command


DEVICE_COMMANDS: list[click.Command] = [
    devices_command,
    info_command,
    status_command,
    set_command,
    load_command,
    prime_command,
    fire_command,
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
