"""Errors in the CLI's language: a hint's actions (Gun method names) as the commands that do them."""

from __future__ import annotations

from mesogun.errors import MesogunError, StateError

CLI_ACTIONS: dict[str, str] = {
    "load_syringe": "mesogun load --capacity ML",
    "prime": "mesogun prime --volume ML",
    "arm": "mesogun fire --count N",  # fire arms, fires and disarms in one go
    "fire": "mesogun fire --count N",
    "disarm": "mesogun disarm",
    "stop": "mesogun stop",
    "emergency_stop": "mesogun estop",
    "clear_alarm": "mesogun clear",
    "refresh_status": "mesogun status",
}
"""The command that does each action a hint can name (a Gun method)."""

CLI_PHRASES: dict[str, str] = {
    "list_zones": "run 'mesogun session zones'",
    "override_soft_limit": "give --yes --reason TEXT",
}
"""Actions a hint can name that are no Gun method, as the CLI says them."""


def as_command(action: str) -> str:
    """An action in the CLI's language: ``run 'mesogun clear'``."""
    return CLI_PHRASES.get(action) or f"run '{CLI_ACTIONS.get(action, 'mesogun ' + action)}'"


def cli_message(error: MesogunError, command: str | None) -> str:
    """``error`` as the CLI says it, ``command`` being the CLI command that ran (``fire``).

    A state refusal names the command the user typed, not the API step that was refused inside it (``fire``
    arms first: "cannot fire: the gun is idle", not "arm needs the gun ready").
    """
    if isinstance(error, StateError) and error.reason and command:
        hint = f" ({error.hint.render(as_command)})" if error.hint is not None else ""
        return f"cannot {command}: {error.reason}{hint}"
    return error.describe(as_command)
