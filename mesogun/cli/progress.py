"""What ``fire`` and ``prime`` show while they run: plain lines, JSON lines, or a live progress bar.

* ``--json``: JSON lines on stdout and nothing else there: ``{"event": "shot", …}`` per shot as it lands,
  ``{"event": "alarm", …}`` per alarm raised, then one ``{"event": "summary", …}`` (also after a failure, with
  its ``error``). No human progress.
* stdout and stderr both terminals: a progress bar on stderr (rich) with running totals: shots n/count,
  volume delivered, reservoir left, elapsed; alarms are printed above it. stdout gets the closing summary only.
* anything else (a pipe, a file, a test): one plain line per shot on stdout, then the summary line, as
  scripts expect.

Every figure is the device's: the count it acknowledged, the doses it measured, the reservoir it reported.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from firmware_protocol import AlarmCode
from mesogun import json_forms
from mesogun.cli.output import emit_fields, emit_json
from mesogun.json_forms import shot_fields
from mesogun.models import AlarmEvent, ShotRecord


class Style(enum.Enum):
    """How a command shows its progress."""

    PLAIN = "plain"
    JSON = "json"
    BAR = "bar"


def choose_style(as_json: bool) -> Style:
    """JSON lines if asked; a progress bar when stdout and stderr are both terminals; plain lines otherwise."""
    if as_json:
        return Style.JSON
    return Style.BAR if sys.stdout.isatty() and sys.stderr.isatty() else Style.PLAIN


def alarm_fields(alarm: AlarmEvent) -> dict[str, Any]:
    """One alarm event as a JSON line (``event: alarm``): code, priority, raised, device_time."""
    return {"event": "alarm", **json_forms.alarm_fields(alarm)}


def alarm_text(alarm: AlarmEvent) -> str:
    """An alarm as a person reads it."""
    return f"ALARM {alarm.code.json_name} ({alarm.priority.json_name} priority)"


def _stderr_console() -> Console:
    return Console(stderr=True)


# ---------------------------------------------------------------------------------------------------- fire


@dataclass
class FireTotals:
    """Running totals of one ``fire``: the device's figures as they arrive."""

    requested: int
    """The count asked for (0: until stopped)."""
    count: int | None = None
    """The count the device acknowledged (0: until stopped); ``None`` until it did."""
    shots: int = 0
    """Shots delivered so far."""
    volume_ml: float = 0.0
    """Their volume: what the device estimates each shot delivered (a partial shot less than its dose)."""
    reservoir_ml: float | None = None
    """What the device last reported left in the syringe."""
    device_fired: int | None = None
    """The device's own count of shots fired for this command, once the burst is over (``None`` before)."""
    recovered: int = 0
    """Shots among :attr:`shots` whose event was lost and whose details were read back from the device's log."""
    partial: int = 0
    """Shots among :attr:`shots` cut short by an alarm (their volume is what left before the abort)."""

    @property
    def fired(self) -> int:
        """Shots the device fired: its own count once known, else the shots seen so far."""
        return self.shots if self.device_fired is None else max(self.device_fired, self.shots)

    @property
    def unreceived(self) -> int:
        """Shots the device fired whose details the host does not have."""
        return self.fired - self.shots

    def summary(self) -> dict[str, Any]:
        """The closing figures (``fired``, ``recovered``, ``partial``, ``unreceived``, ``count``, ``volume_ml``,
        ``reservoir_ml``): the device's counts."""
        return {
            "fired": self.fired,
            "recovered": self.recovered,
            "partial": self.partial,
            "unreceived": self.unreceived,
            "count": self.count if self.count is not None else self.requested,
            "volume_ml": round(self.volume_ml, 6),
            "reservoir_ml": self.reservoir_ml,
        }

    def summary_line(self) -> str:
        """``fired 40 shots, 0.400 mL`` and, if any, how many were partial and how many shots' details came from
        the device's log or were not received: the device's count, never a silent difference."""
        said = ((self.recovered, "recovered from the device log"), (self.unreceived, "not received"))
        partial = f" ({self.partial} partial)" if self.partial else ""
        notes = "".join(f"; {_shots_details(n)} {what}" for n, what in said if n)
        return f"fired {self.fired} shots{partial}, {self.volume_ml:.3f} mL{notes}"

    @property
    def of(self) -> str:
        """``/N`` for a bounded burst (N the acknowledged count), empty for one until stopped."""
        count = self.count if self.count is not None else self.requested
        return f"/{count}" if count else ""


