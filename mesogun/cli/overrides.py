"""Soft limits in the CLI: warn and ask on a terminal, need ``--yes --reason`` in a script; an override is
entered in the treatment record with its reason (:data:`OVERRIDE_NOTE`). Through a gun service the reason goes with
the requests (:func:`send_overrides_with`): the service checks its treatment session's limits and enters it."""

from __future__ import annotations

import sys

import click

from mesogun.cli.session import CliGun
from mesogun.errors import ParameterError

OVERRIDE_NOTE = "soft_limit_override"
"""The kind of treatment-record note a confirmed soft-limit override is entered as."""


def stdin_is_terminal() -> bool:
    """Whether a person can answer a question (stdin is a terminal), rather than a script."""
    return sys.stdin.isatty()


def confirm_override(breach: str, *, yes: bool, reason: str | None, ask: bool, value: object = None) -> str:
    """The reason for going past ``breach`` (a soft limit, one line): ``--yes`` with ``--reason``, or, when a
    person can be asked (``ask``), their confirmation and a reason typed at the terminal.

    Otherwise a :class:`ParameterError` (exit 2, nothing sent) naming the value, the limit and how to override.
    """
    if yes:
        if not reason or not reason.strip():
            raise click.UsageError("--yes needs --reason TEXT: an override is entered in the treatment record with why")
        return reason.strip()
    if not ask:
        raise ParameterError(
            f"{breach}; nothing was sent: to set it anyway give --yes --reason TEXT (the override and its reason "
            "are entered in the treatment record)",
            field="depth_mm",
            value=value,
        )
    click.echo(f"warning: {breach}", err=True)
    if not click.confirm("Set it anyway?", default=False, err=True):
        raise ParameterError(f"{breach}; not confirmed, nothing was sent", field="depth_mm", value=value)
    while not (reason and reason.strip()):
        reason = click.prompt("Reason for the override (entered in the treatment record)", err=True)
    return reason.strip()


def send_overrides_with(gun: CliGun, reason: str | None, preset: str | None = None) -> bool:
    """Through a gun service, send ``reason`` with the gun's configure, arm and fire as their ``override_reason``,
    and the ``preset`` a configure's values come from: the service checks the soft limits (its treatment
    session's, else the mode's and the preset's) and enters the override beside the values; True. On a gun opened
    directly: False, nothing to do (the caller checks and enters its own override note)."""
    from mesogun.cli.remote import RemoteGun  # the remote session builds on the direct one

    if isinstance(gun, RemoteGun):
        gun.override_reason, gun.preset = reason, preset
        return True
    return False
