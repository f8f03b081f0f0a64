"""``mesogun session``: a treatment session on the gun service's gun, started with its patient, course, lot,
preset, zone and checklist; its zone, lot and needle changed, notes, adverse events and aftercare entered; the
practitioner's sign-off (``close``); its summary (``show``). Service only (the service keeps the session open
between two commands and knows who is signed in); each command works on the session open on the gun unless
``--id`` names one."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import click

from mesogun.cli.clinic_commands import PATIENT_HELP, READ_REASON_OPTION, patient_id
from mesogun.cli.output import emit_fields, emit_json, emit_table
from mesogun.cli.remote import choose_gun
from mesogun.cli.visit_commands import JSON_OPTION, service_only
from mesogun.errors import ParameterError
from mesogun.service_client import ServiceClient

YES = frozenset({"yes", "y", "true", "present"})
NO = frozenset({"no", "n", "false", "absent"})

ID_OPTION = click.option(
    "--id", "visit_id", type=int, metavar="N", help="The treatment session (default: the one open on the gun)."
)


def _client(ctx: click.Context) -> ServiceClient:
    return service_only(ctx, "treatment sessions")


def _session(ctx: click.Context, client: ServiceClient, visit_id: int | None) -> int:
    """``visit_id``, or the session open on the command's gun (a usage error naming the gun if none)."""
    from mesogun.record.visits import NoSuchVisit  # loaded with the reply's error anyway, not at the CLI's start

    if visit_id is not None:
        return visit_id
    serial = choose_gun(client, ctx.obj.device)
    try:
        return int(client.current_treatment(serial)["visit_id"])
    except NoSuchVisit:
        raise click.UsageError(
            f"no treatment session is open on gun {serial}: start one with 'mesogun session start', or name one "
            "with --id N"
        ) from None


def parse_answer(given: str) -> tuple[str, bool | dict[str, Any]]:
    """``ITEM=yes|no[:NOTE]`` as (item, answer); a usage error for another form."""
    item, sep, rest = given.partition("=")
    word, _, note = rest.partition(":")
    if not sep or not item.strip() or word.strip().lower() not in YES | NO:
        raise click.BadParameter(
            f"{given!r}: give ITEM=yes or ITEM=no (ITEM=yes:NOTE for a note)", param_hint="--checklist"
        )
    present = word.strip().lower() in YES
    return item.strip(), {"present": present, "note": note.strip()} if note.strip() else present


def read_answers(path: Path) -> dict[str, bool | dict[str, Any]]:
    """Checklist answers from a TOML file: ``item = false``, or ``item = {present = true, note = "..."}``."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem = "no such file"
    except OSError as exc:
        problem = (exc.strerror or type(exc).__name__).lower()
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problem = f"not a TOML file ({exc})"
    else:
        answers = document.get("checklist", document)
        return {str(item): answer for item, answer in answers.items()}
    raise ParameterError(f"--checklist-file {path}: {problem}", field="checklist_file", value=str(path))


def parse_syringe(given: str) -> dict[str, Any]:
    """``BRAND SIZE`` (``"BD 5"``, ``"BD 5ml"``), a brand alone or a size alone, as the body's fields."""
    match = re.fullmatch(r"\s*(.*?)\s*(\d+(?:\.\d+)?)\s*(?:ml|mL)?\s*", given)
    if match is None:
        return {"syringe_brand": given.strip()}
    brand, size = match.groups()
    return {"syringe_brand": brand or None, "syringe_ml": float(size)}


def parse_needle(given: str) -> tuple[int, float]:
    """``GAUGE:LENGTH`` (``32G:4mm``, ``32:4``) as (gauge, length in mm)."""
    match = re.fullmatch(r"\s*(\d+)\s*[Gg]?\s*[:x ]\s*(\d+(?:\.\d+)?)\s*(?:mm)?\s*", given)
    if match is None:
        raise click.BadParameter(f"{given!r}: give GAUGE:LENGTH, e.g. 32G:4mm", param_hint="--needle")
    return int(match.group(1)), float(match.group(2))


def treatment_text(treatment: dict[str, Any]) -> dict[str, str]:
    """What a person reads of a session as it stands."""
    needle = treatment.get("needle")
    signoff = treatment.get("signoff")
    state = "open" if treatment["open"] else f"closed {treatment['closed']}"
    if signoff:
        state += f", signed off by {signoff['by']} at {signoff['at']}"
    return {
        "session": str(treatment["visit_id"]),
        "gun": str(treatment["device_serial"]),
        "patient": str(treatment.get("pseudonym") or treatment["patient_id"]),
        "course": str(treatment["course_id"] or "-"),
        "practitioner": str(treatment["practitioner"]),
        "preset": str(treatment["preset"] or "-"),
        "lot": str(treatment.get("lot_number") or treatment["lot_id"] or "-"),
        "zone": str(treatment["zone"] or "-"),
        "needle": f"{needle['gauge']}G {needle['length_mm']:g} mm" if needle else "-",
        "state": state,
    }


