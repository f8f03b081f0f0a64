"""``mesogun calibrate volume|depth|rate|history``: a technician's calibration run on a gun (issue 16), and the
calibration history kept in the record.

At a terminal the run prompts for what its options did not give; ``--yes`` (or ``--json``, or no terminal)
makes it scripted: every answer from the options, every confirmation given. ``--json`` prints JSON lines: each
step, each reading, then the whole run. An abort (Ctrl-C, a balance error, a refused write, a declined step)
leaves the gun with its old calibration and the run recorded as aborted.

Exit codes as every command's, and 1 when the run ended failed (as-left outside the limits; the gun keeps its
old calibration).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mesogun.calibration.procedure import RESTORED_NOTE, DepthPlan, Procedure, RatePlan, VolumePlan
from mesogun.calibration.prompts import (
    JsonLinesReporter,
    ScriptedPrompter,
    TerminalPrompter,
    TextReporter,
    point_words,
)
from mesogun.calibration.seams import CalibrationRun, CalibrationTarget, Prompter, Reporter, RunOutcome
from mesogun.cli.output import emit_fields
from mesogun.cli.session import device_url, run_on_gun
from mesogun.session.gun import Gun

if TYPE_CHECKING:
    from mesogun.cli.remote import ServiceTarget
    from mesogun.cli.session import CliGun

OPTION_OF = {
    "technician": "--technician",
    "meaning": "--meaning",
    "temperature_c": "--temperature",
    "pressure_hpa": "--pressure",
    "humidity_pct": "--humidity",
    "syringe_brand": "--syringe-brand",
    "balance_due": "--balance-due",
    "check_weight_g": "--check-weight-g",
    "check_weight_id": "--check-weight-id",
    "depth_reading": "--gauge",
}
"""Each prompt's key → the option that answers it in a scripted run (what a refusal names)."""

FAILED_EXIT = 1
"""Exit code of a run that ended failed (as-left outside the limits)."""


@dataclass
class Invocation:
    """What one ``calibrate`` command was given."""

    answers: dict[str, object]
    yes: bool
    as_json: bool
    certificate: Path | None
    runs: list[CalibrationRun] = field(default_factory=list)
    procedure: Procedure | None = None
    """The run's procedure once it started (a passed run whose save fails is abandoned through it)."""

    def scripted(self) -> bool:
        return self.yes or self.as_json or not sys.stdin.isatty()

    def prompter(self, on_prompt: Callable[[str], Awaitable[None] | None] | None = None) -> Prompter:
        given = {k: v for k, v in self.answers.items() if v is not None}
        if self.scripted():
            return ScriptedPrompter(given, yes=self.yes, options=OPTION_OF, on_prompt=on_prompt)
        return TerminalPrompter(given, yes=self.yes)


F = TypeVar("F", bound=Callable[..., Any])


def _common(command: F) -> F:
    """The options every run takes."""
    for option in reversed(
        (
            click.option("--technician", metavar="NAME", help="Who performs and signs the run."),
            click.option(
                "--meaning", metavar="TEXT", help="What the signature means (default: performed, true and complete)."
            ),
            click.option(
                "--temperature",
                "temperature_c",
                type=float,
                metavar="°C",
                help="Water and room temperature (15–30 °C).",
            ),
            click.option("--pressure", "pressure_hpa", type=float, metavar="HPA", help="Air pressure (800–1060 hPa)."),
            click.option("--humidity", "humidity_pct", type=float, metavar="%", help="Relative humidity (0–100 %)."),
            click.option(
                "--due-in-days",
                type=click.IntRange(1, 3 * 366),
                default=365,
                show_default=True,
                help="Days until the next calibration is due.",
            ),
            click.option(
                "--yes", "-y", is_flag=True, help="Scripted: every confirmation given, every answer from the options."
            ),
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help="JSON lines on stdout: each step, each reading, then the run (scripted).",
            ),
            click.option(
                "--certificate",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Write the run's certificate (PDF) here too.",
            ),
        )
    ):
        command = option(command)
    return command


