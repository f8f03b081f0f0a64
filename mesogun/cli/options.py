"""Global options, declared once: accepted before the command (``mesogun --device X status``) and after it
(``mesogun status --device X``), with the same meaning. Given in both places, the one after the command wins.

How it works: each option in :data:`GLOBAL_OPTIONS` stores its value, when the user gave one (command line
or, before the command only, the environment), on the invocation's one :class:`CliContext` (``ctx.obj``).
The group parses its copies first, then the command parses its own, so a value after the command overrides.

To give a command the global options, apply :func:`global_options` to it (a click command object)::

    @global_options
    @click.command("watch")
    @click.pass_context
    def watch_command(ctx: click.Context) -> None:
        on_gun(ctx, body)  # --service, --device, --db, --baud, --timeout, --trace... apply by themselves

``mesogun.cli`` applies it, and :func:`service_options` (``--service``, ``--no-service``), to every command in
``DEVICE_COMMANDS`` when registering them, so a new device command only has to be listed there.
``global_options(command, only=("db", "verbose"))`` gives a subset (the record commands take only ``--db`` and
``-v``). Commands read the values from ``ctx.obj``; :func:`mesogun.cli.session.on_gun` chooses the service or the
device, and :func:`mesogun.cli.session.run_on_gun` applies the connection settings (:class:`LinkSettings`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from mesogun.errors import ParameterError
from mesogun.link import ACK_TIMEOUT, RETRIES
from mesogun.service_client import SERVICE_ENV
from mesogun.transports.serial import BAUDRATE, BAUDRATE_RANGE, check_baudrate

DEVICE_ENV = "MESOGUN_DEVICE"
DB_ENV = "MESOGUN_DB"
MAX_TIMEOUT = 60.0
"""Longest ``--timeout``, in seconds: a reply that takes longer is a link that has failed."""
MAX_CONNECT_ATTEMPTS = 100
CONNECT_INTERVAL = 0.5
"""Seconds between connection attempts (``--connect-attempts``)."""


@dataclass(frozen=True)
class LinkSettings:
    """How a command connects: what ``--baud``, ``--timeout``, ``--connect-attempts`` and ``--trace`` said."""

    baud: int | None = None
    """Baud rate for a serial port (``None``: the serial transport's default)."""
    timeout: float | None = None
    """Seconds to wait for each reply before re-sending (``None``: the session's default)."""
    connect_attempts: int = 1
    """Times to try opening the port and saying hello before giving up."""
    trace: bool = False
    """Every frame sent and received, decoded, on stderr."""


@dataclass
class CliContext:
    """The global options every command sees (``ctx.obj``)."""

    device: str | None = None
    db: Path | str | None = None
    """``--db``: the record's file, or a database URL (``postgresql://…``, kept as text)."""
    verbose: int = 0
    link: LinkSettings = field(default_factory=LinkSettings)
    service: str | None = None
    """``--service URL``: the gun service to go through (else ``$MESOGUN_SERVICE``, else the local socket's)."""
    no_service: bool = False
    """``--no-service``: open the gun directly even if a service is running."""


def current_link_settings() -> LinkSettings:
    """The connection settings of the command being run (defaults outside a CLI invocation)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(CliContext) if ctx is not None else None
    return obj.link if obj is not None else LinkSettings()


# ---------------------------------------------------------------------------------------------- checks


def _check_db(value: Path | str) -> Path | str:
    """``--db`` names a file or a database URL (``postgresql://…``, ``sqlite:///…``: kept as text, which a Path would
    fold): an empty value (``--db ""``) or a folder is a usage error (exit 2)."""
    if isinstance(value, str) and "://" in value:
        return value
    path = Path(value)
    if str(value) in ("", ".") or path.is_dir():
        raise click.BadParameter(
            "needs the treatment record's file path or database URL, not an empty value or a folder"
        )
    return path


def _check_timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT:
        raise click.BadParameter(f"{value:g} s is outside the limit: more than 0 s, at most {MAX_TIMEOUT:g} s")
    return value


def _check_baud(value: int) -> int:
    try:
        return check_baudrate(value)
    except ParameterError:
        low, high = BAUDRATE_RANGE
        raise click.BadParameter(f"{value} baud is outside the limit: {low}–{high} baud") from None


def _check_attempts(value: int) -> int:
    if not 1 <= value <= MAX_CONNECT_ATTEMPTS:
        raise click.BadParameter(f"{value} is outside the limit: 1–{MAX_CONNECT_ATTEMPTS} attempts")
    return value


def _set_verbosity(count: int) -> int:
    """``-v`` logs the ``mesogun`` logger's info lines to stderr, ``-vv`` its debug lines too."""
    logging.getLogger("mesogun").setLevel(logging.INFO if count == 1 else logging.DEBUG)
    return count


# ---------------------------------------------------------------------------------------------- the options


@dataclass(frozen=True)
class _GlobalOption:
    """One global option: its click declaration and where its value goes on the :class:`CliContext`."""

    decls: tuple[str, ...]
    store: Callable[[CliContext, Any], None]
    settings: dict[str, Any]
    check: Callable[[Any], Any] | None = None
    envvar: str | None = None
    """Read from the environment too, before the command only (after it, only what is typed counts)."""

    def make(self, *, before_command: bool) -> click.Option:
        check, store = self.check, self.store

        def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            source = ctx.get_parameter_source(param.name) if param.name else None
            if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT) and value is not None:
                store(ctx.ensure_object(CliContext), check(value) if check is not None else value)
            return value

        return click.Option(
            list(self.decls),
            expose_value=False,
            callback=callback,
            envvar=self.envvar if before_command else None,
            **self.settings,
        )


