"""``mesogun devices``: the serial ports and USB guns (``usb://``, by VID:PID) that may be guns, and with
``--probe`` which of them are.

A probe opens each port through the same path as every command (:func:`mesogun.cli.session.connect_with`:
``--baud``, ``--trace`` apply) and says hello with a short timeout, but attaches no treatment record and
opens no record file. Every port gets an answer, a gun's identity or "not a gun: why"; a port that is
busy, absent or silent does not hold up the others (they are probed at the same time).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, replace
from typing import Any

import click

from mesogun.cli.options import LinkSettings, current_link_settings
from mesogun.cli.output import emit_json, emit_table
from mesogun.cli.session import connect_with, open_transport
from mesogun.errors import LinkTimeout, MesogunError
from mesogun.models import GunInfo
from mesogun.transports import is_serial_line
from mesogun.transports.discovery import PortInfo, list_guns
from mesogun.transports.usb import list_usb_guns

PROBE_TIMEOUT = 0.2
"""Seconds a probe waits for each reply (``--timeout`` overrides it)."""
PROBE_RETRIES = 1
"""Re-sends of a probe's hello: a gun answers at once, a port that is not a gun costs little."""

PORT_COLUMNS = ["device", "vid_pid", "serial_number", "description"]


@dataclass(frozen=True)
class ProbeResult:
    """What a port answered to hello: a gun's identity, or why it is not (taken as) a gun."""

    gun: GunInfo | None
    why_not: str = ""

    def fields(self) -> dict[str, Any]:
        """The ``probe`` object of ``devices --probe --json``."""
        if self.gun is None:
            return {"gun": False, "why_not": self.why_not}
        info = self.gun
        return {
            "gun": True,
            "model": info.model,
            "serial_number": info.serial_number,
            "firmware_version": info.firmware_version,
            "hardware_revision": info.hardware_revision,
            "protocol_version": info.protocol_version,
        }

    def text(self) -> str:
        """One cell of the human table."""
        if self.gun is None:
            return f"not a gun: {self.why_not}"
        info = self.gun
        return f"{info.model}, serial {info.serial_number}, firmware {info.firmware_version}"


async def probe(url: str, link: LinkSettings) -> ProbeResult:
    """Say hello on ``url`` (no record attached) and return its identity, or why it is not a gun; never raises
    for the port's sake (a usage error, a bad ``--baud``, is raised before any port is opened)."""
    try:
        async with connect_with(url, link, retries=PROBE_RETRIES) as gun:
            return ProbeResult(gun.info)
    except LinkTimeout as exc:
        waited = exc.attempts * exc.timeout if exc.attempts and exc.timeout else None
        within = f" within {waited:g} s" if waited else ""
        return ProbeResult(None, f"no answer to hello{within}")
    except MesogunError as exc:  # absent, busy, closed, incompatible, a bad URL: named, then on to the next port
        return ProbeResult(None, str(exc))
    except Exception as exc:  # a driver's own error on one port must not end the others' probes
        return ProbeResult(None, f"{type(exc).__name__}: {exc}")


async def probe_all(urls: list[str], links: list[LinkSettings]) -> list[ProbeResult]:
    """Probe every port at once, each with its settings; each result in the order of ``urls``."""
    return list(await asyncio.gather(*(probe(url, link) for url, link in zip(urls, links, strict=True))))


def usb_ports(vid_pid: str | None) -> list[PortInfo]:
    """The USB guns (pyusb) as rows of the listing: the ``usb://`` URL to open, and the product string."""
    return [
        PortInfo(device=gun.url, vid_pid=gun.vid_pid, serial_number=gun.serial_number, description=gun.product)
        for gun in list_usb_guns(vid_pid)
    ]


@click.command("devices")
@click.option(
    "--vid-pid",
    metavar="VVVV:PPPP",
    help="Only ports with this USB vendor:product id (hex); USB guns (usb://) are looked for under this id too, "
    "instead of the guns' own (1209:6D67).",
)
@click.option(
    "--probe",
    "probing",
    is_flag=True,
    help="Ask each port whether it is a gun (hello, with a short timeout; no treatment record) and show its "
    f"model, serial number and firmware version, or why not. Waits {PROBE_TIMEOUT:g} s per reply unless "
    "--timeout says otherwise.",
)
@click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="URL",
    help="Probe this port or URL instead of the discovered ones (repeatable; implies --probe). For ports the "
    "system does not list, such as a pty (/dev/pts/N) or socket://HOST:PORT.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Machine-readable output: one JSON list, an object per port with device, vid_pid, serial_number and "
    "description; with --probe each also has probe: {gun: true, model, serial_number, firmware_version, "
    "hardware_revision, protocol_version} or {gun: false, why_not}.",
)
def devices_command(vid_pid: str | None, probing: bool, ports: tuple[str, ...], as_json: bool) -> None:
    """List serial ports that may be guns and USB guns (usb://VID:PID/SERIAL), with VID:PID, serial number and
    description; --probe asks them."""
    if ports and vid_pid:
        raise click.UsageError("--port names the ports to probe: it cannot be combined with --vid-pid")
    found = [PortInfo(device=url, vid_pid=None, serial_number=None, description="") for url in ports] or [
        *list_guns(vid_pid),
        *usb_ports(vid_pid),
    ]
    rows = [dataclasses.asdict(port) for port in found]
    if probing or ports:
        link = current_link_settings()
        link = replace(link, timeout=link.timeout if link.timeout is not None else PROBE_TIMEOUT)
        links = [link if ports or is_serial_line(port.device) else replace(link, baud=None) for port in found]
        for port, port_link in zip(found, links, strict=True):  # --baud on a --port that is no serial line:
            open_transport(port.device, port_link)  # usage error, nothing opened (a listed USB gun just has none)
        results = asyncio.run(probe_all([port.device for port in found], links))
        for row, result in zip(rows, results, strict=True):
            row["probe"] = result.fields() if as_json else result.text()
    if as_json:
        emit_json(rows)
    elif not rows:
        click.echo("no serial ports or USB guns found" + (f" with VID:PID {vid_pid}" if vid_pid else ""))
    else:
        emit_table(rows, [*PORT_COLUMNS, *(["probe"] if probing or ports else [])])