def _shots_details(count: int) -> str:
    """``1 shot's details``, ``2 shots' details``."""
    return f"{count} shot's details" if count == 1 else f"{count} shots' details"


class FireReport:
    """Counts one ``fire``'s shots and shows them; :func:`fire_report` picks the way for the output."""

    def __init__(self, requested: int) -> None:
        self.totals = FireTotals(requested)

    def acknowledged(self, count: int) -> None:
        """The device acknowledged the fire with ``count`` (single mode: 1)."""
        self.totals.count = count

    def shot(self, shot: ShotRecord, reservoir_ml: float) -> None:
        """A shot landed; ``reservoir_ml`` is the device's latest report."""
        totals = self.totals
        totals.shots += 1
        totals.volume_ml += shot.delivered_ml
        totals.reservoir_ml = reservoir_ml
        totals.recovered += shot.recovered
        totals.partial += shot.partial
        self._show_shot(shot)

    def completed(self, fired: int) -> None:
        """The burst is over; ``fired`` is the device's own count of shots fired for it."""
        self.totals.device_fired = fired

    def alarm(self, alarm: AlarmEvent) -> None:
        """An alarm was raised while firing."""

    def stopped_by(self, code: AlarmCode) -> None:
        """The fire ended with alarm ``code`` (said before :meth:`finish`, whether or not its event was shown)."""

    def finish(self, reservoir_ml: float | None, error: str | None = None) -> None:
        """The fire is over (``error``: why it ended early); show the summary."""
        if reservoir_ml is not None:
            self.totals.reservoir_ml = reservoir_ml

    def close(self) -> None:
        """Stop any live display (idempotent)."""

    def _show_shot(self, shot: ShotRecord) -> None:
        pass

    def __enter__(self) -> FireReport:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class PlainFireReport(FireReport):
    """One line per shot on stdout (``[3/10] shot 42: …``), then ``fired N shots, V mL``.

    A partial shot's line waits for the alarm that cut it (its event comes just before) to name it:
    ``shot 6: partial, 0.004 of 0.010 mL, stopped by occlusion``.
    """

    def __init__(self, requested: int) -> None:
        super().__init__(requested)
        self._partial: str | None = None

    def _show_shot(self, shot: ShotRecord) -> None:
        self._flush_partial("an alarm")
        where = f"[{self.totals.shots}{self.totals.of}] shot {shot.index}"
        if shot.partial:
            self._partial = f"{where}: partial, {shot.delivered_ml:.3f} of {shot.dose_ml:.3f} mL, stopped by {{}}"
            self._partial += f" (depth {shot.depth_mm:.2f} mm, t={shot.device_time:.3f} s)"
            return
        click.echo(f"{where}: depth {shot.depth_mm:.2f} mm, dose {shot.dose_ml:.3f} mL, t={shot.device_time:.3f} s")

    def _flush_partial(self, cause: str) -> None:
        if self._partial is not None:
            click.echo(self._partial.format(cause))
            self._partial = None

    def alarm(self, alarm: AlarmEvent) -> None:
        self._flush_partial(alarm.code.json_name)
        click.echo(alarm_text(alarm))

    def stopped_by(self, code: AlarmCode) -> None:
        self._flush_partial(code.json_name)

    def finish(self, reservoir_ml: float | None, error: str | None = None) -> None:
        self._flush_partial("an alarm")
        super().finish(reservoir_ml, error)
        if error is None:
            click.echo(self.totals.summary_line())


class JsonFireReport(FireReport):
    """JSON lines on stdout: one per shot (with running totals), one per alarm, a closing summary."""

    def _show_shot(self, shot: ShotRecord) -> None:
        totals = self.totals
        emit_json(
            {
                "event": "shot",
                "done": totals.shots,
                "count": totals.count if totals.count is not None else totals.requested,
                **shot_fields(shot),
                "volume_ml": round(totals.volume_ml, 6),
                "reservoir_ml": totals.reservoir_ml,
            }
        )

    def alarm(self, alarm: AlarmEvent) -> None:
        emit_json(alarm_fields(alarm))

    def finish(self, reservoir_ml: float | None, error: str | None = None) -> None:
        super().finish(reservoir_ml, error)
        emit_json({"event": "summary", **self.totals.summary(), **({"error": error} if error else {})})


