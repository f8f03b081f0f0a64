"""``mesogun watch``: the gun's state, parameters, reservoir, counters, alarms and link health, live.

Three ways to show it, one snapshot behind them all (:class:`Snapshot`): a view refreshed in place (rich) when
stdout is a terminal, one plain line per change when it is not, JSON lines with ``--json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from firmware_protocol import AlarmCode, AlarmPriority
from firmware_protocol.rules import ALARM_PRIORITIES
from mesogun.cli.output import emit_fields, emit_json
from mesogun.cli.progress import alarm_fields
from mesogun.cli.session import CliGun, on_gun
from mesogun.json_forms import shot_fields, status_fields
from mesogun.link import LinkHealth
from mesogun.models import AlarmEvent, Event, GunInfo, MissedEvents, ShotEvent, Status, StatusEvent, TriggerEvent
from mesogun.units import DEPTH, DOSE, RATE, decimals_for

WIRE_UNIT_SUFFIXES = ("_um", "_nl", "_mhz")
"""Status fields in wire units, left out of the JSON lines (their user-unit twins are there)."""

REFRESH_S = 0.5
"""How often the live view is redrawn without news (the last reply's age moves on)."""


@dataclass(frozen=True)
class Snapshot:
    """What ``watch`` shows at one moment: the device's latest status, the alarms' priorities, the link's health."""

    status: Status
    health: LinkHealth
    priorities: Mapping[AlarmCode, AlarmPriority] = field(default_factory=dict)
    """The priority each alarm event carried (the device's word); the rules' table for alarms seen only in a status."""

    def alarms(self) -> list[tuple[AlarmCode, AlarmPriority]]:
        """The active alarms, highest priority first (then by code)."""
        active = [
            (code, self.priorities.get(code, ALARM_PRIORITIES.get(code, AlarmPriority.HIGH)))
            for code in self.status.active_alarms
        ]
        return sorted(active, key=lambda item: (-item[1].value, item[0].value))

    def fields(self) -> dict[str, Any]:
        """The JSON line: ``event: status``, the status in user units, alarms by priority, link health."""
        health = self.health
        status = {k: v for k, v in status_fields(self.status).items() if not k.endswith(WIRE_UNIT_SUFFIXES)}
        return {
            "event": "status",
            **status,
            "alarms": [{"code": code.json_name, "priority": prio.json_name} for code, prio in self.alarms()],
            "link": {
                "retries": health.retransmissions,
                "timeouts": health.timeouts,
                "frames_dropped": health.frames_dropped,
                "bad_messages": health.bad_messages,
                "last_reply_s": round(health.last_rx_age, 3),
                "lost": health.lost,
            },
        }

    def rows(self, info: GunInfo, *, with_age: bool = True) -> dict[str, str]:
        """What a person sees, in user units; ``with_age=False`` leaves out the last reply's age (it always moves)."""
        status, limits = self.status, info.limits
        mm, ml, hz = (
            decimals_for(q, r.step)
            for q, r in ((DEPTH, limits.depth_um), (DOSE, limits.dose_nl), (RATE, limits.rate_mhz))
        )
        s = status.settings
        if status.syringe_capacity_ml:
            reservoir = f"{status.reservoir_ml:.{ml}f} mL left of {status.syringe_capacity_ml:g} mL"
            reservoir += ", primed" if status.primed else ", not primed"
        else:
            reservoir = "no syringe loaded"
        health = self.health
        link = f"{health.retransmissions} retries, {health.timeouts} timeouts, {health.frames_dropped} frames dropped"
        if health.lost is not None:
            link += f", LOST: {health.lost}"
        elif with_age:
            link += f", last reply {health.last_rx_age:.1f} s ago"
        return {
            "state": status.state.json_name,
            "parameters": f"depth {s.depth_mm:.{mm}f} mm, dose {s.dose_ml:.{ml}f} mL, rate {s.rate_hz:.{hz}f} shots/s, "
            f"mode {s.mode.json_name}",
            "reservoir": reservoir,
            "shots": f"{status.shots_session} this session, {status.shots_lifetime} lifetime",
            "alarms": ", ".join(f"{code.json_name} ({prio.json_name})" for code, prio in self.alarms()) or "none",
            "link": link,
        }


class WatchView:
    """How ``watch`` shows what it sees; the base shows nothing."""

    def __init__(self, info: GunInfo) -> None:
        self.info = info

    def snapshot(self, snapshot: Snapshot) -> None:
        """A new status arrived (or the first one)."""

    def tick(self, snapshot: Snapshot) -> None:
        """No news for a while (the link's age moved on)."""

    def event(self, event: Event) -> None:
        """A shot, an alarm, the trigger or pedal pressed or released, or missed events."""

    def close(self) -> None:
        """Stop any live display (idempotent)."""

    def __enter__(self) -> WatchView:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class JsonView(WatchView):
    """One JSON line per status and per event; nothing else on stdout."""

    def snapshot(self, snapshot: Snapshot) -> None:
        emit_json(snapshot.fields())

    def event(self, event: Event) -> None:
        if isinstance(event, ShotEvent):
            emit_json({"event": "shot", **shot_fields(event.shot)})
        elif isinstance(event, AlarmEvent):
            emit_json(alarm_fields(event))
        elif isinstance(event, TriggerEvent):
            state = "pressed" if event.pressed else "released"
            emit_json(
                {"event": "trigger", "source": event.source.json_name, "state": state, "device_time": event.device_time}
            )
        elif isinstance(event, MissedEvents):
            emit_json({"event": "missed", "count": event.count})


class PlainView(WatchView):
    """One plain line (no terminal codes) each time what is shown changes; the last reply's age is left out."""

    def __init__(self, info: GunInfo) -> None:
        super().__init__(info)
        self._last = ""

    def snapshot(self, snapshot: Snapshot) -> None:
        line = " | ".join(f"{k} {v}" for k, v in snapshot.rows(self.info, with_age=False).items())
        if line != self._last:
            self._last = line
            click.echo(line)


class LiveView(WatchView):
    """A table redrawn in place on a terminal (rich), with the gun's identity and how to stop."""

    def __init__(self, info: GunInfo, console: Console | None = None) -> None:
        super().__init__(info)
        self._live = Live(console=console or Console(), auto_refresh=False, transient=False)
        self._live.start()

    def _render(self, snapshot: Snapshot) -> Table:
        table = Table.grid(padding=(0, 2))
        table.title = f"{self.info.model} {self.info.serial_number}: watching (Ctrl-C to stop)"
        table.add_column(style="bold")
        table.add_column()
        alarms = snapshot.alarms()
        for name, value in snapshot.rows(self.info).items():
            style = "bold red" if name == "alarms" and alarms and alarms[0][1] is AlarmPriority.HIGH else None
            table.add_row(name, value, style=style)
        return table

    def snapshot(self, snapshot: Snapshot) -> None:
        self._live.update(self._render(snapshot), refresh=True)

    def tick(self, snapshot: Snapshot) -> None:
        self.snapshot(snapshot)

    def close(self) -> None:
        self._live.stop()


async def watch(gun: CliGun, view: WatchView, stop: asyncio.Event) -> None:
    """Show ``gun`` through ``view`` until ``stop`` is set. Sends no command of its own (the session's
    heartbeats go on as for any connection)."""
    priorities: dict[AlarmCode, AlarmPriority] = {}

    def snapshot() -> Snapshot:
        return Snapshot(gun.status, gun.link.health(), dict(priorities))

    events = gun.events()
    view.snapshot(snapshot())
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    incoming: asyncio.Future[Any] | None = None
    try:
        while not stop.is_set():
            if incoming is None:
                incoming = asyncio.ensure_future(anext(events))
            waiting: set[asyncio.Future[Any]] = {incoming, stopping}
            done, _ = await asyncio.wait(waiting, timeout=REFRESH_S, return_when=asyncio.FIRST_COMPLETED)
            if incoming not in done:
                if not stop.is_set():
                    view.tick(snapshot())
                continue
            event: Event = incoming.result()
            incoming = None
            if isinstance(event, AlarmEvent):
                priorities[event.code] = event.priority
            if isinstance(event, StatusEvent):
                view.snapshot(snapshot())
            else:
                view.event(event)
                if isinstance(event, AlarmEvent):
                    view.snapshot(snapshot())
    finally:
        events.close()
        for task in (incoming, stopping):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def watch_view(info: GunInfo, as_json: bool) -> WatchView:
    """JSON lines, a live table on a terminal, plain lines otherwise."""
    if as_json:
        return JsonView(info)
    if sys.stdout.isatty():
        return LiveView(info)
    return PlainView(info)


@click.command("watch")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per status and per event, nothing else.")
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.pass_context
def watch_command(ctx: click.Context, as_json: bool, once: bool) -> None:
    """Watch the gun live until Ctrl-C: state, parameters, reservoir, shot counters (session and lifetime),
    alarms by priority (highest first) and link health (retries, timeouts, last reply).

    On a terminal the view is refreshed in place; otherwise one plain line per change. watch only
    observes: it never arms or fires. Like every command it leaves the gun safe when it exits (firing
    stopped, disarmed): the safe default, kept for an observer too. It holds the connection while it runs
    (a serial port is one program's at a time; a TCP simulator gives its gun to the newest connection).
    Through a gun service it watches the service's event stream beside any other client and leaves the gun as
    it is (the link row is then the stream's: the age of its last event).
    """
    stop = asyncio.Event()

    async def body(gun: CliGun) -> None:
        if once:
            now = Snapshot(gun.status, gun.link.health())
            emit_json(now.fields()) if as_json else emit_fields(now.rows(gun.info))
            return
        with watch_view(gun.info, as_json) as view:
            await watch(gun, view, stop)

    on_gun(ctx, body, stop_request=stop)