def summary_text(summary: dict[str, Any]) -> dict[str, str]:
    """What a person reads of a session's summary."""
    signoff = summary.get("signoff")
    course = "-"
    if summary.get("course_id") is not None:
        course = f"{summary['course_id']}: {summary['indication']}, session {summary['session_number']} of "
        course += f"{summary['planned_sessions']}"
        if summary.get("next_session"):
            course += f" (next suggested {summary['next_session']})"
    patient = summary["patient"] + (f" ({summary['patient_name']})" if summary.get("patient_name") else "")

    def span(pair: list[float] | None, unit: str) -> str:
        if not pair:
            return "-"
        low, high = pair
        return f"{low:g} {unit}" if low == high else f"{low:g}-{high:g} {unit}"

    zones = [
        f"{z['zone']} ({z['label']}): {z['shots']} shots, {z['volume_ml']:.3f} mL" for z in summary.get("zones", [])
    ]
    checklist = [
        f"{c['item']} PRESENT" + (f" ({c['note']})" if c["note"] else "") for c in summary["checklist"] if c["present"]
    ]
    void = summary.get("void")
    return {
        "session": str(summary["visit_id"]),
        **({"VOID": f"voided by {void['by']} at {void['at']}: {void['reason']}"} if void else {}),
        "patient": patient,
        "practitioner": str(summary["practitioner"]),
        "course": course,
        "guns": ", ".join(summary["devices"]),
        "opened": str(summary["opened"]),
        "closed": str(summary["closed"] or "open"),
        "preset": f"{summary['preset'] or '-'} (mode {summary['mode'] or '-'})",
        "depth": span(summary.get("depth_mm"), "mm"),
        "dose": span(summary.get("dose_ml"), "mL"),
        "lots": "; ".join(f"{lot['lot']} of {lot['product']} (expires {lot['expiry']})" for lot in summary["lots"])
        or "-",
        "syringe": str(summary["syringe"] or "-"),
        "needle": str(summary["needle"] or "-"),
        "zones": "; ".join(zones) or "no shots",
        "shots": f"{summary['shots']}, {summary['volume_ml']:.3f} mL"
        + (f"; {summary['shots_unreceived']} more unreceived" if summary["shots_unreceived"] else ""),
        "consent": str(summary.get("consent") or "-"),
        "checklist": ("; ".join(checklist) if checklist else "all answered, none present")
        if summary["checklist"]
        else "-",
        "overrides": "; ".join(f"{o['limit']}: {o['reason']} ({o['by'] or '-'})" for o in summary["overrides"])
        or "none",
        "alarms": "; ".join(f"{a['code']} ({a['priority']})" for a in summary["alarms"]) or "none",
        "adverse events": "; ".join(
            f"{e['kind']}, {e['severity']}" + (f": {e['detail']}" if e["detail"] else "")
            for e in summary["adverse_events"]
        )
        or "none",
        "aftercare": " | ".join(summary["aftercare"]) or "none given",
        "notes": " | ".join(summary["notes"]) or "-",
        "signed off": f"{signoff['by']} at {signoff['at']}: {signoff['meaning']}" if signoff else "NOT SIGNED OFF",
    }


def _warn(reply: dict[str, Any]) -> None:
    for warning in reply.get("warnings") or []:
        click.echo(f"warning: {warning}", err=True)


@click.group("session", context_settings={"help_option_names": ["-h", "--help"]})
def session_group() -> None:
    """Treatment sessions on the gun service: start one on the gun, change its zone, enter notes, adverse events
    and aftercare, sign it off (close), show its summary."""


