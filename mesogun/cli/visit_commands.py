"""``mesogun visit open|close|show``: a treatment session as a visit, opened and closed explicitly on the gun
service (which holds every connection, reconnection and command in between). Service only: without a service
there is nobody to keep a visit open between two commands."""

from __future__ import annotations

from typing import Any

import click

from mesogun.cli.output import emit_fields, emit_json
from mesogun.cli.remote import choose_gun, service_client
from mesogun.service_client import ServiceClient

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one JSON object.")


def service_only(ctx: click.Context, what: str) -> ServiceClient:
    """A client of the gun service for a command only the service can do (``what`` it keeps: "visits",
    "patients"); a usage error (exit 2) without one (``--no-service``, or none configured or running)."""
    client = service_client(ctx)
    if client is None and ctx.obj.no_service:
        raise click.UsageError(f"{what} are kept by the gun service: not with --no-service")
    if client is None:
        raise click.UsageError(
            f"{what} are kept by the gun service, and none is configured or running: start one with 'mesogun serve', "
            "or give --service URL (or set MESOGUN_SERVICE)"
        )
    return client


def _client(ctx: click.Context) -> ServiceClient:
    return service_only(ctx, "visits")


def visit_text(visit: dict[str, Any]) -> dict[str, str]:
    """What a person reads of a visit."""
    sessions = visit.get("sessions") or []
    shots = f"{visit['shots']} on record, {visit['volume_ml']:.3f} mL"
    if visit.get("shots_unreceived"):
        shots += f"; {visit['shots_unreceived']} more the gun counted whose details never arrived"
    return {
        "visit": str(visit["id"]),
        "gun": str(visit["device_serial"]),
        "opened": f"{visit['opened']}" + (f" by {visit['opened_by']}" if visit.get("opened_by") else ""),
        "closed": (f"{visit['closed']}" + (f" by {visit['closed_by']}" if visit.get("closed_by") else ""))
        if visit.get("closed")
        else "open",
        "note": str(visit.get("note") or "-"),
        "connections": ", ".join(str(s) for s in sessions) or "none",
        "shots": shots,
    }


def _show(visit: dict[str, Any], as_json: bool) -> None:
    emit_json(visit) if as_json else emit_fields(visit_text(visit))


@click.group("visit", context_settings={"help_option_names": ["-h", "--help"]})
def visit_group() -> None:
    """Visits (treatment sessions) on the gun service: open one, close it, show it."""


@visit_group.command("open")
@click.option("--note", default="", metavar="TEXT", help="A note kept with the visit (e.g. the patient's file).")
@JSON_OPTION
@click.pass_context
def open_command(ctx: click.Context, note: str, as_json: bool) -> None:
    """Open a visit on the gun: every connection and command is recorded in it until it is closed."""
    with _client(ctx) as client:
        opened = client.open_visit(choose_gun(client, ctx.obj.device), note)
    for warning in opened.get("warnings") or []:  # the gun's calibration overdue or never done
        click.echo(f"warning: {warning}", err=True)
    _show(opened, as_json)


@visit_group.command("close")
@click.argument("visit_id", metavar="[ID]", type=int, required=False)
@JSON_OPTION
@click.pass_context
def close_command(ctx: click.Context, visit_id: int | None, as_json: bool) -> None:
    """Close visit ID (default: the visit open on the gun); the gun's connection goes on outside any visit."""
    with _client(ctx) as client:
        if visit_id is None:
            visit_id = int(client.current_visit(choose_gun(client, ctx.obj.device))["id"])
        _show(client.close_visit(visit_id), as_json)


@visit_group.command("show")
@click.argument("visit_id", metavar="[ID]", type=int, required=False)
@JSON_OPTION
@click.pass_context
def show_command(ctx: click.Context, visit_id: int | None, as_json: bool) -> None:
    """Show visit ID (default: the visit open on the gun): when, by whom, its connections and shots."""
    with _client(ctx) as client:
        if visit_id is None:
            _show(client.current_visit(choose_gun(client, ctx.obj.device)), as_json)
        else:
            _show(client.visit(visit_id), as_json)
