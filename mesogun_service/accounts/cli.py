"""``mesogun users``: manage the gun service's users on the machine it runs on (there are no built-in users).

``add NAME --role ROLE`` asks the PIN twice (hidden; ``--pin-stdin`` reads one line from stdin for scripts),
``list [--json]``, ``remove NAME``, ``set-pin NAME``, ``unlock NAME``, ``verify [--expect-head SEQ:HASH]`` (the
audit trail's hash chain, as ``mesogun record verify`` checks the record's). The store is ``--accounts PATH`` (or
``MESOGUN_ACCOUNTS``; default :func:`~.store.default_accounts_path`). Errors are one line; bad input exits 2,
an accounts store that cannot be opened 6. Imports no FastAPI, so it starts quickly.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mesogun_service.accounts.errors import AccountsUnavailable, AuthError
from mesogun_service.accounts.identity import Role
from mesogun_service.accounts.location import ACCOUNTS_ENV, accounts_path, default_accounts_path

if TYPE_CHECKING:
    from mesogun_service.accounts.store import Accounts, UserInfo

F = TypeVar("F", bound=Callable[..., Any])

_GROUP_PATH = "mesogun_service.accounts.path"
"""Where the group's ``--accounts`` waits for the command (``ctx.meta``: shared, and ``ctx.obj`` is the host's)."""


class CliError(click.ClickException):
    """Bad input: one line on stderr (``Error: ...``), exit code 2."""

    exit_code = 2


class StoreError(CliError):
    """The accounts store cannot be opened or written: exit code 6, as for the treatment record."""

    exit_code = 6


def _cli_error(exc: AuthError) -> CliError:
    return StoreError(exc.message) if isinstance(exc, AccountsUnavailable) else CliError(exc.message)


def _actor() -> str:
    """Who the audit trail says made a change from this command: the OS user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _accounts_option(command: F) -> F:
    """``--accounts PATH`` on the group and on each command (``mesogun users list --accounts P`` reads naturally)."""
    return click.option(
        "--accounts",
        "accounts_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=ACCOUNTS_ENV,
        default=None,
        help=f"The accounts store (default: {default_accounts_path()}; env {ACCOUNTS_ENV}).",
    )(command)


def _open(ctx: click.Context, path: Path | None) -> Accounts:
    chosen = accounts_path(path or ctx.meta.get(_GROUP_PATH))
    try:
        from mesogun_service.accounts.store import Accounts  # the database layer: only when a command runs

        accounts = Accounts(chosen)
    except AuthError as exc:
        raise _cli_error(exc) from None
    ctx.call_on_close(accounts.close)
    return accounts


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    pin: str = click.prompt("PIN", hide_input=True, confirmation_prompt="Repeat the PIN")
    return pin


def _run(action: Callable[[], object]) -> None:
    """Run a store call; its :class:`AuthError` becomes one line and its exit code."""
    try:
        action()
    except AuthError as exc:
        raise _cli_error(exc) from None


def _user_json(user: UserInfo) -> dict[str, object]:
    return {
        "name": user.name,
        "roles": sorted(role.value for role in user.roles),
        "created": user.created.isoformat(),
        "failed_count": user.failed_count,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
        "disabled": user.disabled,
    }


pin_stdin_option = click.option(
    "--pin-stdin", is_flag=True, help="Read the PIN from the first line of stdin instead of asking (scripts)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_accounts_option
@click.pass_context
def users(ctx: click.Context, accounts_path: Path | None) -> None:
    """Manage the gun service's users: PINs, roles (assistant, practitioner, technician, admin), lock-outs."""
    ctx.meta[_GROUP_PATH] = accounts_path


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="A role to give (repeat for more): assistant prepares treatments (patients, courses, lots, checklist), "
    "practitioner also treats and signs off, technician also services, admin manages users.",
)
@pin_stdin_option
@_accounts_option
@click.pass_context
def add_command(
    ctx: click.Context, name: str, roles: tuple[str, ...], pin_stdin: bool, accounts_path: Path | None
) -> None:
    """Add the user NAME (asks for the PIN twice: at least 4 digits or characters)."""
    accounts = _open(ctx, accounts_path)
    from mesogun_service.accounts.store import check_name

    _run(lambda: check_name(name))
    if any(user.name == name for user in accounts.list_users()):
        raise CliError(f"user {name!r} already exists (see 'mesogun users list')")
    pin = _read_pin(pin_stdin)
    _run(lambda: accounts.add_user(name, roles, pin, actor=_actor()))
    click.echo(f"added {name} ({', '.join(sorted(roles))})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of the users.")
