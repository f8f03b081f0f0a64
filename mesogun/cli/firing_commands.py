"""``mesogun fire`` and ``mesogun prime``: the commands that deliver liquid, with live progress.

How they show progress (plain lines, a progress bar on a terminal, JSON lines) is :mod:`mesogun.cli.progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import click

from firmware_protocol import Mode
from mesogun.cli.firing import arm_fire_disarm
from mesogun.cli.hints import cli_message
from mesogun.cli.overrides import send_overrides_with
from mesogun.cli.progress import FireReport, PrimeReport, choose_style, fire_report, prime_report
from mesogun.cli.session import CliGun, on_gun
from mesogun.errors import DeviceAlarm, MesogunError, ParameterError, ShotsNotReceived
from mesogun.models import AlarmEvent, FiredShots
from mesogun.session.controller import HostState

JSON_LINES_OPTION = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Machine-readable: JSON lines on stdout as things happen ({"event": "shot"|"alarm"|"summary", …}), '
    "nothing else there.",
)


def check_single_mode(gun: CliGun, count: int) -> None:
    """In ``single`` mode a fire delivers one shot: refuse any other count before anything is sent (exit 2).

    Checked on a gun ready to arm: one that is not is refused by arming, which says what to do first."""
    if gun.state is HostState.READY and gun.status.settings.mode is Mode.SINGLE and count != 1:
        asked = "until stopped (--count 0)" if count == 0 else f"{count} shots"
        raise ParameterError(
            f"count={count}: the gun is in single mode, which fires one shot per fire, not {asked}; give "
            "--count 1, or run 'mesogun set --mode burst' (or continuous) to fire a series",
            field="count",
            value=count,
        )


async def fire_with_report(
    gun: CliGun, count: int, report: FireReport, stop_request: asyncio.Event | None = None
) -> FiredShots:
    """Arm, fire ``count`` shots (0: until ``stop_request``), disarm, telling ``report`` as it goes; the
    closing summary carries the reservoir the device reports after the burst."""
    check_single_mode(gun, count)
    with warnings.catch_warnings():  # the summary names shots not received: no Python warning as well
        warnings.simplefilter("ignore", ShotsNotReceived)
        try:
            shots = await arm_fire_disarm(
                gun,
                count,
                lambda shot: report.shot(shot, gun.status.reservoir_ml),
                report.alarm,
                stop_request if count == 0 else None,
                on_ack=report.acknowledged,
            )
        except DeviceAlarm as alarm:  # the summary after the alarm carries the device's count too
            report.completed(alarm.fired)
            raise
    report.completed(shots.fired)
    report.totals.reservoir_ml = (await gun.refresh_status()).reservoir_ml
    return shots


@contextlib.asynccontextmanager
async def alarms_to(gun: CliGun, on_alarm: Callable[[AlarmEvent], None]) -> AsyncIterator[None]:
    """Pass every alarm the gun raises while the block runs to ``on_alarm``."""

    async def forward() -> None:
        async for event in events:
            if isinstance(event, AlarmEvent) and event.raised:
                on_alarm(event)

    events = gun.events()
    task = asyncio.create_task(forward())
    try:
        yield
    finally:
        events.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def prime_with_report(gun: CliGun, volume: float, report: PrimeReport) -> dict[str, Any]:
    """Prime ``volume`` mL, telling ``report`` as it goes; return ``primed_ml`` and ``reservoir_ml``."""
    report.started(volume, gun.status.reservoir_ml)
    async with alarms_to(gun, report.alarm):
        primed = await gun.prime(volume_ml=volume)
    return {"primed_ml": primed, "reservoir_ml": gun.status.reservoir_ml}


@click.command("prime")
@click.option("--volume", type=float, required=True, metavar="ML", help="Volume to push through the line, mL.")
@JSON_LINES_OPTION
@click.pass_context
def prime_command(ctx: click.Context, volume: float, as_json: bool) -> None:
    """Prime the line (expel air); uses reservoir volume. Returns once the gun is ready.

    On a terminal a spinner on stderr shows the volume, the reservoir and the time elapsed; the result
    (primed_ml, reservoir_ml) goes to stdout.
    """
    with prime_report(choose_style(as_json)) as report:
        try:
            result = on_gun(ctx, lambda gun: prime_with_report(gun, volume, report))
        except (MesogunError, KeyboardInterrupt) as exc:
            report.finish(None, _why(exc, "prime"))
            raise
        report.finish(result)


@click.command("fire")
@click.option("--count", type=click.IntRange(min=0), required=True, help="Shots to fire; 0 = until Ctrl-C.")
@click.option(
    "--yes",
    is_flag=True,
    help="Go past the treatment zone's volume limit (a gun service's treatment session) without being refused; "
    "needs --reason.",
)
@click.option("--reason", metavar="TEXT", help="Why the zone's volume limit is overridden; entered in the record.")
@JSON_LINES_OPTION
@click.pass_context
def fire_command(ctx: click.Context, count: int, yes: bool, reason: str | None, as_json: bool) -> None:
    """Arm, fire COUNT shots at the set rate, and disarm, showing each shot as it lands.

    On a terminal a progress bar on stderr shows the running totals (shots, volume delivered, reservoir
    left, elapsed); otherwise one line per shot. The count is the one the device acknowledged. In single
    mode a fire is one shot: a COUNT other than 1 is refused before anything is sent. With --count 0 the gun
    fires until Ctrl-C, then stops and disarms. The gun is never left armed when this command exits,
    whatever happens.

    Through a gun service with a treatment session open on the gun, a fire whose shots would take the session's
    zone past its preset's volume per zone (or arming in a zone at its limit) is refused, exit 2, unless --yes
    --reason TEXT (the override and its reason are entered in the record).
    """
    if yes and not (reason and reason.strip()):
        raise click.UsageError("--yes needs --reason TEXT: an override is entered in the treatment record with why")
    why = reason.strip() if yes and reason else None
    stop_request = asyncio.Event()  # Ctrl-C sets it: firing stops, the gun is disarmed, the shots are shown
    until_stopped = stop_request if count == 0 else None
    with fire_report(choose_style(as_json), count) as report:
        try:

            async def body(gun: CliGun) -> FiredShots:
                send_overrides_with(gun, why)  # through a service: its treatment session's limits
                return await fire_with_report(gun, count, report, until_stopped)

            on_gun(ctx, body, stop_request=until_stopped)
        except (MesogunError, KeyboardInterrupt) as exc:
            if isinstance(exc, DeviceAlarm) and exc.alarm is not None:
                report.stopped_by(exc.alarm)
            report.finish(None, _why(exc, "fire"))
            raise
        report.finish(None)


def _why(exc: BaseException, command: str) -> str:
    """Why a command ended early, as the CLI says it."""
    return cli_message(exc, command) if isinstance(exc, MesogunError) else "interrupted"


FIRING_COMMANDS: list[click.Command] = [prime_command, fire_command]
"""The commands of this module, registered with the other device commands."""
