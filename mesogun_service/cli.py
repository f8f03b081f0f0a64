"""``mesogun serve``: run the gun service (registered into the ``mesogun`` command through the
``mesogun.commands`` entry point, so :mod:`mesogun` never imports the service)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path
from typing import Any

import click

from mesogun_service.config import DEFAULT_PORT, ServiceConfig, check, load_config, record_location


def announcement(guns: int, where: str) -> str:
    """The one line ``mesogun serve`` prints on stdout once it serves (``where``: its URL, then its socket)."""
    return f"mesogun service: {guns} gun(s) on {where}; Ctrl-C stops (guns disarmed first)"


def announced_url(line: str) -> str | None:
    """The ``http://HOST:PORT`` in an :func:`announcement` (for whoever starts a service: tests, benchmarks)."""
    found = re.search(r" on (https?://[^\s;]+)", line)
    return found.group(1) if found else None


@click.command("serve")
@click.option(
    "--device",
    "devices",
    multiple=True,
    metavar="URL",
    help="A gun to own (repeatable): a serial port, socket://HOST:PORT or sim://. Added to the config file's.",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="A TOML config file (docs/service.md).")
@click.option("--host", help="Address to listen on (default 127.0.0.1; any other needs sign-in on every route).")
@click.option("--port", type=int, help=f"TCP port (default {DEFAULT_PORT}; 0: any free port, printed).")
@click.option("--socket", "socket_path", type=click.Path(path_type=Path), help="The local socket (mode 0600).")
@click.option("--no-socket", is_flag=True, help="No local socket.")
@click.option("--db", metavar="PATH|URL", help="The treatment record: a file or postgresql://… (default: the CLI's).")
@click.option("--accounts", type=click.Path(path_type=Path), help="The users and the audit trail.")
@click.option("--grace", type=float, metavar="S", help="Disarm an armed gun nobody attends after S seconds.")
def serve_command(
    devices: tuple[str, ...],
    config_path: Path | None,
    host: str | None,
    port: int | None,
    socket_path: Path | None,
    no_socket: bool,
    db: str | None,
    accounts: Path | None,
    grace: float | None,
) -> None:
    """Run the gun service: own the guns, keep their links alive, write the record, serve the HTTP API, the
    tablet and the CLI. Ctrl-C or SIGTERM stops and disarms every gun first, then stops."""
    from mesogun_service.server import serve

    config = load_config(config_path) if config_path is not None else ServiceConfig()
    changes: dict[str, Any] = {"devices": tuple(dict.fromkeys((*config.devices, *devices)))}
    for name, value in (
        ("host", host),
        ("port", port),
        ("record", record_location(db) if db else None),
        ("accounts", accounts),
    ):
        if value is not None:
            changes[name] = value
    if grace is not None:
        changes["attended_grace_s"] = grace
    if socket_path is not None:
        changes["socket"] = socket_path
    if no_socket:
        changes["socket"] = None
    config = check(dataclasses.replace(config, **changes))
    if not config.devices:
        raise click.UsageError("no gun to serve: give --device URL (repeatable) or a config file with devices = [...]")
    from mesogun.record import TreatmentRecord

    TreatmentRecord.check(config.record)  # a record that cannot be used stops the service here, in one line

    def ready(where: str) -> None:
        click.echo(announcement(len(config.devices), where))

    asyncio.run(serve(config, on_ready=ready))