@session_group.command("start")
@click.option("--patient", required=True, metavar="PATIENT", help=PATIENT_HELP)
@click.option("--course", "course_id", type=int, metavar="ID", help="The patient's course (open).")
@click.option("--lot", "lot_id", type=int, required=True, metavar="ID", help="The lot ('mesogun lot list').")
@click.option("--preset", metavar="NAME", help="The preset (default: the course's); its soft limits apply.")
@click.option("--zone", required=True, metavar="ZONE", help="The first zone, e.g. face.forehead.")
@click.option(
    "--consent",
    required=True,
    metavar="TEXT",
    help="How the patient's informed consent was given, e.g. 'signed form v3'.",
)
@click.option("--syringe", metavar="'BRAND SIZE'", help="The syringe, e.g. 'BD 5' (5 mL).")
@click.option("--needle", metavar="GAUGE:LENGTH", help="The needle, e.g. 32G:4mm.")
@click.option(
    "--checklist",
    "answers",
    multiple=True,
    metavar="ITEM=yes|no",
    help="One checklist answer (repeat for each item; ITEM=yes:NOTE with a note).",
)
@click.option(
    "--checklist-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checklist answers from a TOML file (item = false); --checklist given too wins.",
)
@click.option("--override-reason", metavar="TEXT", help="Why the session goes ahead with a contraindication present.")
@click.option("--note", default="", metavar="TEXT")
@JSON_OPTION
@click.pass_context
def start_command(
    ctx: click.Context,
    patient: str,
    course_id: int | None,
    lot_id: int,
    preset: str | None,
    zone: str,
    consent: str,
    syringe: str | None,
    needle: str | None,
    answers: tuple[str, ...],
    checklist_file: Path | None,
    override_reason: str | None,
    note: str,
    as_json: bool,
) -> None:
    """Start a treatment session on the gun (a practitioner): every checklist item must be answered (see the items
    with 'mesogun session checklist'); the gun's shots are recorded in it, each with its zone and lot."""
    checklist = read_answers(checklist_file) if checklist_file is not None else {}
    checklist |= dict(parse_answer(a) for a in answers)
    fields: dict[str, Any] = {
        "lot_id": lot_id,
        "zone": zone,
        "consent": consent,
        "checklist": checklist,
        "course_id": course_id,
        "preset": preset,
        "override_reason": override_reason,
        "note": note,
        **(parse_syringe(syringe) if syringe else {}),
    }
    if needle:
        fields["needle_gauge"], fields["needle_length_mm"] = parse_needle(needle)
    with _client(ctx) as client:
        serial = choose_gun(client, ctx.obj.device)
        started = client.start_treatment(serial, patient_id=patient_id(client, patient), **fields)
    emit_json(started) if as_json else emit_fields(treatment_text(started))
    _warn(started)


@session_group.command("checklist")
@JSON_OPTION
@click.pass_context
def checklist_command(ctx: click.Context, as_json: bool) -> None:
    """The pre-treatment checklist's items: each must be answered when a session starts."""
    with _client(ctx) as client:
        items = client.checklist()
    if as_json:
        emit_json(items)
    else:
        for item in items:
            click.echo(f"{item['id']}  {item['question']}")


@session_group.command("zones")
@JSON_OPTION
def zones_command(as_json: bool) -> None:
    """Every treatment zone a session can name (its id), with its label and region: the catalog, no service
    needed."""
    from mesogun.clinic.zones import listing

    if as_json:
        emit_json(listing())
    else:
        emit_table(listing(), ["id", "label", "region"])


@session_group.command("zone")
@click.argument("zone", metavar="ZONE")
@ID_OPTION
@JSON_OPTION
@click.pass_context
def zone_command(ctx: click.Context, zone: str, visit_id: int | None, as_json: bool) -> None:
    """The zone the next shots are given in (e.g. face.chin)."""
    with _client(ctx) as client:
        moved = client.change_zone(_session(ctx, client, visit_id), zone)
    emit_json(moved) if as_json else click.echo(f"session {moved['visit_id']}: zone {moved['zone']}")


@session_group.command("lot")
@click.argument("lot_id", metavar="LOT", type=int)
@ID_OPTION
@JSON_OPTION
@click.pass_context
def lot_command(ctx: click.Context, lot_id: int, visit_id: int | None, as_json: bool) -> None:
    """Another product lot for the next shots."""
    with _client(ctx) as client:
        changed = client.change_lot(_session(ctx, client, visit_id), lot_id)
    lot = changed.get("lot_number") or changed["lot_id"]
    emit_json(changed) if as_json else click.echo(f"session {changed['visit_id']}: lot {lot}")
    _warn(changed)


@session_group.command("needle")
@click.argument("needle", metavar="GAUGE:LENGTH")
@ID_OPTION
@JSON_OPTION
@click.pass_context
def needle_command(ctx: click.Context, needle: str, visit_id: int | None, as_json: bool) -> None:
    """A new needle fitted now (GAUGE:LENGTH, as 32G:4mm): the change reminder counts from here."""
    gauge, length = parse_needle(needle)
    with _client(ctx) as client:
        changed = client.change_needle(_session(ctx, client, visit_id), gauge, length)
    emit_json(changed) if as_json else click.echo(f"session {changed['visit_id']}: needle {needle}")


