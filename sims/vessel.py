"""The vessel on the simulated balance's pan: the liquid a simulated gun truly delivered, as mass, less evaporation.

Volumes arrive in nL (what :meth:`sims.device.SimulatedGun.add_outflow_listener` reports: the hidden truth, not the
dose the device believes it gave) and become mass through the density of water at the vessel's temperature. The
liquid evaporates at a constant rate while there is any (an open vessel without an evaporation trap), over the
event loop's clock, so it runs in virtual time like the gun.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sims.device import SimulatedGun

TANAKA = (-3.983035, 301.797, 522528.9, 69.34881, 999.974950)
"""Tanaka et al. (2001), Metrologia 38, 301: air-free pure water's density, kg/m³, 0–40 °C (a1…a5)."""


def water_density_mg_ul(temperature_c: float) -> float:
    """Density of pure water at ``temperature_c`` in mg/µL (= g/mL): 0.99820 at 20 °C."""
    a1, a2, a3, a4, a5 = TANAKA
    t = temperature_c
    return a5 * (1 - (t + a1) ** 2 * (t + a2) / (a3 * (t + a4))) / 1000.0


class Vessel:
    """A weighing vessel: its own mass (``container_g``) and the liquid it received (true volumes), evaporating.

    ``clock`` is the loop's clock (``loop.time``); ``on_change`` is called after each arrival (the balance
    starts settling on a load change).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        container_g: float = 10.0,
        temperature_c: float = 20.0,
        evaporation_mg_s: float = 0.0,
    ) -> None:
        self._clock = clock
        self.container_g = container_g
        self.temperature_c = temperature_c
        self.evaporation_mg_s = evaporation_mg_s
        self.received_nl = 0
        """Every true volume received, in nL (what a perfect balance without evaporation would see)."""
        self.listeners: list[Callable[[], None]] = []
        """Called after liquid arrived (the pan's load changed)."""
        self._liquid_mg = 0.0
        self._at = clock()

    def receive(self, true_nl: int) -> None:
        """``true_nl`` of water arrived now (an outflow listener: a shot, a partial shot, priming)."""
        self._settle()
        self.received_nl += true_nl
        self._liquid_mg += true_nl / 1000.0 * water_density_mg_ul(self.temperature_c)
        for listener in tuple(self.listeners):
            listener()

    def liquid_mg(self) -> float:
        """The liquid's mass now, in mg: what arrived less what evaporated since (never below 0)."""
        self._settle()
        return self._liquid_mg

    def mass_g(self) -> float:
        """The vessel's mass now (container and liquid), in g."""
        return self.container_g + self.liquid_mg() / 1000.0

    def empty(self) -> None:
        """Pour the liquid away (a new series starts with an empty vessel)."""
        self._settle()
        self._liquid_mg = 0.0
        for listener in tuple(self.listeners):
            listener()

    def place_under(self, gun: SimulatedGun) -> Callable[[], None]:
        """Put the vessel under ``gun``'s needle: it receives what the gun truly delivers; returns the remover."""
        return gun.add_outflow_listener(self.receive)

    def _settle(self) -> None:
        """Bring the liquid's mass up to now: evaporation since the last look."""
        now = self._clock()
        elapsed = max(now - self._at, 0.0)
        self._at = now
        if self._liquid_mg > 0 and self.evaporation_mg_s > 0:
            self._liquid_mg = max(self._liquid_mg - self.evaporation_mg_s * elapsed, 0.0)