@click.group("calibrate", context_settings={"help_option_names": ["-h", "--help"]})
def calibrate_group() -> None:
    """Calibrate a gun (technician): volume by weighing, needle depth with a gauge, firing rate on the host's
    clock; and the calibration history the record keeps."""


@calibrate_group.command("volume")
@click.option(
    "--balance",
    "balance_url",
    required=True,
    metavar="URL",
    help="The balance: a serial port, socket://HOST:PORT or sim-balance://?gun=SERIAL.",
)
@click.option(
    "--balance-due",
    metavar="YYYY-MM-DD",
    help="The balance's calibration due date (its certificate); an overdue balance is refused.",
)
@click.option("--syringe-brand", metavar="BRAND", help="The syringe's brand (volume is calibrated per brand).")
@click.option(
    "--syringe-ml", type=float, metavar="ML", help="The syringe loaded, full of water (default: the gun's largest)."
)
@click.option(
    "--nominal-ul",
    type=float,
    metavar="UL",
    help="Top of the range tested (default: the gun's largest drop); 50 % and 10 % of it too.",
)
@click.option("--check-weight-g", type=float, metavar="G", help="The check weight's nominal mass.")
@click.option("--check-weight-id", metavar="ID", help="The check weight's identification (class, serial number).")
@click.option(
    "--blank-s",
    type=click.FloatRange(5, 600),
    default=60.0,
    show_default=True,
    help="Seconds of the evaporation blank.",
)
@_common
@click.pass_context
def volume_command(
    ctx: click.Context,
    /,
    balance_url: str,
    syringe_ml: float | None,
    nominal_ul: float | None,
    blank_s: float,
    due_in_days: int,
    **given: Any,
) -> None:
    """Calibrate the delivered volume for one syringe brand by weighing (ISO 8655-6): 10 weighings at each of 3
    volumes as found, the correction written, 10 again as left."""
    inv = _invocation(given)
    plan = VolumePlan(nominal_ul=nominal_ul, syringe_ml=syringe_ml, blank_s=blank_s, due_in_days=due_in_days)

    async def run(gun: object, procedure_for: Callable[[Prompter], Procedure]) -> CalibrationRun:
        from mesogun.balance import open_balance

        balance = await open_balance(balance_url)
        try:
            procedure = procedure_for(inv.prompter(_simulated_technician(balance, inv.answers)))
            return await _keeping(inv, procedure, procedure.volume(balance, plan))
        finally:
            await balance.close()

    _conduct(ctx, inv, run)


@calibrate_group.command("depth")
@click.option(
    "--gauge",
    "gauge_url",
    metavar="URL",
    help="The depth gauge (serial port, socket:// or sim-gauge://); without it, readings are typed in.",
)
@_common
@click.pass_context
def depth_command(ctx: click.Context, /, gauge_url: str | None, due_in_days: int, **given: Any) -> None:
    """Calibrate the needle depth: the needle held at depths across the range, a gauge read at each, the offset
    and gain written, read again as left (±0.05 mm)."""
    inv = _invocation(given)

    async def run(gun: object, procedure_for: Callable[[Prompter], Procedure]) -> CalibrationRun:
        from mesogun.calibration.instruments import open_depth_gauge

        async with open_depth_gauge(gauge_url) as gauge:
            procedure = procedure_for(inv.prompter())
            return await _keeping(inv, procedure, procedure.depth(gauge, DepthPlan(due_in_days=due_in_days)))

    _conduct(ctx, inv, run)


