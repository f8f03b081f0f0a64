"""Soft limits in the CLI: warn and ask on a terminal, need ``--yes --reason`` in a script; an override is
entered in the treatment record with its reason (:data:`OVERRIDE_NOTE`)."""

from __future__ import annotations

import sys

import click

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
