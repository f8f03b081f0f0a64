"""``mesogun demo``: a short scripted treatment on the built-in simulated gun, with live progress."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from mesogun.cli.firing import arm_fire_disarm
from mesogun.cli.output import emit_fields, emit_json
from mesogun.cli.session import run_on_gun
from mesogun.models import AlarmEvent, ShotRecord
from mesogun.presets import PRESETS
from mesogun.session.gun import Gun


@click.command("demo")
@click.option("--shots", type=click.IntRange(1, 1000), default=20, show_default=True, help="Shots to fire.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="face", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the closing summary as one JSON object.")
@click.option("--keep", is_flag=True, help="Without --db: keep the temporary record and print its path.")
@click.pass_context
def demo_command(ctx: click.Context, shots: int, preset: str, as_json: bool, keep: bool) -> None:
    """Run a short treatment on a simulated gun: load a 5 mL syringe, prime, apply a preset, arm, fire, disarm.

    Uses the built-in simulator (sim://), never a real gun. The session goes to --db if given; else to a
    temporary record that is removed when the demo ends (also on an error or Ctrl-C) unless --keep is given.
    """
    if ctx.obj.db is not None:
        summary = _demo(ctx.obj.db, shots, preset, as_json)
    elif keep:
        summary = _demo(Path(tempfile.mkdtemp(prefix="mesogun-demo-")) / "demo-record.sqlite", shots, preset, as_json)
    else:
        with tempfile.TemporaryDirectory(prefix="mesogun-demo-", ignore_cleanup_errors=True) as folder:
            summary = _demo(Path(folder) / "demo-record.sqlite", shots, preset, as_json)
        summary["record"] = None  # removed: no path that no longer exists
    if as_json:
        emit_json(summary)
    else:
        click.echo("summary")
        emit_fields({**summary, "record": summary["record"] or "not kept (give --db FILE or --keep)"})


def _demo(db: Path | str, shots: int, preset: str, as_json: bool) -> dict[str, Any]:
    """Run the scripted treatment with its record at ``db``; the closing summary, in the device's figures."""
    chosen = PRESETS[preset]
    alarms: list[str] = []
    progress: list[int] = []

    def say(text: str) -> None:
        click.echo(text, err=as_json)

    def on_shot(shot: ShotRecord) -> None:
        progress.append(shot.index)
        where = f"[{len(progress):>3}/{shots}] shot {shot.index:>4}"
        dose = f"dose {shot.dose_ml * 1000:.0f} µL"
        volume = f"partial, {shot.delivered_ml * 1000:.0f} µL of the {dose}" if shot.partial else dose
        say(f"  {where}  depth {shot.depth_mm:.2f} mm  {volume}")

    def on_alarm(alarm: AlarmEvent) -> None:
        alarms.append(alarm.code.json_name)
        say(f"  ALARM {alarm.code.json_name} ({alarm.priority.json_name})")

    async def treatment(gun: Gun) -> dict[str, Any]:
        say(f"connected to {gun.info.model}, serial {gun.info.serial_number}")
        say("loading a 5 mL syringe, full")
        await gun.load_syringe(capacity_ml=5, fill_ml=5)
        loaded = await gun.refresh_status()
        primed_ml = await gun.prime(volume_ml=0.1)
        say(f"primed {primed_ml:g} mL")
        say(f"preset {chosen.description}: {chosen.depth_mm} mm, {chosen.dose_ml} mL, {chosen.rate_hz} shots/s")
        await gun.configure(depth_mm=chosen.depth_mm, dose_ml=chosen.dose_ml, rate_hz=chosen.rate_hz, mode=chosen.mode)
        say(f"arming and firing {shots} shots")
        fired = await arm_fire_disarm(gun, shots, on_shot, on_alarm)
        status = await gun.refresh_status()
        return {
            "shots": len(fired),
            "primed_ml": primed_ml,
            "volume_delivered_ml": round(sum(s.delivered_ml for s in fired), 6),  # a partial shot: what left
            "reservoir_loaded_ml": loaded.reservoir_ml,
            "reservoir_left_ml": status.reservoir_ml,
            "alarms": alarms,
            "state": status.state.json_name,
            "record": str(db),
        }

    return run_on_gun("sim://", db, treatment)
