"""``mesogun record list|show|export|verify``: read the treatment record (``show``: a treatment session's summary,
or one connection with ``--session``), verify its audit log."""

from __future__ import annotations

import dataclasses
import getpass
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from mesogun.cli.output import emit_fields, emit_json, emit_table
from mesogun.clinic.summary import SessionSummary
from mesogun.errors import AuditChainBroken, ClinicalRecordMismatch, ParameterError, RecordError
from mesogun.json_forms import plain
from mesogun.record import AlarmRow, TreatmentRecord
from mesogun.record.store import one_line


@contextmanager
def open_record(ctx: click.Context) -> Iterator[TreatmentRecord]:
    """The record chosen by ``--db`` (or the default location), checked at open (a damaged file is refused);
    damage the check cannot see that a query then meets is a one-line :class:`RecordError` too (exit 6)."""
    with TreatmentRecord(ctx.obj.db, create=False) as record:
        try:
            yield record
        except sqlite3.DatabaseError as exc:
            raise RecordError(f"the treatment record {record.path} could not be read: {one_line(exc)}") from exc


def os_actor() -> str:
    """Who the audit log says read or changed the record from a command run without a service: the OS user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def read_summary(ctx: click.Context, visit: int, *, identified: bool, reason: str, via: str) -> SessionSummary:
    """A treatment session's summary read from the record; ``identified``: with the patient's name, and who saw it
    (the OS user), through ``via``, and ``reason`` entered in the audit log first (no entry, no name shown)."""
    from mesogun.record.treatment import TreatmentBook  # the clinic's record: loaded for these commands only

    with open_record(ctx) as record:
        book = TreatmentBook(record)
        if not identified:
            return book.summary(visit)
        return book.identified_summary(visit, read_by=os_actor(), via=via, reason=reason)


REASON_OPTION = click.option(
    "--reason",
    default="",
    metavar="TEXT",
    help="Why the identifying details are read (kept in the audit log with who read them; with --identified).",
)


@click.group("record")
def record_group() -> None:
    """Read the treatment record: sessions, shots, alarms and every command; verify its audit log."""


@record_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per session, one per line.")
@click.pass_context
def record_list(ctx: click.Context, as_json: bool) -> None:
    """List sessions with their device, start time and shot counts.

    shots_unreceived counts shots the device fired but whose event never reached the host (a crash or a
    lost link); they are on record, with their details unknown. kind is treatment (a host was connected) or
    between_sessions: what the device did while no host was connected (shots, alarms), found at the next connect.
    """
    with open_record(ctx) as record:
        sessions = record.sessions()
    if as_json:
        for summary in sessions:
            emit_json(summary)
        return
    if not sessions:
        click.echo(f"no sessions in {ctx.obj.db or 'the default record'}")
        return
    emit_table([dataclasses.asdict(s) for s in sessions], [f.name for f in dataclasses.fields(sessions[0])])


@record_group.command("show")
@click.argument("visit", type=int, required=False)
@click.option(
    "--session",
    type=int,
    metavar="SESSION",
    help="Show one connection of 'record list' instead: its summary, alarms, notes and every shot.",
)
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@click.option(
    "--identified",
    is_flag=True,
    help="Name the patient (identifying details; who read them is entered in the audit log); pseudonymous otherwise.",
)
@REASON_OPTION
@click.pass_context
def record_show(
    ctx: click.Context, visit: int | None, session: int | None, as_json: bool, identified: bool, reason: str
) -> None:
    """Show one treatment session (visit VISIT): the patient (pseudonymous unless --identified), practitioner and
    course; preset, modes, lots, syringe and needle; shots, volume and depth per zone; the checklist, overrides
    with their reasons, alarms, adverse events, aftercare, notes, the sign-off and the next session suggested
    (exit 2 if the record has no visit VISIT).

    With --session SESSION instead: one connection (a record session of 'record list'): its summary, alarms,
    the operator's notes (soft-limit overrides and their reasons) and every shot. Alarms list both clocks:
    host_time_utc is the host's wall clock (UTC) when it was recorded, device_time_ms the device's clock (ms
    since its last power-on; '-' if the device did not say). A session of kind between_sessions holds what the
    device did while no host was connected, found at the next connect.
    """
    if (visit is None) == (session is None):
        raise click.UsageError("give a VISIT (a treatment session), or --session SESSION (a connection), not both")
    if session is not None:
        if identified:
            raise click.UsageError("--identified is for a VISIT: a connection names no patient")
        _show_session(ctx, session, as_json)
        return
    assert visit is not None
    summary = read_summary(ctx, visit, identified=identified, reason=reason, via=f"mesogun record show {visit}")
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary)


def _print_summary(s: SessionSummary) -> None:
    """A treatment session's summary for people: fields, then zones, then the lists (each "none" when empty)."""
    who = s.patient or "-"
    if s.patient_name:
        who = f"{who} ({s.patient_name})"
    course = None
    if s.course_id is not None:
        course = (
            f"{s.course_id}: {s.indication}, session {s.session_number} of {s.planned_sessions}, every "
            f"{s.interval_days} days"
        )
    shots = f"{s.shots} ({s.shots_unreceived} unreceived), {s.volume_ml:g} mL"
    emit_fields(
        {
            "visit": s.visit_id,
            **({"VOID": f"voided by {s.void.by} at {s.void.at}: {s.void.reason}"} if s.void else {}),
            "patient": who,
            "practitioner": s.practitioner,
            "course": course,
            "next_session": s.next_session,
            "devices": list(s.devices),
            "opened": s.opened,
            "closed": s.closed,
            "preset": s.preset,
            "mode": s.mode,
            "depth_mm": None if s.depth_mm is None else _span(s.depth_mm),
            "dose_ml": None if s.dose_ml is None else _span(s.dose_ml),
            "lots": [f"{lot.product} lot {lot.lot} (expires {lot.expiry})" for lot in s.lots],
            "syringe": s.syringe,
            "needle": s.needle,
            "shots": shots,
            "signed_off": None if s.signoff is None else f"{s.signoff.by} at {s.signoff.at}: {s.signoff.meaning}",
        }
    )
    click.echo()
    if s.zones:
        rows = [
            {
                "zone": z.zone or "-",
                "label": z.label,
                "shots": z.shots,
                "volume_ml": f"{z.volume_ml:g}",
                "depth_mm": None
                if z.depth_mm_min is None or z.depth_mm_max is None
                else _span((z.depth_mm_min, z.depth_mm_max)),
            }
            for z in s.zones
        ]
        emit_table(rows, ["zone", "label", "shots", "volume_ml", "depth_mm"])
    else:
        click.echo("zones: no shots")
    sections: list[tuple[str, list[str]]] = [
        (
            "checklist",
            [f"{a.item}: {'PRESENT' if a.present else 'no'}{f' ({a.note})' if a.note else ''}" for a in s.checklist],
        ),
        (
            "overrides",
            [f"{o.ts} {o.limit}: {o.detail} (reason: {o.reason}{f'; by {o.by}' if o.by else ''})" for o in s.overrides],
        ),
        ("alarms", [f"{a.ts} {a.code} ({a.priority}){f': {a.detail}' if a.detail else ''}" for a in s.alarms]),
        (
            "adverse events",
            [
                f"{e.ts} {e.kind} ({e.severity}, by {e.by}){f': {e.detail}' if e.detail else ''}"
                for e in s.adverse_events
            ],
        ),
        ("aftercare", list(s.aftercare)),
        ("notes", list(s.notes)),
    ]
    for title, lines in sections:
        click.echo()
        click.echo(f"{title}:" if lines else f"{title}: none")
        for line in lines:
            click.echo(f"  {line}")


