"""``mesogun diagnostics``: what a technician reads, both sides of the link, plunger, pressure, supply, alarms.

One ``get_diagnostics`` (it changes nothing on the gun, in any state), printed as aligned text with units, or
as one JSON object with ``--json`` (the :class:`~mesogun.models.Diagnostics` fields, in s, ms, kPa and V).
"""

from __future__ import annotations

import click

from mesogun.cli.output import emit_fields, emit_json, emit_table
from mesogun.cli.session import CliGun, on_gun
from mesogun.models import DeviceLinkCounters, Diagnostics, HostLinkCounters


def _frames(link: DeviceLinkCounters | HostLinkCounters) -> str:
    return (
        f"{link.frames_received} frames received, {link.frames_sent} sent; {link.crc_errors} CRC errors, "
        f"{link.framing_errors} framing errors, {link.bytes_discarded} bytes discarded"
    )


def diagnostics_text(d: Diagnostics) -> dict[str, str]:
    """What ``diagnostics`` shows a person: each figure with its unit and the span it counts over."""
    p, dev, host = d.plunger, d.device_link, d.host_link
    strokes = f"{p.strokes} strokes since power-on"
    if p.strokes:
        strokes += f", last {p.last_stroke_ms:.3f} ms, mean {p.mean_stroke_ms:.3f} ms, max {p.max_stroke_ms:.3f} ms"
    return {
        "uptime": f"{d.uptime:.3f} s since the gun powered on (the gun's clock)",
        "boots": f"{d.boot_count} over the gun's life, brown-outs included",
        "line pressure": f"{d.line_pressure_kpa} kPa (gauge)",
        "supply": f"{d.supply_v:.3f} V",
        "plunger": strokes,
        "plunger stalls": f"{p.stalls} over the gun's life",
        "link, gun side": f"{_frames(dev)}; {dev.replays} replays, {dev.bad_payloads} bad payloads (since power-on)",
        "link, host side": f"{_frames(host)}; {host.retries} retries, {host.timeouts} timeouts, "
        f"{host.bad_messages} bad messages (this connection)",
        "alarms": f"the last {len(d.alarms)}, oldest first:" if d.alarms else "none logged",
    }


def _alarm_rows(d: Diagnostics) -> list[dict[str, object]]:
    return [
        {
            "boot": a.boot,
            "device time (s)": f"{a.device_time:.3f}",
            "alarm": a.code.json_name,
            "priority": a.priority.json_name,
            "change": "raised" if a.raised else "cleared",
        }
        for a in d.alarms
    ]


@click.command("diagnostics")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one JSON object.")
@click.pass_context
def diagnostics_command(ctx: click.Context, as_json: bool) -> None:
    """Show the gun's diagnostics: link counters on both sides, plunger stroke times and stalls, line pressure
    (kPa), supply (V), uptime, boot count and the last alarms with their times. Changes nothing on the gun."""

    async def body(gun: CliGun) -> Diagnostics:
        return await gun.diagnostics()

    diagnostics = on_gun(ctx, body)
    if as_json:
        emit_json(diagnostics)
        return
    emit_fields(diagnostics_text(diagnostics))
    if diagnostics.alarms:
        emit_table(_alarm_rows(diagnostics), ["boot", "device time (s)", "alarm", "priority", "change"])