@calibrate_group.command("rate")
@click.option(
    "--rate-hz",
    type=float,
    multiple=True,
    metavar="HZ",
    help="A rate to test (repeatable; default: half the gun's fastest).",
)
@click.option(
    "--seconds", type=click.FloatRange(60, 600), default=60.0, show_default=True, help="How long each rate is timed."
)
@_common
@click.pass_context
def rate_command(
    ctx: click.Context, /, rate_hz: tuple[float, ...], seconds: float, due_in_days: int, **given: Any
) -> None:
    """Calibrate the firing rate: shots fired for at least 60 s and timed on this computer's clock (the gun's own
    clock runs as wrong as its rate), the correction written, timed again as left (±1 %)."""
    inv = _invocation(given)
    plan = RatePlan(rates_hz=rate_hz or None, seconds=seconds, due_in_days=due_in_days)

    async def run(gun: object, procedure_for: Callable[[Prompter], Procedure]) -> CalibrationRun:
        procedure = procedure_for(inv.prompter())
        return await _keeping(inv, procedure, procedure.rate(plan))

    _conduct(ctx, inv, run)


# ---------------------------------------------------------------------------------------------- running


def _invocation(given: dict[str, Any]) -> Invocation:
    yes, as_json, certificate = given.pop("yes"), given.pop("as_json"), given.pop("certificate")
    return Invocation(answers=given, yes=yes, as_json=as_json, certificate=certificate)


async def _keeping(inv: Invocation, procedure: Procedure, run: Awaitable[CalibrationRun]) -> CalibrationRun:
    """Await the run; its record is kept even when it aborts (the error goes on after)."""
    inv.procedure = procedure
    try:
        return await run
    finally:
        if procedure.run is not None:
            inv.runs.append(procedure.run)


Runner = Callable[[object, Callable[[Prompter], Procedure]], Awaitable[CalibrationRun]]
"""A command's run: given the gun (a :class:`Gun`, or the service's) and how to make its procedure."""


def _conduct(ctx: click.Context, inv: Invocation, run: Runner) -> None:
    """Run on the gun, through the gun service when one runs (``--service``, or the local one; ``--no-service``
    opens the gun directly), then keep the run and its certificate (the service's record, or ``--db``) whatever
    the outcome, then say how it ended."""
    from mesogun.cli.remote import service_target

    reporter = JsonLinesReporter() if inv.as_json else TextReporter()
    try:
        result = _conducted(ctx, inv, run, reporter, service_target(ctx))
    except KeyboardInterrupt:
        if inv.runs:
            click.echo(_left_as(inv.runs[-1]), err=True)
        raise
    if not inv.as_json:
        emit_fields(_summary(result))
    if result.outcome is RunOutcome.FAILED:
        ctx.exit(FAILED_EXIT)


def _left_as(run: CalibrationRun) -> str:
    """After Ctrl-C: what the gun holds now (its old calibration written back, untouched, or not put back)."""
    gun = f"gun {run.device_serial}" if run.device_serial else "the gun"
    failed = next((note for note in run.notes if note.startswith("cleanup_failed") and "restore" in note), None)
    if failed is not None:
        return f"calibration run {run.run_id} interrupted: writing {gun}'s old calibration back failed ({failed})"
    if any(note == RESTORED_NOTE for note in run.notes):
        return f"calibration run {run.run_id} interrupted: {gun}'s old calibration was written back"
    return f"calibration run {run.run_id} interrupted before anything was written: {gun} keeps its old calibration"


def _conducted(
    ctx: click.Context, inv: Invocation, run: Runner, reporter: Reporter, served: ServiceTarget | None
) -> CalibrationRun:
    if served is not None:
        return _through_service(inv, run, reporter, served)
    else:

        async def store(kept: CalibrationRun) -> None:
            _store(ctx, kept, inv.certificate)

        async def body(gun: Gun) -> CalibrationRun:
            target = _direct_target(gun)
            result = await run(gun, lambda prompter: Procedure(target, prompter, reporter))
            await _keep_passed(inv, result, store)  # while the gun is connected: a failed save is undone on it
            return result

        try:
            return run_on_gun(device_url(ctx), ctx.obj.db, body)
        finally:
            for kept in inv.runs:
                _store(ctx, kept, inv.certificate)