def _span(values: tuple[float, float]) -> str:
    low, high = values
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _show_session(ctx: click.Context, session: int, as_json: bool) -> None:
    """``record show --session``: one connection with its alarms, notes and shots."""
    with open_record(ctx) as record:
        summary = record.session(session)
        alarms = record.alarms(session)
        shots = record.shots(session)
        notes = record.notes(session)
    if as_json:
        emit_json({"session": summary, "alarms": alarms, "shots": shots, "notes": notes})
        return
    emit_fields(dataclasses.asdict(summary))
    for note in notes:
        click.echo(f"note {note['ts']} {note['kind']}: {note['detail']} (reason: {note['reason']})")
    click.echo()
    if alarms:
        click.echo("alarms (host_time_utc: host wall clock, UTC; device_time_ms: device clock since power-on)")
        emit_table([dataclasses.asdict(a) for a in alarms], [f.name for f in dataclasses.fields(AlarmRow)])
        click.echo()
    else:
        click.echo("alarms: none")
        click.echo()
    emit_table([dataclasses.asdict(s) for s in shots], [f.name for f in dataclasses.fields(shots[0])] if shots else [])
    others = [s.shot_index for s in shots if s.other_host]
    if others:
        click.echo(
            f"{len(others)} shots fired by another host (another workstation's session on this gun; other_host=True):"
            " not this host's shots, not unreceived"
        )


