"""``mesogun patient``, ``mesogun course``, ``mesogun lot``, ``mesogun preset``: what a treatment is prepared with,
kept in the gun service's record (the service knows who is signed in: the audit log names them). Service only, as
``mesogun visit``: the service checks each value with the clinic's rules and says which field it refuses."""

from __future__ import annotations

from typing import Any

import click

from firmware_protocol import Mode
from mesogun.cli.output import emit_fields, emit_json, emit_table
from mesogun.cli.visit_commands import JSON_OPTION, service_only
from mesogun.service_client import ServiceClient

PATIENT_HELP = "The patient: an id (12) or a pseudonym (P-7KQ2M9XA)."

READ_REASON_OPTION = click.option(
    "--reason",
    default="",
    metavar="TEXT",
    help="Why the identifying details are read (with --identified; the audit log keeps it with who read them).",
)


def patient_id(client: ServiceClient, given: str) -> int:
    """The id of the patient ``given`` names: an id (digits only) or a pseudonym (the service says if none)."""
    if given.isdigit():
        return int(given)
    return int(client.patients(pseudonym=given)[0]["id"])


def course_text(course: dict[str, Any]) -> str:
    """A course in one line: its indication, plan, preset and sessions so far."""
    preset = f", preset {course['preset']}" if course.get("preset") else ""
    held = ", ".join(str(s) for s in course.get("sessions") or []) or "none yet"
    closed = f"; closed {course['closed']}" if course.get("closed") else ""
    return (
        f"{course['id']}: {course['indication']} ({course['planned_sessions']} sessions every "
        f"{course['interval_days']} days{preset}; sessions held: {held}{closed})"
    )


def patient_text(patient: dict[str, Any]) -> dict[str, str]:
    """What a person reads of a patient (the identity only when asked for and not erased)."""
    fields = {"patient": str(patient["id"]), "pseudonym": str(patient["pseudonym"]), "added": str(patient["created"])}
    identity = patient.get("identity")
    if patient.get("erased"):
        fields["identity"] = "erased"
    elif identity:
        fields |= {key.replace("_", " "): str(value or "-") for key, value in identity.items()}
    if "courses" in patient:
        fields["courses"] = "; ".join(course_text(c) for c in patient["courses"]) or "none"
    return fields


# ---------------------------------------------------------------------------------------------- patient


@click.group("patient", context_settings={"help_option_names": ["-h", "--help"]})
def patient_group() -> None:
    """Patients in the gun service's record: a pseudonymous id everywhere, identifying details in one place."""


@patient_group.command("add")
@click.option("--pseudonym", metavar="ID", help="The pseudonymous id (default: a random one, P-XXXXXXXX).")
@click.option("--name", metavar="TEXT", help="Identifying: kept in one table only, erasable.")
@click.option("--birth-date", metavar="YYYY-MM-DD")
@click.option("--contact", metavar="TEXT")
@JSON_OPTION
@click.pass_context
def patient_add(
    ctx: click.Context,
    pseudonym: str | None,
    name: str | None,
    birth_date: str | None,
    contact: str | None,
    as_json: bool,
) -> None:
    """Add a patient; prints the id and pseudonym the record names them by."""
    with service_only(ctx, "patients") as client:
        added = client.add_patient(pseudonym=pseudonym, name=name, birth_date=birth_date, contact=contact)
    emit_json(added) if as_json else emit_fields(patient_text(added))


@patient_group.command("list")
@JSON_OPTION
@click.pass_context
def patient_list(ctx: click.Context, as_json: bool) -> None:
    """Every patient, oldest first (pseudonyms only)."""
    with service_only(ctx, "patients") as client:
        found = client.patients()
    if as_json:
        emit_json(found)
    else:
        emit_table(
            [{**p, "identity": "erased" if p["erased"] else "kept"} for p in found],
            ["id", "pseudonym", "created", "identity"],
        )


@patient_group.command("show")
@click.argument("patient", metavar="PATIENT")
@click.option("--identified", is_flag=True, help="With the identifying details (name, birth date, contact).")
@READ_REASON_OPTION
@click.option("--history", is_flag=True, help="With every treatment session, summarised.")
@JSON_OPTION
@click.pass_context
def patient_show(ctx: click.Context, patient: str, identified: bool, reason: str, history: bool, as_json: bool) -> None:
    """Show a patient (PATIENT: an id or a pseudonym) and their courses; --history their sessions too. With
    --identified the service enters the read in the audit log (you, and --reason) before it shows the details."""
    with service_only(ctx, "patients") as client:
        pid = patient_id(client, patient)
        found = client.patient(pid, identified=identified, reason=reason)
        sessions = client.patient_history(pid, identified=identified, reason=reason) if history else None
    if as_json:
        emit_json(found if sessions is None else {**found, "history": sessions})
        return
    emit_fields(patient_text(found))
    if sessions is None:
        return
    for summary in sessions:
        zones = ", ".join(f"{z['zone']} {z['volume_ml']:.3f} mL" for z in summary["zones"]) or "no shots"
        signed = "signed off" if summary.get("signoff") else "not signed off"
        void = f"  VOID ({summary['void']['reason']})" if summary.get("void") else ""
        click.echo(
            f"session {summary['visit_id']}{void}  {summary['opened']}  {summary['shots']} shots: {zones}; {signed}"
        )
    kept = [s for s in sessions if not s.get("void")]
    voided = len(sessions) - len(kept)
    click.echo(
        f"total: {len(kept)} sessions, {sum(s['shots'] for s in kept)} shots, "
        f"{sum(s['volume_ml'] for s in kept):.3f} mL" + (f" ({voided} void, not counted)" if voided else "")
    )


