"""``mesogun patient``, ``mesogun course``, ``mesogun lot``: what a treatment is prepared with, kept in the gun
service's record (the service knows who is signed in: the audit log names them). Service only, as ``mesogun
visit``: the service checks each value with the clinic's rules and says which field it refuses."""

from __future__ import annotations

from typing import Any

import click

from mesogun.cli.output import emit_fields, emit_json, emit_table
from mesogun.cli.visit_commands import JSON_OPTION, service_only
from mesogun.service_client import ServiceClient

PATIENT_HELP = "The patient: an id (12) or a pseudonym (P-7KQ2M9XA)."


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
@click.option("--history", is_flag=True, help="With every treatment session, summarised.")
@JSON_OPTION
@click.pass_context
def patient_show(ctx: click.Context, patient: str, identified: bool, history: bool, as_json: bool) -> None:
    """Show a patient (PATIENT: an id or a pseudonym) and their courses; --history their sessions too."""
    with service_only(ctx, "patients") as client:
        pid = patient_id(client, patient)
        found = client.patient(pid, identified=identified)
        sessions = client.patient_history(pid, identified=identified) if history else None
    if as_json:
        emit_json(found if sessions is None else {**found, "history": sessions})
        return
    emit_fields(patient_text(found))
    for summary in sessions or []:
        zones = ", ".join(f"{z['zone']} {z['volume_ml']:.3f} mL" for z in summary["zones"]) or "no shots"
        signed = "signed off" if summary.get("signoff") else "not signed off"
        click.echo(f"session {summary['visit_id']}  {summary['opened']}  {summary['shots']} shots: {zones}; {signed}")


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


CLINIC_GROUPS = (patient_group, course_group, lot_group)
"""The groups of this module, registered with the others (:func:`mesogun.cli._register_commands`)."""
