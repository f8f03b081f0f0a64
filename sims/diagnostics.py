"""``get_diagnostics`` on the simulated gun: the figures a technician reads, gathered from the parts that know them.

Read-only and allowed in every state (the rules have no check for it). Link counters come from the device's
stream decoder (CRC and framing errors, bytes dropped while resynchronising, frames received) and from its
dispatcher and output (:class:`~sims.core.LinkCounters`: replays, bad payloads, frames sent); the plunger's
stroke times from firing (:class:`~sims.core.PlungerStats`); line pressure and supply voltage from the
physical model's sensors (:mod:`sims.physics`); boot count, stall count and the alarm log from NVM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from firmware_protocol import CATALOG, DecoderStats, Message
from sims.core import DeviceCore
from sims.dispatch import CommandHandler, Reply

_LARGEST = {f.name: (1 << 8 * f.wire.sizeof()) - 1 for f in CATALOG.by_name["diagnostics"].fields if f.name != "alarms"}
"""Each counter's largest wire value: a counter that reaches it stays there (docs/protocol.md, section 11)."""


class DiagnosticsReader:
    """The ``get_diagnostics`` handler over the device's core, its current decoder and its plunger."""

    def __init__(self, core: DeviceCore, decoder_stats: Callable[[], DecoderStats], stroking: Callable[[], bool]):
        self._core = core
        self._decoder_stats = decoder_stats
        self._stroking = stroking

    def registry(self) -> dict[str, CommandHandler]:
        """Message name → handler: the diagnostics command."""
        return {"get_diagnostics": CommandHandler(self._diagnostics)}

    def _diagnostics(self, message: Message) -> Reply:
        core, ram = self._core, self._core.ram
        retired, current = ram.link.retired, self._decoder_stats()

        def decoded(name: str) -> int:
            """A decoder counter since power-on: the ended connections' plus the current one's."""
            return int(getattr(retired, name) + getattr(current, name))

        plunger, stroking, nvm = ram.plunger, self._stroking(), core.nvm
        figures: dict[str, Any] = {
            "uptime_ms": core.device_time_ms(),
            "boot_count": nvm.data.boot_count,
            "frames_received": decoded("frames"),
            "frames_sent": ram.link.frames_sent,
            "crc_errors": decoded("crc_errors"),
            "framing_errors": decoded("truncated") + decoded("bad_length") + decoded("oversize"),
            "bytes_discarded": decoded("garbage_bytes"),
            "replays": ram.link.replays,
            "bad_payloads": ram.link.bad_payloads,
            "strokes": plunger.strokes,
            "stroke_last_us": plunger.last_us,
            "stroke_mean_us": plunger.mean_us,
            "stroke_max_us": plunger.max_us,
            "plunger_stalls": nvm.data.stall_count,
            "line_pressure_kpa": core.line.pressure_kpa(stroking=stroking),
            "supply_mv": core.supply.voltage_mv(core.now(), stroking=stroking),
        }
        saturated = {name: min(value, _LARGEST[name]) for name, value in figures.items()}
        return "diagnostics", {**saturated, "alarms": [asdict(alarm) for alarm in nvm.alarm_log]}
