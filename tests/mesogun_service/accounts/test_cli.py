"""``mesogun users``: add, list, remove, set-pin, unlock, with one-line errors and exit code 2 for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mesogun_service.accounts import Accounts, LockedOut, Unauthenticated
from mesogun_service.accounts.cli import users
from tests.mesogun_service.accounts.conftest import PIN


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "accounts.sqlite"


def run(store: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(users, [*args, "--accounts", str(store)], input=stdin)


def listed(store: Path) -> list[dict[str, object]]:
    result = run(store, "list", "--json")
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_add_list_and_remove(store: Path) -> None:
    assert listed(store) == []  # no built-in users
    added = run(store, "add", "ada", "--role", "admin", "--role", "technician", "--pin-stdin", stdin=f"{PIN}\n")
    assert added.exit_code == 0, added.output
    assert added.stdout == "added ada (admin, technician)\n"
    (ada,) = listed(store)
    assert (ada["name"], ada["roles"], ada["locked_until"]) == ("ada", ["admin", "technician"], None)
    assert "pin_hash" not in ada
    with Accounts(store) as accounts:
        assert accounts.authenticate("ada", PIN).principal.user == "ada"
        assert accounts.audit_trail()[0].actor.startswith("cli:")
    removed = run(store, "remove", "ada")
    assert (removed.exit_code, removed.stdout) == (0, "removed ada\n")
    assert listed(store) == []


def test_add_asks_the_pin_twice_hidden(store: Path) -> None:
    result = run(store, "add", "alice", "--role", "practitioner", stdin=f"{PIN}\n1357\n{PIN}\n{PIN}\n")
    assert result.exit_code == 0, result.output
    assert PIN not in result.output  # hidden input
    assert "Error: The two entered values do not match." in result.output  # asked again
    with Accounts(store) as accounts:
        accounts.authenticate("alice", PIN)


def test_a_plain_list_and_its_empty_form(store: Path) -> None:
    assert "no users yet: add the first admin with 'mesogun users add --role admin NAME'" in run(store, "list").stdout
    run(store, "add", "alice", "--role", "practitioner", "--pin-stdin", stdin=PIN)
    assert run(store, "list").stdout.startswith("alice  practitioner  added ")


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["add", "alice", "--role", "admin", "--pin-stdin"], "123\n", "pin is too short: 3 characters; at least 4"),
        (["add", "alice", "--role", "admin", "--pin-stdin"], "1" * 129, "pin is too long: 129 characters; at most 128"),
        (["add", "a b", "--role", "admin", "--pin-stdin"], f"{PIN}\n", "is not a user name"),
        (["remove", "ghost"], None, "no user 'ghost'"),
        (["unlock", "ghost"], None, "no user 'ghost'"),
        (["set-pin", "ghost", "--pin-stdin"], f"{PIN}\n", "no user 'ghost'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store: Path, args: list[str], stdin: str | None, says: str) -> None:
    result = run(store, *args, stdin=stdin)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ") and says in result.stderr
    assert result.stderr.count("\n") == 1
    assert listed(store) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add", "alice", "--role", "root", "--pin-stdin"], "'root' is not one of"),
        (["add", "alice", "--pin-stdin"], "Missing option '--role'"),
    ],
)
def test_a_usage_error_is_clicks_with_exit_2(store: Path, args: list[str], says: str) -> None:
    result = run(store, *args, stdin=f"{PIN}\n")
    assert result.exit_code == 2 and says in result.stderr and "Traceback" not in result.output
    assert listed(store) == []


def test_a_duplicate_user_is_refused_before_asking_a_pin(store: Path) -> None:
    run(store, "add", "alice", "--role", "practitioner", "--pin-stdin", stdin=f"{PIN}\n")
    result = run(store, "add", "alice", "--role", "admin")  # no PIN given: it must not be asked for
    assert (result.exit_code, result.stderr) == (2, "Error: user 'alice' already exists (see 'mesogun users list')\n")
    assert [u["roles"] for u in listed(store)] == [["practitioner"]]


def test_set_pin_and_unlock(store: Path) -> None:
    run(store, "add", "alice", "--role", "practitioner", "--pin-stdin", stdin=f"{PIN}\n")
    with Accounts(store) as accounts:
        for _ in range(4):
            with pytest.raises(Unauthenticated):
                accounts.authenticate("alice", "0000")
        with pytest.raises(LockedOut):
            accounts.authenticate("alice", "0000")
    assert listed(store)[0]["locked_until"] is not None
    assert run(store, "unlock", "alice").stdout == "unlocked alice\n"
    assert listed(store)[0]["locked_until"] is None
    assert run(store, "set-pin", "alice", "--pin-stdin", stdin="97531\n").exit_code == 0
    with Accounts(store) as accounts:
        accounts.authenticate("alice", "97531")


def test_the_store_comes_from_the_environment_or_the_users_data_folder(
    store: Path, private_user_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("MESOGUN_ACCOUNTS", str(store))
    runner.invoke(users, ["add", "env", "--role", "practitioner", "--pin-stdin"], input=PIN)
    assert [u["name"] for u in listed(store)] == ["env"]
    monkeypatch.delenv("MESOGUN_ACCOUNTS")
    runner.invoke(users, ["add", "home", "--role", "practitioner", "--pin-stdin"], input=PIN)
    default = private_user_dirs / ".local" / "share" / "mesogun" / "accounts.sqlite"
    assert [u["name"] for u in listed(default)] == ["home"]
    group_option = runner.invoke(users, ["--accounts", str(store), "list", "--json"])
    assert [u["name"] for u in json.loads(group_option.stdout)] == ["env"]


def test_a_store_in_a_missing_folder_is_one_line_and_exit_6(tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere" / "accounts.sqlite", "list")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: cannot open the accounts store") and result.stderr.count("\n") == 1


@pytest.mark.realio
def test_python_m_runs_the_same_commands(store: Path) -> None:
    env = {**os.environ, "MESOGUN_ACCOUNTS": str(store)}
    command = [sys.executable, "-m", "mesogun_service.accounts"]
    added = subprocess.run(
        [*command, "add", "alice", "--role", "practitioner", "--pin-stdin"],
        input=f"{PIN}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    duplicate = subprocess.run(
        [*command, "add", "alice", "--role", "practitioner", "--pin-stdin"],
        input=f"{PIN}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (duplicate.returncode, duplicate.stderr.count("\n")) == (2, 1)
    listing = subprocess.run([*command, "list", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert [u["name"] for u in json.loads(listing.stdout)] == ["alice"]
