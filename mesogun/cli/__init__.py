"""The ``mesogun`` command line: one entry point, global options before the command.

Exit codes: 0 success, 2 bad usage or a value out of range, 3 refused by the device (nak), 4 link
failure or timeout, 5 device alarm. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys

import click

from mesogun.errors import MesogunError

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 2 bad usage or a value out of range, 3 refused by the device (nak), "
    "4 link failure or timeout, 5 device alarm."
)


@click.group(epilog=EXIT_CODES_HELP)
@click.version_option(package_name="mesogun")
def cli() -> None:
    """Drive a mesotherapy gun, or serve the simulated one."""


def _register_commands() -> None:
    from sims.cli import sim_command

    cli.add_command(sim_command, "sim")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every :class:`MesogunError` into one line on stderr and its exit code."""
    _register_commands()
    try:
        cli.main(args=argv, prog_name="mesogun", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except MesogunError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