def _through_service(inv: Invocation, run: Runner, reporter: Reporter, served: ServiceTarget) -> CalibrationRun:
    """The run on the service's gun; the run kept in the service's record (re-authenticated), its certificate
    written to ``--certificate`` too. A run the service refuses to keep (a practitioner, say) leaves the error
    that ended the run to be the one reported."""
    from mesogun.calibration.certificate import certificate_pdf
    from mesogun.cli.calibrate_service import ServiceCalibrationTarget, ask_pin
    from mesogun.cli.remote import RemoteGun
    from mesogun.cli.report_commands import write_export
    from mesogun.errors import MesogunError

    try:
        pin = ask_pin(scripted=inv.scripted())
    except BaseException:
        served.client.close()
        raise

    async def body(gun: CliGun) -> CalibrationRun:
        assert isinstance(gun, RemoteGun)  # what ServiceTarget.run gives
        target = ServiceCalibrationTarget(gun, served.client, served.serial, pin)

        async def keep(kept: CalibrationRun) -> None:
            pdf = certificate_pdf(kept)
            if inv.certificate is not None:
                write_export(inv.certificate, pdf)
            await target.save(kept, pdf)

        await target.reauthenticate()  # a wrong PIN or an expired sign-in is refused before anything moves
        if inv.answers.get("technician") is None:  # the service keeps a run signed by who is signed in
            inv.answers["technician"] = (await asyncio.to_thread(served.client.me))["user"]
        ended: BaseException | None = None
        try:
            result = await run(gun, lambda prompter: Procedure(target, prompter, reporter))
            await _keep_passed(inv, result, keep)  # a failed save is undone on the gun, the run made aborted
            return result
        except BaseException as error:
            ended = error
            raise
        finally:
            for kept in inv.runs:
                try:
                    await keep(kept)
                except MesogunError as error:
                    if ended is None:
                        raise
                    click.echo(f"the run could not be kept in the service's record: {error}", err=True)

    return served.run(body)


async def _keep_passed(
    inv: Invocation, result: CalibrationRun, save: Callable[[CalibrationRun], Awaitable[None]]
) -> None:
    """Keep a passed run in the record while the gun is still connected. A save that fails (the record
    unwritable, the service's re-authentication lapsed) leaves no constants without their record: the old ones
    are written back, the run becomes aborted with that reason (kept if the record takes it now), and the
    command ends with :class:`RunNotKept` in one line. Other outcomes are kept afterwards, as before."""
    from mesogun.calibration.errors import RunNotKept
    from mesogun.errors import MesogunError

    if result.outcome is not RunOutcome.PASSED:
        return
    inv.runs.remove(result)
    try:
        await save(result)
        return
    except (MesogunError, OSError) as error:
        why = f"{error.code}: {error}" if isinstance(error, MesogunError) else f"{type(error).__name__}: {error}"
    procedure = inv.procedure
    assert procedure is not None
    aborted = await procedure.abandon(f"the record could not keep the run ({why})")
    try:
        await save(aborted)
        kept = "the aborted run is in the record"
    except (MesogunError, OSError):
        kept = "the aborted run could not be kept either"
    serial = result.device_serial
    failed = procedure.notes.get("cleanup_failed", {}).get("restore")
    if failed is None:
        undone = f"gun {serial}'s old calibration was written back"
    else:
        undone = (
            f"writing gun {serial}'s old calibration back failed ({failed}): the gun holds this run's constants "
            "with no record of them; calibrate it again"
        )
    raise RunNotKept(
        f"calibration run {result.run_id} passed but could not be kept in the record ({why}): the run is aborted, "
        f"{undone}; {kept}"
    )


def _direct_target(gun: Gun) -> CalibrationTarget:
    from mesogun.calibration.device import CalibrationPort
    from mesogun.calibration.targets import GunTarget

    return GunTarget(gun, CalibrationPort(gun))