class BarFireReport(FireReport):
    """A progress bar on ``console`` (stderr): shots n/count, volume delivered, reservoir left, elapsed."""

    def __init__(self, requested: int, console: Console | None = None) -> None:
        super().__init__(requested)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[shots]}"),
            TextColumn("{task.fields[volume]}"),
            TextColumn("{task.fields[reservoir]}"),
            TimeElapsedColumn(),
            console=console or _stderr_console(),
        )
        self._task: TaskID = self._progress.add_task("firing", total=requested or None, **self._fields())
        self._started = False  # shown from the device's ack on: a fire refused before that leaves no bar behind

    def _fields(self) -> dict[str, Any]:
        totals = self.totals
        left = "—" if totals.reservoir_ml is None else f"{totals.reservoir_ml:.3f} mL left"
        return {
            "shots": f"{totals.shots}{totals.of} shots",
            "volume": f"{totals.volume_ml:.3f} mL delivered",
            "reservoir": left,
        }

    def _refresh(self, **changes: Any) -> None:
        if not self._started:
            self._started = True
            self._progress.start()
        self._progress.update(self._task, completed=self.totals.shots, refresh=True, **changes, **self._fields())

    def acknowledged(self, count: int) -> None:
        super().acknowledged(count)
        self._refresh(description="firing", total=count or None)

    def _show_shot(self, shot: ShotRecord) -> None:
        self._refresh()

    def alarm(self, alarm: AlarmEvent) -> None:
        self._progress.console.print(alarm_text(alarm), style="bold red", markup=False)

    def finish(self, reservoir_ml: float | None, error: str | None = None) -> None:
        super().finish(reservoir_ml, error)
        if self._started:
            self._refresh(description="fired" if error is None else "stopped", total=self.totals.shots or None)
        self.close()
        if error is None:
            click.echo(self.totals.summary_line())

    def close(self) -> None:
        if self._started:
            self._progress.stop()


def fire_report(style: Style, requested: int) -> FireReport:
    """The report for ``fire --count requested`` in ``style``."""
    if style is Style.JSON:
        return JsonFireReport(requested)
    if style is Style.BAR:
        return BarFireReport(requested)
    return PlainFireReport(requested)


# ---------------------------------------------------------------------------------------------------- prime


class PrimeReport:
    """Shows one ``prime``: the volume asked for, alarms, then what was primed and what is left."""

    def started(self, volume_ml: float, reservoir_ml: float) -> None:
        """Priming ``volume_ml`` began with ``reservoir_ml`` in the syringe."""

    def alarm(self, alarm: AlarmEvent) -> None:
        """An alarm was raised while priming."""
        click.echo(alarm_text(alarm))

    def finish(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        """Priming is over: ``result`` holds ``primed_ml`` and ``reservoir_ml`` (``None`` if it failed)."""
        if result is not None:
            emit_fields(result)

    def close(self) -> None:
        """Stop any live display (idempotent)."""

    def __enter__(self) -> PrimeReport:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class JsonPrimeReport(PrimeReport):
    """JSON lines on stdout: one per alarm, then ``{"event": "summary", "primed_ml", "reservoir_ml"}``."""

    def alarm(self, alarm: AlarmEvent) -> None:
        emit_json(alarm_fields(alarm))

    def finish(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        emit_json({"event": "summary", **(result or {}), **({"error": error} if error else {})})


class BarPrimeReport(PrimeReport):
    """A spinner on ``console`` (stderr) while priming: the volume, the reservoir, elapsed."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[reservoir]}"),
            TimeElapsedColumn(),
            console=console or _stderr_console(),
        )
        self._task = self._progress.add_task("connecting", total=None, reservoir="")
        self._progress.start()

    def started(self, volume_ml: float, reservoir_ml: float) -> None:
        self._progress.update(
            self._task,
            description=f"priming {volume_ml:.3f} mL",
            reservoir=f"{reservoir_ml:.3f} mL in the syringe",
            refresh=True,
        )

    def alarm(self, alarm: AlarmEvent) -> None:
        self._progress.console.print(alarm_text(alarm), style="bold red", markup=False)

    def finish(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        if result is not None:
            self._progress.update(
                self._task,
                description=f"primed {result['primed_ml']:.3f} mL",
                reservoir=f"{result['reservoir_ml']:.3f} mL left",
                total=1,
                completed=1,
            )
        self.close()
        super().finish(result, error)

    def close(self) -> None:
        self._progress.stop()


def prime_report(style: Style) -> PrimeReport:
    """The report for ``prime`` in ``style``."""
    if style is Style.JSON:
        return JsonPrimeReport()
    if style is Style.BAR:
        return BarPrimeReport()
    return PrimeReport()
