"""``python -m sims balance`` and ``python -m sims gauge``: a simulated balance or depth gauge over a pty or TCP.

Each prints one line once serving (``PTY <path>`` or ``URL socket://HOST:PORT``), then serves until SIGINT/SIGTERM
and exits 0. Their options are those of :data:`sims.balance.BALANCE_OPTIONS` and :data:`sims.gauge.GAUGE_OPTIONS`
(the ``sim-balance://`` and ``sim-gauge://`` query keys). Served in another process, the instrument measures no gun
(``gun=`` couples only in process); the balance's vessel takes liquid only from a gun in its own process.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import click

from sims.errors import SimError
from sims.options import OptionSpec


class _OneLineError(click.ClickException):
    exit_code = 2


def _options(specs: tuple[OptionSpec, ...]) -> Callable[[Any], Any]:
    def add(command: Any) -> Any:
        for spec in reversed(specs):
            if spec.name == "gun":
                continue
            unit = f" [{spec.unit}]" if spec.unit else ""
            default = f" (default {spec.default})" if spec.default is not None else ""
            text = spec.help + unit + default
            option = click.option(spec.cli_name, spec.name, default=None, metavar=spec.kind.upper(), help=text)
            command = option(command)
        return command

    return add


def _raw(values: dict[str, Any]) -> dict[str, list[str]]:
    return {name: [str(value)] for name, value in values.items() if value is not None}


def _transport(command: Any) -> Any:
    pty = click.option("--pty", "use_pty", is_flag=True, help="serve on a new pseudo-terminal (the default)")
    command = pty(command)
    return click.option("--tcp", metavar="HOST:PORT", help="serve on TCP (127.0.0.1:0 picks a free port)")(command)


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _serve(make: Callable[[], Any], use_pty: bool, tcp: str | None) -> None:
    from sims.instruments import serve_line_device

    if use_pty and tcp:
        raise _OneLineError("choose one transport, not --pty and --tcp")

    async def main() -> None:
        await serve_line_device(make(), tcp=tcp, announce=_announce)

    try:
        asyncio.run(main())
    except SimError as exc:
        raise _OneLineError(str(exc)) from None
    except KeyboardInterrupt:
        pass


def _balance_options(command: Any) -> Any:
    from sims.balance import BALANCE_OPTIONS

    return _options(BALANCE_OPTIONS)(command)


def _gauge_options(command: Any) -> Any:
    from sims.gauge import GAUGE_OPTIONS

    return _options(GAUGE_OPTIONS)(command)


@click.command("balance")
@_transport
@_balance_options
def balance_command(use_pty: bool, tcp: str | None, **values: Any) -> None:
    """Serve a simulated laboratory balance speaking MT-SICS (S, SI, Z, T, I2, I3, I4, @), CR LF."""
    from sims.balance import SimulatedBalance, parse_balance_options

    try:
        config = parse_balance_options(_raw(values))
    except SimError as exc:
        raise _OneLineError(str(exc)) from None
    _serve(lambda: SimulatedBalance(config), use_pty, tcp)


@click.command("gauge")
@_transport
@_gauge_options
def gauge_command(use_pty: bool, tcp: str | None, **values: Any) -> None:
    """Serve a simulated dial indicator ('?' → '+01.234 mm', 'ID?'); served alone it rests on nothing (reads 0)."""
    from sims.gauge import SimulatedGauge, parse_gauge_options

    try:
        config = parse_gauge_options(_raw(values))
    except SimError as exc:
        raise _OneLineError(str(exc)) from None
    _serve(lambda: SimulatedGauge(config), use_pty, tcp)