def _simulated_technician(balance: object, answers: dict[str, object]) -> Callable[[str], None] | None:
    """On a simulated balance (``sim-balance://``) a scripted run's check weight is placed on the pan and taken
    off again at its prompts: nobody stands at a simulated bench."""
    simulator = getattr(balance, "simulator", None)
    if simulator is None:
        return None
    placed: list[float] = []

    def act(key: str) -> None:
        if key == "place_check_weight" and answers.get("check_weight_g") is not None:
            placed.append(float(str(answers["check_weight_g"])))
            simulator.balance.place(placed[-1])
        elif key == "remove_check_weight" and placed:
            simulator.balance.place(-placed.pop())

    return act


def _store(ctx: click.Context, run: CalibrationRun, certificate: Path | None) -> None:
    """Keep the run in the record (passed, failed or aborted) with its certificate, and write the certificate
    to ``--certificate`` too."""
    from mesogun.calibration.certificate import certificate_pdf
    from mesogun.cli.record_commands import open_record
    from mesogun.cli.report_commands import write_export
    from mesogun.record.calibrations import CalibrationBook

    pdf = certificate_pdf(run)
    if certificate is not None:
        write_export(certificate, pdf)
    with open_record(ctx) as record:
        CalibrationBook(record).save(
            run.to_json(),
            run_id=run.run_id,
            device_serial=run.device_serial,
            kind=run.kind.value,
            syringe_brand=run.syringe_brand,
            outcome=run.outcome.value,
            technician=run.technician or "unknown",
            started_at=run.started_at,
            finished_at=run.finished_at,
            calibration_id=run.constants_after.calibration_id if run.constants_after is not None else None,
            certificate_id=run.certificate_id,
            due_at=run.due_at,
            certificate_pdf=pdf,
            actor=run.technician or "unknown",
            reason=run.reason,
        )


@calibrate_group.command("history")
@click.option("--device", "serial", metavar="SERIAL", help="One gun (its serial number); default: every gun's runs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one JSON array.")
@click.pass_context
def history_command(ctx: click.Context, serial: str | None, as_json: bool) -> None:
    """The calibration runs the record keeps (one gun's, or every gun's): passed, failed and aborted, with their
    certificate ids, due dates, and why a run failed or aborted."""
    from dataclasses import asdict

    from mesogun.cli.output import emit_json, emit_table
    from mesogun.cli.record_commands import open_record
    from mesogun.record.calibrations import CalibrationBook

    with open_record(ctx) as record:
        book = CalibrationBook(record)
        runs = book.history(serial)
    rows = [
        {**{k: v for k, v in asdict(r).items() if k != "run_json"}, "reason": _run_reason(r.run_json)} for r in runs
    ]
    if as_json:
        emit_json(rows)
        return
    columns = [
        "started_at",
        "device_serial",
        "kind",
        "syringe_brand",
        "outcome",
        "technician",
        "calibration_id",
        "certificate_id",
        "due_at",
        "reason",
    ]
    emit_table(rows, columns)


def _run_reason(run_json: str) -> str:
    """Why a run failed or aborted, from its JSON ("" for a passed run, or a run JSON without it)."""
    import json

    try:
        reason = json.loads(run_json).get("reason", "")
    except (ValueError, AttributeError):
        return ""
    return reason if isinstance(reason, str) else ""


def _summary(run: CalibrationRun) -> dict[str, str]:
    fields = {
        "run": run.run_id,
        "gun": f"{run.device_serial} ({run.device_model}, firmware {run.firmware_version})",
        "kind": run.kind.value + (f", syringe {run.syringe_brand}" if run.syringe_brand else ""),
        "outcome": run.outcome.value + (f": {run.reason}" if run.reason else ""),
    }
    for label, series in (("as found", run.as_found), ("as left", run.as_left)):
        fields[label] = "; ".join(point_words(vars(s)) for s in series)
    if run.constants_after is not None:
        fields["calibration"] = f"id {run.constants_after.calibration_id}"
    if run.certificate_id:
        fields["certificate"] = run.certificate_id
    if run.due_at is not None:
        fields["due"] = run.due_at.date().isoformat()
    return fields