@session_group.command("note")
@click.argument("text", metavar="TEXT")
@ID_OPTION
@JSON_OPTION
@click.pass_context
def note_command(ctx: click.Context, text: str, visit_id: int | None, as_json: bool) -> None:
    """A note in the session (after its close too)."""
    with _client(ctx) as client:
        session = _session(ctx, client, visit_id)
        client.treatment_note(session, text)
    emit_json({"visit_id": session, "note": text}) if as_json else click.echo(f"session {session}: note entered")


@session_group.command("adverse-event")
@click.argument("detail", metavar="[TEXT]", default="")
@click.option("--kind", required=True, metavar="TEXT", help="e.g. bruising, erythema, pain.")
@click.option("--severity", required=True, type=click.Choice(["mild", "moderate", "severe"]))
@ID_OPTION
@JSON_OPTION
@click.pass_context
def adverse_event_command(
    ctx: click.Context, detail: str, kind: str, severity: str, visit_id: int | None, as_json: bool
) -> None:
    """Something that went wrong for the patient, during or after the session."""
    with _client(ctx) as client:
        session = _session(ctx, client, visit_id)
        client.adverse_event(session, kind, severity, detail)
    if as_json:
        emit_json({"visit_id": session, "kind": kind, "severity": severity, "detail": detail})
    else:
        click.echo(f"session {session}: adverse event entered ({kind}, {severity})")


@session_group.command("aftercare")
@click.argument("lines", metavar="[LINE]...", nargs=-1)
@ID_OPTION
@JSON_OPTION
@click.pass_context
def aftercare_command(ctx: click.Context, lines: tuple[str, ...], visit_id: int | None, as_json: bool) -> None:
    """Enter the aftercare advice given: the LINEs, or the standard advice without any."""
    with _client(ctx) as client:
        session = _session(ctx, client, visit_id)
        kept = client.give_aftercare(session, list(lines) if lines else None)
    if as_json:
        emit_json({"visit_id": session, "aftercare": kept})
    else:
        click.echo(f"session {session}: aftercare given")
        for line in kept:
            click.echo(f"  - {line}")


@session_group.command("close")
@ID_OPTION
@click.option("--meaning", metavar="TEXT", help="What the signature means (default: the standard meaning).")
@JSON_OPTION
@click.pass_context
def close_command(ctx: click.Context, visit_id: int | None, meaning: str | None, as_json: bool) -> None:
    """Sign the session off (a practitioner): your name, the time and what it means; the session closes."""
    with _client(ctx) as client:
        signed = client.sign_off(_session(ctx, client, visit_id), meaning)
    if as_json:
        emit_json(signed)
        return
    signoff = signed["signoff"]
    click.echo(f"session {signed['visit_id']} signed off by {signoff['by']} at {signoff['at']}: {signoff['meaning']}")


@session_group.command("void")
@click.argument("visit_id", metavar="VISIT", type=int)
@click.option("--reason", required=True, metavar="TEXT", help="Why it is void (kept in the audit log).")
@JSON_OPTION
@click.pass_context
def void_command(ctx: click.Context, visit_id: int, reason: str, as_json: bool) -> None:
    """Mark session VISIT void: opened by mistake (the wrong patient). A correction: nothing is deleted, its shots
    and entries stay, shown as VOID; an open session is closed, not signed off. A practitioner; once signed off,
    an admin."""
    with _client(ctx) as client:
        voided = client.void_treatment(visit_id, reason)
    if as_json:
        emit_json(voided)
    else:
        click.echo(f"session {voided['visit_id']} is VOID: {reason.strip()}")


@session_group.command("show")
@ID_OPTION
@click.option("--identified", is_flag=True, help="With the patient's name (the summary is pseudonymous otherwise).")
@READ_REASON_OPTION
@JSON_OPTION
@click.pass_context
def show_command(ctx: click.Context, visit_id: int | None, identified: bool, reason: str, as_json: bool) -> None:
    """The session's summary: shots and volume per zone, depth, lots, checklist, overrides, alarms, adverse
    events, aftercare, the sign-off; and a warning when the needle is due for a change (every 500 shots). With
    --identified the service enters the read in the audit log (you, and --reason) before it shows the name."""
    with _client(ctx) as client:
        visit = _session(ctx, client, visit_id)
        summary = client.treatment_summary(visit, identified=identified, reason=reason)
        reminder = client.treatment(visit).get("needle_reminder")
    if as_json:
        emit_json({**summary, "needle_reminder": reminder})
        return
    emit_fields(summary_text(summary))
    if reminder:
        click.echo(f"warning: {reminder}", err=True)
