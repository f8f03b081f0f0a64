"""``mesogun sim``: serve a simulated gun over a pty, TCP or a serial device, with impairments and faults.

The simulator's own options come from :data:`sims.options.OPTIONS` (the same names as ``sim://`` query
keys), so the command line and the URL can never drift apart. Bad options exit 2 with one line.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from sims.errors import SimError
from sims.options import OPTIONS, OptionSpec, parse_options

_EPILOG = (
    "Prints exactly one line once serving: 'PTY <path>', 'URL socket://HOST:PORT' or 'SERIAL <path>', then serves "
    "until SIGINT/SIGTERM and exits 0. The device outlives connections: a new connection sees the state the "
    "last one left. TCP serves one connection at a time and a NEW CONNECTION REPLACES THE CURRENT ONE (a "
    "crashed host can leave a half-open socket that would otherwise lock it out; a USB gun also talks to "
    "whoever opens the port next). With --control, a line 'CONTROL 127.0.0.1:PORT' comes first (see "
    "sims/control.py for its JSON-lines requests). The same options work as sim:// URL query keys with "
    "underscores, e.g. "
    "sim://?latency_ms=5&fault=occlusion:after_shots=5."
)


class _OneLineError(click.ClickException):
    """A usage error shown as one line, exit code 2."""

    exit_code = 2


def _help(spec: OptionSpec) -> str:
    parts = [spec.help]
    if spec.low is not None and spec.high is not None:
        parts.append(f"[{spec.allowed}{' ' + spec.unit if spec.unit else ''}]")
    elif spec.unit:
        parts.append(f"[{spec.unit}]")
    if spec.default not in (None, False):
        parts.append(f"(default {spec.default})")
    return " ".join(parts)


def _add_sim_options(command: Any) -> Any:
    for spec in reversed(OPTIONS):
        if spec.kind == "bool" and spec.default is True:  # on unless turned off: --remote-fire/--no-remote-fire
            flags = f"{spec.cli_name}/--no-{spec.cli_name[2:]}"
            option = click.option(flags, spec.name, default=None, help=_help(spec))
        elif spec.kind == "bool":
            option = click.option(spec.cli_name, spec.name, is_flag=True, default=None, help=_help(spec))
        elif spec.kind == "fault":
            option = click.option(spec.cli_name, spec.name, multiple=True, metavar="NAME:KEY=VALUE", help=_help(spec))
        elif spec.kind == "brand_gain":
            option = click.option(spec.cli_name, spec.name, multiple=True, metavar="BRAND=GAIN", help=_help(spec))
        else:
            option = click.option(spec.cli_name, spec.name, default=None, metavar=spec.kind.upper(), help=_help(spec))
        command = option(command)
    return command


@click.command("sim", epilog=_EPILOG)
@click.option("--pty", "use_pty", is_flag=True, help="serve on a new pseudo-terminal (the default transport)")
@click.option(
    "--tcp",
    metavar="HOST:PORT",
    help="serve on TCP (127.0.0.1:0 picks a free port); binds to 127.0.0.1 unless another host is given",
)
@click.option("--serial-port", metavar="PATH", help="serve on an existing serial device (null-modem, socat pty pair)")
@click.option(
    "--control",
    metavar="127.0.0.1:PORT",
    help="also serve a control channel (JSON lines over TCP, loopback only; port 0 picks a free one): press and "
    'release the trigger or pedal, inject faults and impairments while running, e.g. {"cmd": "press"}',
)
@click.option(
    "--smp-pty",
    is_flag=True,
    help="also serve the standard SMP serial endpoint (for smpclient/smpmgr) on a new pty, announced first as "
    "'SMP <path>', over a line like the gun's (--baud, --latency-ms, …)",
)
@_add_sim_options
def sim_command(
    use_pty: bool, tcp: str | None, serial_port: str | None, control: str | None, smp_pty: bool, **values: Any
) -> None:
    """Serve a simulated mesotherapy gun speaking the mesogun wire protocol."""
    from sims.serving import serve

    chosen = [name for name, on in (("--pty", use_pty), ("--tcp", tcp), ("--serial-port", serial_port)) if on]
    if len(chosen) > 1:
        raise _OneLineError(f"choose one transport, not {' and '.join(chosen)}")
    raw: dict[str, list[str]] = {}
    for name, value in values.items():
        if value is None or value == ():
            continue
        if isinstance(value, bool):
            raw[name] = ["1" if value else "0"]
        else:
            raw[name] = [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
    try:
        options = parse_options(raw)
        asyncio.run(
            serve(
                options,
                pty=use_pty,
                tcp=tcp,
                serial_port=serial_port,
                control=control,
                smp_pty=smp_pty,
                announce=_announce,
            )
        )
    except SimError as exc:
        raise _OneLineError(str(exc)) from None
    except KeyboardInterrupt:
        pass


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


if __name__ == "__main__":  # ``python -m sims.cli``: the same command without the host package
    sim_command(prog_name="mesogun sim")