@record_group.command("export")
@click.argument("session", type=int)
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default="-",
    help="File to write (default: stdout).",
)
@click.pass_context
def record_export(ctx: click.Context, session: int, fmt: str, output: Path) -> None:
    """Export one session: JSON (summary, shots, every command and event) or CSV (one row per shot).

    A file that cannot be written (no such folder, no permission) is a usage error (exit 2); nothing is written.
    """
    with open_record(ctx) as record:
        text = record.export(session, fmt)
    if str(output) == "-":
        click.echo(text, nl=False)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as file:
            file.write(text)
    except OSError as exc:
        raise ParameterError(
            f"--output {output}: cannot write the export there: {exc.strerror or exc}", field="output", value=output
        ) from None


@record_group.command("verify")
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify (its hash's first 16 or more hex digits): the log must still hold it.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def record_verify(ctx: click.Context, expect_head: str | None, as_json: bool) -> None:
    """Verify the audit log: recompute every entry's hash and its link to the entry before, oldest first.

    Exit 0 when it is intact (the head printed: note it, or print it, and give it as --expect-head later to show
    newest entries removed, or the log rewritten with its hashes recomputed, since). Exit 6 (MG780) naming the
    first entry altered, inserted or deleted, with its action and time. Then the clinical tables are checked
    against the log: exit 6 (MG781) naming the first row that does not hold what the log says. See docs/audit.md.
    """
    from mesogun.record.audit_crosscheck import crosscheck  # with the database layer
    from mesogun.record.audit_verify import Head, verify_chain

    expected = Head.parse(expect_head) if expect_head is not None else None  # refused before the record opens
    with open_record(ctx) as record:
        report = verify_chain(record, expect_head=expected)
        mismatch = crosscheck(record) if report.intact else None
    if as_json:
        emit_json({"intact": report.intact and mismatch is None, **plain(report), "mismatch": plain(mismatch)})
    elif report.intact and mismatch is None:
        what = f"{report.entries} entries" if report.entries else "no entries yet"
        click.echo(f"audit log intact: {what}, every hash and link verified, the clinical tables match it")
        if expected is not None:
            click.echo(f"it holds the head noted earlier, {expected}")
        click.echo(f"head {report.head} (note it; later: mesogun record verify --expect-head {report.head})")
    if not report.guarded:
        click.echo(
            "warning: the audit log's append-only triggers are missing or disabled (dropped behind the program's"
            " back?): an entry could be changed in place; verify still shows it",
            err=True,
        )
    if report.broken is not None:
        raise AuditChainBroken(report.broken.describe())
    if mismatch is not None:
        raise ClinicalRecordMismatch(mismatch.describe())