@_accounts_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool, accounts_path: Path | None) -> None:
    """List the users, their roles and lock-outs (never their PIN hashes)."""
    accounts = _open(ctx, accounts_path)
    found = accounts.list_users()
    if as_json:
        click.echo(json.dumps([_user_json(user) for user in found], indent=2))
        return
    if not found:
        click.echo("no users yet: add the first admin with 'mesogun users add --role admin NAME'")
    now = accounts.now()
    for user in found:
        flags = []
        if user.locked_until is not None and user.locked_until > now:
            flags.append(f"locked until {user.locked_until:%Y-%m-%d %H:%M:%S} UTC")
        if user.disabled:
            flags.append("disabled")
        roles = ",".join(sorted(role.value for role in user.roles))
        click.echo(f"{user.name}  {roles}  added {user.created:%Y-%m-%d %H:%M} UTC{''.join(f'  {f}' for f in flags)}")


@users.command("remove")
@click.argument("name")
@_accounts_option
@click.pass_context
def remove_command(ctx: click.Context, name: str, accounts_path: Path | None) -> None:
    """Remove the user NAME; their sessions end at once."""
    accounts = _open(ctx, accounts_path)
    _run(lambda: accounts.remove_user(name, actor=_actor()))
    click.echo(f"removed {name}")


@users.command("set-pin")
@click.argument("name")
@pin_stdin_option
@_accounts_option
@click.pass_context
def set_pin_command(ctx: click.Context, name: str, pin_stdin: bool, accounts_path: Path | None) -> None:
    """Give NAME a new PIN (asked twice); their sessions end and a lock-out is lifted."""
    accounts = _open(ctx, accounts_path)
    if all(user.name != name for user in accounts.list_users()):  # before asking for a PIN
        raise CliError(f"no user {name!r} (see 'mesogun users list')")
    pin = _read_pin(pin_stdin)
    _run(lambda: accounts.set_pin(name, pin, actor=_actor()))
    click.echo(f"new PIN set for {name}")


@users.command("unlock")
@click.argument("name")
@_accounts_option
@click.pass_context
def unlock_command(ctx: click.Context, name: str, accounts_path: Path | None) -> None:
    """Lift NAME's lock-out after failed sign-ins."""
    accounts = _open(ctx, accounts_path)
    _run(lambda: accounts.unlock(name, actor=_actor()))
    click.echo(f"unlocked {name}")


@users.command("verify")
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify (its hash's first 16 or more hex digits): the trail must still hold it.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@_accounts_option
@click.pass_context
def verify_command(ctx: click.Context, expect_head: str | None, as_json: bool, accounts_path: Path | None) -> None:
    """Verify the audit trail (sign-ins, refusals, user changes, the service's requests): recompute every entry's
    hash and its link to the entry before, oldest first.

    Exit 0 when it is intact (the head printed: note it, and give it as --expect-head later). Exit 6 naming the
    first entry altered, inserted or deleted behind the program's back, with its action and time.
    """
    from mesogun.errors import ParameterError
    from mesogun.json_forms import plain
    from mesogun.record.audit_verify import Head

    try:
        expected = Head.parse(expect_head) if expect_head is not None else None  # refused before the store opens
    except ParameterError as exc:
        raise CliError(str(exc)) from None
    accounts = _open(ctx, accounts_path)
    try:
        report = accounts.verify(expect_head=expected)
    except AuthError as exc:
        raise _cli_error(exc) from None
    if as_json:
        click.echo(json.dumps({"intact": report.intact, **plain(report)}, indent=2))
    elif report.intact:
        what = f"{report.entries} entries" if report.entries else "no entries yet"
        click.echo(f"audit trail of {accounts.path} intact: {what}, every hash and link verified")
        if expected is not None:
            click.echo(f"it holds the head noted earlier, {expected}")
        click.echo(f"head {report.head} (note it; later: mesogun users verify --expect-head {report.head})")
    if not report.guarded:
        click.echo(
            "warning: the audit trail's append-only triggers are missing (dropped behind the program's back?): an"
            " entry could be changed in place; verify still shows it",
            err=True,
        )
    if report.broken is not None:
        raise StoreError(f"{accounts.path}: {report.broken.describe()}")


def main(argv: list[str] | None = None) -> int:
    """Run ``users`` as its own program (``python -m mesogun_service.accounts``): one-line errors, exit codes."""
    try:
        users.main(args=argv, prog_name="mesogun users", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0
