"""The ``mesogun`` command line: one entry point, global options before the command.

Exit codes: 0 success, 2 bad usage or a value out of range (a bad device URL, no such session, a file that
cannot be written), 3 refused by the device (nak), 4 link failure or timeout, 5 device alarm, 6 treatment
record unavailable. Errors are one line on stderr,
never a traceback.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from mesogun.cli.hints import cli_message
from mesogun.errors import MesogunError

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 2 bad usage or a value out of range (a bad device URL, no such session, a file "
    "that cannot be written), 3 refused by the device (nak), "
    "4 link failure or timeout, 5 device alarm, 6 treatment record unavailable."
)
DEVICE_ENV = "MESOGUN_DEVICE"
DB_ENV = "MESOGUN_DB"


@dataclass
class CliContext:
    """The global options every command sees."""

    device: str | None
    db: Path | None


_INVOKED: list[str] = []
"""The command this process runs (``fire``), for errors that name it (set by the group)."""


def _check_db(value: Path | None) -> Path | None:
    """``--db`` names a file: an empty value (``--db ""``) or a folder is a usage error (exit 2)."""
    if value is not None and (str(value) in ("", ".") or value.is_dir()):
        raise click.BadParameter("needs the treatment record's file path, not an empty value or a folder")
    return value


@click.group(epilog=EXIT_CODES_HELP)
@click.option(
    "--device",
    metavar="URL",
    envvar=DEVICE_ENV,
    help=f"The gun: a serial port (/dev/ttyACM0), socket://HOST:PORT, rfc2217://…, or sim:// (a fresh simulated "
    f"gun in this process). Default: ${DEVICE_ENV}.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=DB_ENV,
    callback=lambda ctx, param, value: _check_db(value),
    help=f"Treatment record (SQLite). Default: ${DB_ENV}, else the user's data directory (the only place whose "
    "folders are created).",
)
@click.version_option(package_name="mesogun")
@click.pass_context
def cli(ctx: click.Context, device: str | None, db: Path | None) -> None:
    """Drive a mesotherapy gun, keep its treatment record, or serve the simulated one."""
    ctx.obj = CliContext(device=device, db=db)
    if ctx.invoked_subcommand:
        _INVOKED[:] = [ctx.invoked_subcommand]


def _register_commands() -> None:
    from mesogun.cli.demo import demo_command
    from mesogun.cli.device_commands import DEVICE_COMMANDS
    from mesogun.cli.record_commands import record_group
    from mesogun.cli.watch import watch_command
    from sims.cli import sim_command

    if "sim" in cli.commands:
        return
    cli.add_command(sim_command, "sim")
    cli.add_command(record_group, "record")
    cli.add_command(demo_command, "demo")
    for command in DEVICE_COMMANDS:
        cli.add_command(command)
    cli.add_command(watch_command)


class _OneLineFormatter(logging.Formatter):
    """Log records as one line each: the exception's message, never its traceback (no traceback reaches a user)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            line += f" ({record.exc_info[1]})"
        return line


def _log_to_stderr_in_one_line() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLineFormatter())
    logger = logging.getLogger("mesogun")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every :class:`MesogunError` into one line on stderr and its exit code."""
    _register_commands()
    _log_to_stderr_in_one_line()
    _INVOKED.clear()
    try:
        result = cli.main(args=argv, prog_name="mesogun", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except MesogunError as exc:
        click.echo(f"error: {cli_message(exc, _INVOKED[0] if _INVOKED else None)}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
