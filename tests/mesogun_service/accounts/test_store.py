"""The accounts store: PIN hashes, lock-out, session expiry, logout, re-authentication, the audit trail."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from mesogun_service.accounts import (
    Accounts,
    AccountsUnavailable,
    Forbidden,
    LockedOut,
    Role,
    Unauthenticated,
    UserError,
)
from mesogun_service.accounts.store import users
from tests.mesogun_service.accounts.conftest import CHEAP_HASHER, PIN, FakeClock


def add(accounts: Accounts, name: str = "alice", *roles: Role, pin: str = PIN) -> None:
    accounts.add_user(name, roles or (Role.PRACTITIONER,), pin, actor="test")


def trail(accounts: Accounts) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.outcome) for e in accounts.audit_trail()]


def stored_hash(path: Path, name: str) -> str:
    with sqlite3.connect(path) as db:
        (pin_hash,) = db.execute("SELECT pin_hash FROM users WHERE name = ?", (name,)).fetchone()
    return str(pin_hash)


def test_a_new_store_is_empty(accounts: Accounts) -> None:
    assert accounts.list_users() == []
    with pytest.raises(Unauthenticated):
        accounts.authenticate("admin", "admin")


def test_neither_the_pin_nor_the_token_is_in_the_file(accounts: Accounts) -> None:
    pin = "7391-secret"
    add(accounts, "alice", pin=pin)
    new = accounts.authenticate("alice", pin)
    pin_hash = stored_hash(accounts.path, "alice")
    assert pin_hash != pin and pin_hash.startswith("$argon2id$")
    on_disk = b"".join(p.read_bytes() for p in accounts.path.parent.glob("accounts.sqlite*"))  # with the WAL
    assert pin.encode() not in on_disk
    assert new.token.encode() not in on_disk
    assert new.token not in repr(new)
    assert accounts.path.stat().st_mode & 0o077 == 0  # the service's user only


def test_sign_in_gives_a_token_that_opens_the_session(accounts: Accounts) -> None:
    add(accounts, "tom", Role.TECHNICIAN)
    new = accounts.authenticate("tom", PIN, "192.0.2.1")
    who = accounts.session_for(new.token)
    assert (who.user, who.roles, who.via) == ("tom", frozenset({Role.TECHNICIAN}), "bearer")
    assert who.has(Role.PRACTITIONER) and not who.has(Role.ADMIN)
    assert who.csrf_token == new.csrf_token
    assert who.expires_at == accounts.now() + timedelta(hours=12)
    assert accounts.audit_trail()[-1].remote == "192.0.2.1"


def test_an_unknown_user_and_a_wrong_pin_get_the_same_message(accounts: Accounts) -> None:
    add(accounts, "alice")
    with pytest.raises(Unauthenticated) as unknown:
        accounts.authenticate("bob", PIN)
    with pytest.raises(Unauthenticated) as wrong:
        accounts.authenticate("alice", "9999")
    assert unknown.value.message == wrong.value.message
    assert ("bob", "login", "failed") in trail(accounts)
    assert ("alice", "login", "failed") in trail(accounts)


def test_five_failures_lock_the_user_out_for_five_minutes(accounts: Accounts, clock: FakeClock) -> None:
    add(accounts, "alice")
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            accounts.authenticate("alice", "0000")
    with pytest.raises(LockedOut) as locked:
        accounts.authenticate("alice", "0000")
    assert "mesogun users unlock alice" in locked.value.message and locked.value.status == 423
    assert locked.value.headers["Retry-After"] == "300"
    clock.advance(minutes=4, seconds=59)
    with pytest.raises(LockedOut):  # the right PIN too, while locked
        accounts.authenticate("alice", PIN)
    clock.advance(seconds=1)
    assert accounts.authenticate("alice", PIN).principal.user == "alice"
    assert trail(accounts)[1:] == [
        *[("alice", "login", "failed")] * 5,
        ("alice", "lockout", "ok"),
        ("alice", "login", "refused"),
        ("alice", "login", "ok"),
    ]


def test_a_success_forgets_earlier_failures(accounts: Accounts) -> None:
    add(accounts, "alice")
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            accounts.authenticate("alice", "0000")
    accounts.authenticate("alice", PIN)
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            accounts.authenticate("alice", "0000")


def test_unlock_lifts_a_lock_out_at_once(accounts: Accounts) -> None:
    add(accounts, "alice")
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            accounts.authenticate("alice", "0000")
    with pytest.raises(LockedOut):
        accounts.authenticate("alice", "0000")
    assert accounts.list_users()[0].locked_until is not None
    accounts.unlock("alice", actor="admin1")
    assert accounts.authenticate("alice", PIN)
    assert ("admin1", "unlock", "ok") in trail(accounts)


def test_concurrent_failures_are_all_counted(accounts: Accounts) -> None:
    add(accounts, "alice")
    attempts = 4

    def fail() -> None:
        with pytest.raises(Unauthenticated):
            accounts.authenticate("alice", "0000")

    with ThreadPoolExecutor(attempts) as pool:
        list(pool.map(lambda _: fail(), range(attempts)))
    assert accounts.list_users()[0].failed_count == attempts


def test_a_session_expires_after_15_minutes_unused(accounts: Accounts, clock: FakeClock) -> None:
    add(accounts, "alice")
    token = accounts.authenticate("alice", PIN).token
    clock.advance(minutes=14, seconds=59)
    accounts.session_for(token)  # a use: the 15 minutes start again
    clock.advance(minutes=14, seconds=59)
    accounts.session_for(token)
    clock.advance(minutes=15)
    with pytest.raises(Unauthenticated, match="expired after 15 min without use"):
        accounts.session_for(token)


def test_a_session_ends_12_hours_after_sign_in_however_used(accounts: Accounts, clock: FakeClock) -> None:
    add(accounts, "alice")
    token = accounts.authenticate("alice", PIN).token
    for _ in range(12 * 6 - 1):
        clock.advance(minutes=10)
        accounts.session_for(token)
    clock.advance(minutes=10)
    with pytest.raises(Unauthenticated, match="at most 12 h"):
        accounts.session_for(token)


def test_logout_ends_the_session_only(accounts: Accounts) -> None:
    add(accounts, "alice")
    first, second = accounts.authenticate("alice", PIN), accounts.authenticate("alice", PIN)
    accounts.logout(first.token, "192.0.2.1")
    with pytest.raises(Unauthenticated, match="ended"):
        accounts.session_for(first.token)
    assert accounts.session_for(second.token).user == "alice"
    assert ("alice", "logout", "ok") in trail(accounts)


def test_an_unknown_token_is_refused(accounts: Accounts) -> None:
    for token in ("", "x" * 43, "x" * 100_000):
        with pytest.raises(Unauthenticated, match="not valid"):
            accounts.session_for(token)


def test_reauth_makes_the_session_fresh_for_5_minutes(accounts: Accounts, clock: FakeClock) -> None:
    add(accounts, "tom", Role.TECHNICIAN)
    token = accounts.authenticate("tom", PIN).token
    assert not accounts.session_for(token).is_fresh(accounts.now())  # a sign-in alone is not a re-authentication
    fresh_until = accounts.reauth(token, PIN)
    assert fresh_until == accounts.now() + timedelta(minutes=5)
    clock.advance(minutes=4, seconds=59)
    assert accounts.session_for(token).is_fresh(accounts.now())
    clock.advance(seconds=1)
    assert not accounts.session_for(token).is_fresh(accounts.now())
    assert ("tom", "reauth", "ok") in trail(accounts)


def test_a_wrong_reauth_pin_keeps_the_session_and_counts_towards_the_lock_out(accounts: Accounts) -> None:
    add(accounts, "tom", Role.TECHNICIAN)
    token = accounts.authenticate("tom", PIN).token
    for left in (4, 3, 2, 1):
        with pytest.raises(Forbidden, match=f"{left} more failures"):
            accounts.reauth(token, "0000")
    with pytest.raises(LockedOut):
        accounts.reauth(token, "0000")
    with pytest.raises(LockedOut):
        accounts.reauth(token, PIN)
    assert not accounts.session_for(token).is_fresh(accounts.now())


def test_a_new_pin_ends_the_users_sessions(accounts: Accounts) -> None:
    add(accounts, "alice")
    token = accounts.authenticate("alice", PIN).token
    accounts.set_pin("alice", "13579", actor="alice")
    with pytest.raises(Unauthenticated):
        accounts.session_for(token)
    with pytest.raises(Unauthenticated):
        accounts.authenticate("alice", PIN)
    accounts.authenticate("alice", "13579")


def test_a_removed_user_is_signed_out_and_gone(accounts: Accounts) -> None:
    add(accounts, "alice")
    token = accounts.authenticate("alice", PIN).token
    accounts.remove_user("alice", actor="admin1")
    with pytest.raises(Unauthenticated):
        accounts.session_for(token)
    assert accounts.list_users() == []
    assert ("admin1", "user_remove", "ok") in trail(accounts)


def test_a_disabled_user_cannot_sign_in_or_use_a_session(accounts: Accounts) -> None:
    add(accounts, "alice")
    token = accounts.authenticate("alice", PIN).token
    with accounts._engine.begin() as db:  # no command disables a user yet; the column is there for one
        db.execute(update(users).where(users.c.name == "alice").values(disabled=True))
    with pytest.raises(Forbidden, match="disabled"):
        accounts.authenticate("alice", PIN)
    with pytest.raises(Unauthenticated, match="disabled"):
        accounts.session_for(token)


@pytest.mark.parametrize(
    ("name", "roles", "pin", "field", "says"),
    [
        ("alice", ["practitioner"], "123", "pin", "too short: 3 characters; at least 4"),
        ("alice", ["practitioner"], "1" * 129, "pin", "too long: 129 characters; at most 128"),
        ("a b", ["practitioner"], PIN, "name", "1–64 letters"),
        ("local:me", ["practitioner"], PIN, "name", "1–64 letters"),
        ("x" * 65, ["practitioner"], PIN, "name", "1–64 letters"),
        ("alice", [], PIN, "role", "at least one role"),
        ("alice", ["root"], PIN, "role", "'root' is not a role"),
    ],
)
def test_bad_user_input_names_the_field_and_the_limit(
    accounts: Accounts, name: str, roles: list[str], pin: str, field: str, says: str
) -> None:
    with pytest.raises(UserError) as error:
        accounts.add_user(name, roles, pin, actor="test")
    assert (error.value.field, error.value.status, error.value.code) == (field, 422, "MG100")
    assert says in error.value.message
    assert pin not in error.value.message
    assert accounts.list_users() == []


def test_a_name_is_taken_once(accounts: Accounts) -> None:
    add(accounts, "alice")
    with pytest.raises(UserError, match="'alice' already exists") as error:
        add(accounts, "alice", Role.ADMIN)
    assert error.value.field == "name"
    assert [u.roles for u in accounts.list_users()] == [frozenset({Role.PRACTITIONER})]


def test_an_unknown_user_cannot_be_changed(accounts: Accounts) -> None:
    for change in (
        lambda: accounts.remove_user("ghost", actor="t"),
        lambda: accounts.unlock("ghost", actor="t"),
        lambda: accounts.set_pin("ghost", PIN, actor="t"),
    ):
        with pytest.raises(UserError, match="no user 'ghost'"):
            change()


def test_a_hash_made_with_older_parameters_is_redone_at_sign_in(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "accounts.sqlite"
    with Accounts(path, clock=clock, hasher=CHEAP_HASHER) as old:
        add(old, "alice")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.check_needs_rehash(stored_hash(path, "alice"))
    with Accounts(path, clock=clock, hasher=stronger) as new:
        new.authenticate("alice", PIN)
        assert not stronger.check_needs_rehash(stored_hash(path, "alice"))
        new.authenticate("alice", PIN)  # and the new hash checks the same PIN


def test_a_store_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AccountsUnavailable, match="folder does not exist"):
        Accounts(tmp_path / "nowhere" / "accounts.sqlite")


class CountingHasher(PasswordHasher):
    """The cheap hasher, counting its checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.checks += 1
        return super().verify(hash, password)


def test_an_unknown_user_costs_one_argon2_check_like_a_wrong_pin(tmp_path: Path, clock: FakeClock) -> None:
    hasher = CountingHasher()
    with Accounts(tmp_path / "accounts.sqlite", clock=clock, hasher=hasher) as accounts:
        add(accounts, "alice")
        for name in ("alice", "bob"):
            before = hasher.checks
            with pytest.raises(Unauthenticated):
                accounts.authenticate(name, "0000")
            assert hasher.checks == before + 1, name  # the time does not tell which names exist