@patient_group.command("correct")
@click.argument("patient", metavar="PATIENT")
@click.option("--name", metavar="TEXT", help="The right name ('' clears it).")
@click.option("--birth-date", metavar="YYYY-MM-DD", help="The right birth date ('' clears it).")
@click.option("--contact", metavar="TEXT", help="The right contact ('' clears it).")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the audit log with the correction).")
@JSON_OPTION
@click.pass_context
def patient_correct(
    ctx: click.Context,
    patient: str,
    name: str | None,
    birth_date: str | None,
    contact: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Correct a patient's identifying details (PATIENT: an id or a pseudonym): the audit log keeps the reason and
    keyed digests of the values before and after, never the values."""
    given = {"name": name, "birth_date": birth_date, "contact": contact}
    changes: dict[str, str | None] = {field: value for field, value in given.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to correct: give --name, --birth-date or --contact")
    with service_only(ctx, "patients") as client:
        corrected = client.correct_patient(patient_id(client, patient), reason, changes)
    if as_json:
        emit_json(corrected)
    else:
        fields = ", ".join(field.replace("_", " ") for field in changes)
        click.echo(f"corrected the {fields} of patient {corrected['pseudonym']} (id {corrected['id']})")


@patient_group.command("erase")
@click.argument("patient", metavar="PATIENT")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the audit log with the erasure).")
@JSON_OPTION
@click.pass_context
def patient_erase(ctx: click.Context, patient: str, reason: str, as_json: bool) -> None:
    """Erase a patient's identifying details (right to erasure; an admin): the pseudonymous record, their
    sessions and the audit chain stay whole."""
    with service_only(ctx, "patients") as client:
        erased = client.erase_patient(patient_id(client, patient), reason)
    if as_json:
        emit_json(erased)
    else:
        click.echo(f"erased the identifying details of patient {erased['pseudonym']} (id {erased['id']})")


# ---------------------------------------------------------------------------------------------- course


@click.group("course", context_settings={"help_option_names": ["-h", "--help"]})
def course_group() -> None:
    """Courses of treatment: an indication, the sessions planned and their interval."""


@course_group.command("add")
@click.option("--patient", required=True, metavar="PATIENT", help=PATIENT_HELP)
@click.option("--indication", required=True, metavar="TEXT", help="e.g. 'skin rejuvenation'.")
@click.option("--sessions", "planned", type=int, required=True, metavar="N", help="Sessions planned (1-50).")
@click.option("--interval", type=int, required=True, metavar="DAYS", help="Days between sessions (1-365).")
@click.option("--preset", metavar="NAME", help="The course's preset (a session's default).")
@JSON_OPTION
@click.pass_context
def course_add(
    ctx: click.Context, patient: str, indication: str, planned: int, interval: int, preset: str | None, as_json: bool
) -> None:
    """Open a course for a patient."""
    with service_only(ctx, "courses") as client:
        course = client.add_course(
            patient_id(client, patient),
            indication=indication,
            planned_sessions=planned,
            interval_days=interval,
            preset=preset,
        )
    emit_json(course) if as_json else click.echo(f"course {course_text(course)}")


@course_group.command("list")
@click.option("--patient", required=True, metavar="PATIENT", help=PATIENT_HELP)
@JSON_OPTION
@click.pass_context
def course_list(ctx: click.Context, patient: str, as_json: bool) -> None:
    """A patient's courses, oldest first."""
    with service_only(ctx, "courses") as client:
        found = client.courses(patient_id(client, patient))
    if as_json:
        emit_json(found)
    else:
        for course in found:
            click.echo(course_text(course))


@course_group.command("show")
@click.argument("course_id", metavar="ID", type=int)
@JSON_OPTION
@click.pass_context
def course_show(ctx: click.Context, course_id: int, as_json: bool) -> None:
    """One course with its sessions."""
    with service_only(ctx, "courses") as client:
        course = client.course(course_id)
    emit_json(course) if as_json else click.echo(course_text(course))


# ---------------------------------------------------------------------------------------------- lot


@click.group("lot", context_settings={"help_option_names": ["-h", "--help"]})
def lot_group() -> None:
    """Product lots: an expired lot is never used; one expiring within 30 days warns."""


@lot_group.command("add")
@click.option("--product", required=True, metavar="TEXT", help="The product or cocktail.")
@click.option("--number", "lot_number", required=True, metavar="TEXT", help="The lot number printed on it.")
@click.option("--expiry", required=True, metavar="YYYY-MM-DD", help="Usable through this day.")
@click.option("--description", default="", metavar="TEXT", help="The product's, when it is new.")
@JSON_OPTION
@click.pass_context
def lot_add(ctx: click.Context, product: str, lot_number: str, expiry: str, description: str, as_json: bool) -> None:
    """Enter a lot (an expired one may be entered: it is refused when a session would use it)."""
    with service_only(ctx, "lots") as client:
        lot = client.add_lot(product, lot_number, expiry, description)
    if as_json:
        emit_json(lot)
    else:
        click.echo(f"lot {lot['id']}: {lot['lot_number']} of {lot['product']}, expires {lot['expiry']}")
    if lot.get("warning"):
        click.echo(f"warning: {lot['warning']}", err=True)


@lot_group.command("list")
@JSON_OPTION
@click.pass_context
def lot_list(ctx: click.Context, as_json: bool) -> None:
    """Every lot, by product and expiry, with whether it may be used today."""
    with service_only(ctx, "lots") as client:
        found = client.lots()
    if as_json:
        emit_json(found)
        return
    rows = [
        {**lot, "status": "EXPIRED" if lot["expired"] else ("expires soon" if lot["warning"] else "usable")}
        for lot in found
    ]
    emit_table(rows, ["id", "product", "lot_number", "expiry", "status"])


# ---------------------------------------------------------------------------------------------- preset


@click.group("preset", context_settings={"help_option_names": ["-h", "--help"]})
def preset_group() -> None:
    """Treatment presets: the built-in ones and the clinic's, each with its soft limits (going past one needs an
    override with a reason; the device's hard limits are never overridden)."""


@preset_group.command("list")
@JSON_OPTION
@click.pass_context
def preset_list(ctx: click.Context, as_json: bool) -> None:
    """The built-in presets, then the clinic's, with their values and soft limits."""
    with service_only(ctx, "presets") as client:
        found = client.presets()
    if as_json:
        emit_json(found)
        return
    rows = [{**preset, "kind": "built in" if preset["builtin"] else "clinic"} for preset in found]
    columns = ["name", "kind", "mode", "depth_mm", "dose_ml", "rate_hz", "max_depth_mm", "max_volume_per_zone_ml"]
    emit_table(rows, columns)


@preset_group.command("add")
@click.argument("name", metavar="NAME")
@click.option("--depth", type=float, required=True, metavar="MM", help="Needle depth, mm (e.g. 1.5).")
@click.option("--dose", type=float, required=True, metavar="ML", help="Drop volume per shot, mL (e.g. 0.02).")
@click.option("--rate", type=float, required=True, metavar="HZ", help="Firing rate, shots per second (e.g. 3).")
@click.option("--mode", type=click.Choice([m.json_name for m in Mode]), required=True, help="Firing mode.")
@click.option("--description", default="", metavar="TEXT", help="What the preset is for.")
@click.option("--max-depth", type=float, metavar="MM", help="Soft limit: deeper needs an override with a reason.")
@click.option(
    "--max-zone-volume", type=float, metavar="ML", help="Soft limit: more into one zone in a session needs an override."
)
@JSON_OPTION
@click.pass_context
def preset_add(
    ctx: click.Context,
    name: str,
    depth: float,
    dose: float,
    rate: float,
    mode: str,
    description: str,
    max_depth: float | None,
    max_zone_volume: float | None,
    as_json: bool,
) -> None:
    """Define a clinic preset NAME (lower-case letters, digits, - or _; not a built-in name); its soft limits may
    not be below its own depth and dose."""
    with service_only(ctx, "presets") as client:
        preset = client.add_preset(
            name=name,
            depth_mm=depth,
            dose_ml=dose,
            rate_hz=rate,
            mode=mode,
            description=description,
            max_depth_mm=max_depth,
            max_volume_per_zone_ml=max_zone_volume,
        )
    if as_json:
        emit_json(preset)
        return
    deepest, most = preset["max_depth_mm"], preset["max_volume_per_zone_ml"]
    limits = [
        *([f"depth at most {deepest:g} mm"] if deepest is not None else []),
        *([f"at most {most:g} mL per zone"] if most is not None else []),
    ]
    shown = f"; soft limits: {', '.join(limits)}" if limits else "; no soft limits"
    click.echo(
        f"preset {preset['name']}: {preset['mode']}, {preset['depth_mm']:g} mm, {preset['dose_ml']:g} mL,"
        f" {preset['rate_hz']:g} shots/s{shown}"
    )


CLINIC_GROUPS = (patient_group, course_group, lot_group, preset_group)
"""The groups of this module, registered with the others (:func:`mesogun.cli._register_commands`)."""
