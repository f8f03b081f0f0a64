"""``python -m sims``: the simulators. ``gun`` (the same command as ``mesogun sim``), ``balance``, ``gauge``."""

from __future__ import annotations

import click

from sims.cli import sim_command
from sims.instrument_cli import balance_command, gauge_command


@click.group()
def main() -> None:
    """Serve a simulated gun, laboratory balance or depth gauge over a pty or TCP."""


main.add_command(sim_command, "gun")
main.add_command(balance_command)
main.add_command(gauge_command)

if __name__ == "__main__":
    main(prog_name="python -m sims")
