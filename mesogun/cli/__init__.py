"""The ``mesogun`` command line: one entry point; global options before or after the command
(:mod:`mesogun.cli.options`), ``-h`` as well as ``--help`` everywhere.

Device commands go through a running gun service when one is configured or found (``--service URL``,
``$MESOGUN_SERVICE``, or the service on the well-known local socket), else open the device directly
(:mod:`mesogun.cli.session`, :mod:`mesogun.cli.remote`); the exit codes are the same either way.

Exit codes: 0 success, 2 bad usage or a value out of range (a bad device URL, no such session, a file that
cannot be written), 3 refused by the device (nak), 4 link failure or timeout, 5 device alarm, 6 treatment
record unavailable. Errors are one line on stderr,
never a traceback.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points

import click

from mesogun.cli.hints import cli_message
from mesogun.cli.options import GROUP_OPTIONS_HELP, CliContext, global_options, group_options, service_options
from mesogun.errors import MesogunError

SERVICE_HELP = (
    "Device commands go through a running gun service (mesogun serve) when one is given with --service URL or "
    "$MESOGUN_SERVICE, or answers on the local socket; otherwise they open the device directly (--no-service: "
    "always). The exit codes are the same either way."
)

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 2 bad usage or a value out of range (a bad device URL, no such session, a file "
    "that cannot be written), 3 refused by the device (nak), "
    "4 link failure or timeout, 5 device alarm, 6 treatment record unavailable."
)

_INVOKED: list[str] = []
"""The command this process runs (``fire``), for errors that name it (set by the group)."""


@group_options
@click.group(
    epilog=f"{GROUP_OPTIONS_HELP}\n\n{SERVICE_HELP}\n\n{EXIT_CODES_HELP}",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="mesogun")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Drive a mesotherapy gun, keep its treatment record, or serve the simulated one."""
    ctx.ensure_object(CliContext)
    if ctx.invoked_subcommand:
        _INVOKED[:] = [ctx.invoked_subcommand]


def _register_commands() -> None:
    """Add every command; each takes the global options after its name too (``sim`` has its own options)."""
    from mesogun.cli import firmware_commands
    from mesogun.cli.calibrate import calibrate_group
    from mesogun.cli.clinic_commands import CLINIC_GROUPS
    from mesogun.cli.demo import demo_command
    from mesogun.cli.device_commands import DEVICE_COMMANDS
    from mesogun.cli.devices import devices_command
    from mesogun.cli.record_commands import record_group
    from mesogun.cli.report_commands import aftercare_command, report_command
    from mesogun.cli.treatment_commands import session_group
    from mesogun.cli.visit_commands import visit_group
    from mesogun.cli.watch import watch_command
    from sims.cli import sim_command

    if "sim" in cli.commands:
        return
    cli.add_command(sim_command, "sim")
    firmware_commands.register(cli)
    record_group.add_command(report_command)
    record_group.add_command(aftercare_command)
    for record_command in record_group.commands.values():
        global_options(record_command, only=("db", "verbose"))
    cli.add_command(record_group, "record")
    cli.add_command(global_options(demo_command, only=("db", "verbose", "trace")), "demo")
    cli.add_command(global_options(devices_command, only=("verbose", "trace", "baud", "timeout", "connect_attempts")))
    for command in [*DEVICE_COMMANDS, watch_command]:
        cli.add_command(service_options(global_options(command)))
    for group in (visit_group, *CLINIC_GROUPS, session_group):  # the service's: patients, courses, lots, sessions
        for service_command in group.commands.values():
            service_options(global_options(service_command, only=("device", "verbose")))
        cli.add_command(group)
    for name, calibrate_command in calibrate_group.commands.items():  # a technician's runs on a gun; the history
        global_options(calibrate_command, only=("db", "verbose") if name == "history" else None)
        if name != "history":
            service_options(calibrate_command)
    cli.add_command(calibrate_group)
    for plugin in entry_points(group="mesogun.commands"):  # the gun service's serve and users: mesogun never
        command = plugin.load()  # imports the service; the service plugs its commands in
        cli.add_command(global_options(command, only=("verbose",)) if plugin.name == "serve" else command, plugin.name)


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


__all__ = ["CliContext", "cli", "entry_point", "main"]


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