def _link(key: str) -> Callable[[CliContext, Any], None]:
    def store(obj: CliContext, value: Any) -> None:
        obj.link = replace(obj.link, **{key: value})

    return store


def _attr(key: str) -> Callable[[CliContext, Any], None]:
    return lambda obj, value: setattr(obj, key, value)


GLOBAL_OPTIONS: dict[str, _GlobalOption] = {
    "device": _GlobalOption(
        ("--device",),
        _attr("device"),
        {
            "metavar": "URL",
            "help": "The gun: a serial port (/dev/ttyACM0), socket://HOST:PORT, rfc2217://…, or sim:// (a fresh "
            f"simulated gun in this process). Default: ${DEVICE_ENV}.",
        },
        envvar=DEVICE_ENV,
    ),
    "db": _GlobalOption(
        ("--db",),
        _attr("db"),
        {
            "type": click.STRING,
            "help": f"Treatment record: a SQLite file, or a database URL (postgresql://user@host/dbname). Default: "
            f"${DB_ENV}, else a file in the user's data directory (the only place whose folders are created).",
        },
        check=_check_db,
        envvar=DB_ENV,
    ),
    "verbose": _GlobalOption(
        ("-v", "--verbose"),
        _attr("verbose"),
        {"count": True, "help": "Log what the host does to stderr: -v informational lines, -vv debugging lines too."},
        check=_set_verbosity,
    ),
    "trace": _GlobalOption(
        ("--trace",),
        _link("trace"),
        {
            "is_flag": True,
            "default": None,
            "help": "Show every frame sent (→) and received (←) on stderr, decoded, one line each, heartbeats "
            "included; a frame that does not decode is shown in hex with the reason.",
        },
    ),
    "baud": _GlobalOption(
        ("--baud",),
        _link("baud"),
        {
            "type": int,
            "metavar": "N",
            "help": f"Baud rate of a serial port (default {BAUDRATE}; a USB gun ignores it). Only for a serial "
            "port, rfc2217://, spy:// or hwgrep://: with another URL it is a usage error.",
        },
        check=_check_baud,
    ),
    "timeout": _GlobalOption(
        ("--timeout",),
        _link("timeout"),
        {
            "type": float,
            "metavar": "SECONDS",
            "help": f"Wait this long for each reply before re-sending the command (default {ACK_TIMEOUT:g} s; "
            f"{RETRIES} re-sends, then exit 4). At most {MAX_TIMEOUT:g} s.",
        },
        check=_check_timeout,
    ),
    "connect_attempts": _GlobalOption(
        ("--connect-attempts",),
        _link("connect_attempts"),
        {
            "type": int,
            "metavar": "N",
            "help": f"Try opening the port and saying hello N times, {CONNECT_INTERVAL:g} s apart, before giving up "
            f"(default 1; at most {MAX_CONNECT_ATTEMPTS}).",
        },
        check=_check_attempts,
    ),
}
"""Every global option, by its parameter name."""

SERVICE_OPTIONS: dict[str, _GlobalOption] = {
    "service": _GlobalOption(
        ("--service",),
        _attr("service"),
        {
            "metavar": "URL",
            "help": "Go through the gun service (mesogun serve) at URL: unix:///path/to/service.sock or "
            f"http://HOST:PORT. Default: ${SERVICE_ENV}, else the service on the local socket "
            "($XDG_RUNTIME_DIR/mesogun/service.sock) if one answers, else the gun is opened directly.",
        },
    ),
    "no_service": _GlobalOption(
        ("--no-service",),
        _attr("no_service"),
        {"is_flag": True, "default": None, "help": "Open the gun directly, even if a gun service is running."},
    ),
}
"""How a command that talks to a gun reaches it: through a gun service or directly. The group takes them before
the command, like the global options; :func:`service_options` gives them to a command (after its name)."""

GROUP_OPTIONS_HELP = (
    "Global options may also follow the command (mesogun status --device URL); given in both places, the one "
    "after the command wins."
)

C = TypeVar("C", bound=click.Command)


def group_options(group: C) -> C:
    """Give the top-level group every global option (with their environment variables) and the service options."""
    options = (*GLOBAL_OPTIONS.values(), *SERVICE_OPTIONS.values())
    group.params[:0] = [option.make(before_command=True) for option in options]
    return group


def service_options(command: C) -> C:
    """Let ``command`` (one that talks to a gun) take ``--service URL`` and ``--no-service`` after its name;
    idempotent."""
    taken = {param.name for param in command.params}
    command.params += [option.make(before_command=False) for n, option in SERVICE_OPTIONS.items() if n not in taken]
    return command


def global_options(command: C, *, only: Iterable[str] | None = None) -> C:
    """Let ``command`` take the global options (all, or those named in ``only``) after its name; idempotent."""
    names = list(GLOBAL_OPTIONS) if only is None else list(only)
    unknown = [name for name in names if name not in GLOBAL_OPTIONS]
    if unknown:
        raise ValueError(f"not global options: {', '.join(unknown)}")
    taken = {param.name for param in command.params}
    command.params += [GLOBAL_OPTIONS[n].make(before_command=False) for n in names if n not in taken]
    return command
