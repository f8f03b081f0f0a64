"""The accounts store's audit trail is hash-chained like the record's audit log: every kind of entry (user
changes, sign-ins and their refusals, lock-outs, forbidden requests, the service's request trail) edited in the
file behind the program's back is named by ``mesogun users verify``; a change whose entry cannot be written is
not made; an older store's unchained trail is carried into the chain."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mesogun_service.accounts import AccountsUnavailable, LockedOut, Unauthenticated
from mesogun_service.accounts.cli import users
from mesogun_service.accounts.store import Accounts
from tests.conftest import Runner
from tests.mesogun_service.accounts.conftest import (
    CHEAP_HASHER,
    PIN,
    FakeClock,
    bearer,
    client_of,
    make_app,
    sign_in,
)

DROP_GUARD = (
    "DROP TRIGGER IF EXISTS audit_log_no_update",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
    "DROP TRIGGER IF EXISTS audit_log_no_replace",
)
BREAK_WRITES = (
    "CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'database or disk is full');"
    " END"
)
"""An audit trail that can no longer be written (as a full disk would refuse it)."""


def run_sql(path: Path, *statements: str, drop_guard: bool = True) -> None:
    db = sqlite3.connect(path)
    try:
        with db:
            for statement in (*(DROP_GUARD if drop_guard else ()), *statements):
                db.execute(statement)
    finally:
        db.close()


def verify(path: Path, *args: str) -> Result:
    return CliRunner().invoke(users, ["verify", "--accounts", str(path), *args])


def every_kind(path: Path, clock: FakeClock) -> None:
    """A trail holding one entry (at least) of every kind the store and the service write."""
    with Accounts(path, clock=clock, hasher=CHEAP_HASHER) as accounts:
        accounts.add_user("ada", ["admin"], PIN, actor="cli:root")
        accounts.add_user("bob", ["practitioner"], PIN, actor="ada", remote="192.0.2.1")
        session = accounts.authenticate("ada", PIN, "192.0.2.1")
        accounts.reauth(session.token, PIN)
        accounts.logout(session.token)
        with pytest.raises(Unauthenticated):
            accounts.authenticate("nobody", PIN)
        for _ in range(accounts.limits.max_failures - 1):
            with pytest.raises(Unauthenticated):
                accounts.authenticate("bob", "0000")
        with pytest.raises(LockedOut):
            accounts.authenticate("bob", "0000")
        accounts.unlock("bob", actor="ada")
        accounts.set_pin("bob", "1357", actor="ada")
        accounts.audit("bob", "forbidden", "GET /guns/SIM0001/diagnostics: needs the technician role", None, "denied")
        accounts.audit("bob", "POST /guns/SIM0001/emergency-stop", "", "local socket", "ok")
        accounts.remove_user("bob", actor="ada")


KINDS = ("user_add", "login", "reauth", "logout", "lockout", "unlock", "set_pin", "forbidden", "user_remove")


def first_seq(path: Path, action: str) -> int:
    db = sqlite3.connect(path)
    try:
        (seq,) = db.execute("SELECT min(seq) FROM audit_log WHERE action LIKE ?", (f"{action}%",)).fetchone()
    finally:
        db.close()
    assert seq is not None, action
    return int(seq)


def test_an_intact_trail_verifies_and_prints_its_head(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "accounts.sqlite"
    every_kind(path, clock)
    result = verify(path)
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout and "every hash and link verified" in result.stdout
    head = result.stdout.split("head ")[1].split(" ")[0]
    assert verify(path, "--expect-head", head).exit_code == 0
    with Accounts(path) as accounts:
        trail = accounts.audit_trail()
        report = accounts.verify()
    assert report.intact and report.guarded and report.entries == len(trail)
    assert [e.seq for e in trail] == list(range(1, len(trail) + 1))
    assert {"user_add", "login", "lockout", "forbidden", "POST /guns/SIM0001/emergency-stop"} <= {
        e.action for e in trail
    }


def test_the_database_refuses_to_change_an_entry(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "accounts.sqlite"
    every_kind(path, clock)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        run_sql(path, "UPDATE audit_log SET actor = 'eve' WHERE seq = 1", drop_guard=False)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        run_sql(path, "DELETE FROM audit_log WHERE seq = 1", drop_guard=False)


@pytest.mark.parametrize("kind", [*KINDS, "POST /"])
def test_an_entry_of_each_kind_altered_behind_the_programs_back_is_named(
    tmp_path: Path, clock: FakeClock, kind: str
) -> None:
    path = tmp_path / "accounts.sqlite"
    every_kind(path, clock)
    seq = first_seq(path, kind)
    run_sql(path, f"UPDATE audit_log SET reason = reason || ' (or not)' WHERE seq = {seq}")
    result = verify(path)
    assert result.exit_code == 6
    assert f"the audit log is broken at entry {seq} ({kind}" in result.output
    assert "altered" in result.output and "warning: the audit trail's append-only triggers are missing" in result.output
    assert len(result.output.strip().splitlines()) == 2  # the warning, then one line


def test_a_deleted_and_an_inserted_entry_are_named(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "accounts.sqlite"
    every_kind(path, clock)
    seq = first_seq(path, "set_pin")
    run_sql(path, f"DELETE FROM audit_log WHERE seq = {seq}")
    assert f"broken at entry {seq} " in verify(path).output and "deleted" in verify(path).output

    other = tmp_path / "other.sqlite"
    every_kind(other, clock)
    seq = first_seq(other, "lockout")
    run_sql(
        other,
        f"UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= {seq}",
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
        "INSERT INTO audit_log (seq, ts, actor, action, entity, entity_id, reason, old_value, new_value, prev_hash,"
        f" hash) SELECT {seq}, ts, 'eve', 'user_add', 'user', 'eve', '', NULL, NULL, prev_hash, hash FROM audit_log"
        f" WHERE seq = {seq + 1}",
    )
    result = verify(other)
    assert result.exit_code == 6 and f"broken at entry {seq} " in result.output, result.output


def test_a_privileged_action_whose_entry_cannot_be_written_is_refused_and_changes_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "accounts.sqlite"
    with Accounts(path, clock=clock, hasher=CHEAP_HASHER) as accounts:
        accounts.add_user("ada", ["admin"], PIN, actor="cli:root")
    run_sql(path, BREAK_WRITES, drop_guard=False)
    added = CliRunner().invoke(
        users, ["add", "eve", "--role", "admin", "--pin-stdin", "--accounts", str(path)], input=f"{PIN}\n"
    )
    assert added.exit_code == 6 and "nothing was changed" in added.output, added.output
    for command in (["remove", "ada"], ["unlock", "ada"]):
        result = CliRunner().invoke(users, [*command, "--accounts", str(path)])
        assert result.exit_code == 6 and result.output.count("\n") == 1, result.output
    set_pin = CliRunner().invoke(users, ["set-pin", "ada", "--pin-stdin", "--accounts", str(path)], input="1357\n")
    assert set_pin.exit_code == 6
    with Accounts(path, clock=clock, hasher=CHEAP_HASHER) as accounts:
        assert [u.name for u in accounts.list_users()] == ["ada"]
        with pytest.raises(AccountsUnavailable, match="audit trail"):
            accounts.authenticate("ada", PIN)  # no session without its entry
        with pytest.raises(AccountsUnavailable):
            accounts.authenticate("ada", "0000")  # a failure is not counted without its entry
        assert accounts.list_users()[0].failed_count == 0
    run_sql(path, "DROP TRIGGER audit_log_full", drop_guard=False)
    with Accounts(path, clock=clock, hasher=CHEAP_HASHER) as accounts:
        accounts.authenticate("ada", PIN)  # the old PIN: set-pin changed nothing
        assert [e.action for e in accounts.audit_trail()] == ["user_add", "login"]
        assert accounts.verify().intact


def test_the_service_refuses_a_sign_in_it_cannot_audit_but_still_refuses_a_forbidden_request(
    real: Runner, accounts: Accounts
) -> None:
    accounts.add_user("bob", ["practitioner"], PIN, actor="test")

    async def scenario() -> None:
        async with client_of(make_app(accounts)) as client:
            token = (await sign_in(client, "bob"))["token"]
            await asyncio.to_thread(run_sql, accounts.path, BREAK_WRITES, drop_guard=False)
            refused = await client.post("/auth/login", json={"user": "bob", "pin": PIN})
            assert refused.status_code == 503 and "audit trail" in refused.json()["error"]["message"]
            forbidden = await client.get("/guns/SIM0001/diagnostics", headers=bearer(token))
            assert forbidden.status_code == 403  # refused all the same (the service's log says the entry failed)

    real(scenario)


def test_writers_in_several_threads_keep_one_chain(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "accounts.sqlite"
    with Accounts(path, clock=clock, hasher=CHEAP_HASHER) as accounts:

        def requests(n: int) -> None:
            for k in range(15):
                accounts.audit(f"user{n}", f"POST /guns/SIM000{n}/fire", "", None, f"ok {k}")

        threads = [threading.Thread(target=requests, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report = accounts.verify()
    assert report.intact and report.entries == 90


def test_an_older_stores_unchained_trail_is_carried_into_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite"
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, ts VARCHAR(32) NOT NULL, actor VARCHAR(128) NOT NULL,"
            " action VARCHAR(64) NOT NULL, detail TEXT NOT NULL, remote VARCHAR(64), outcome VARCHAR(16) NOT NULL)"
        )
        db.executemany(
            "INSERT INTO audit (ts, actor, action, detail, remote, outcome) VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("2025-01-02T08:00:00.000000+00:00", "cli:root", "user_add", "ada (admin)", None, "ok"),
                ("2025-01-02T08:01:00.000000+00:00", "ada", "login", "", "192.0.2.1", "ok"),
                ("2025-01-02T08:02:00.000000+00:00", "ada", "POST /guns/SIM0001/arm", "", "192.0.2.1", "ok"),
            ],
        )
    db.close()
    with Accounts(path) as accounts:
        trail = accounts.audit_trail()
        assert [(e.actor, e.action, e.remote, e.outcome) for e in trail] == [
            ("cli:root", "user_add", None, "ok"),
            ("ada", "login", "192.0.2.1", "ok"),
            ("ada", "POST /guns/SIM0001/arm", "192.0.2.1", "ok"),
        ]
        assert trail[0].ts.isoformat() == "2025-01-02T08:00:00+00:00"
        accounts.audit("ada", "logout")
        assert accounts.verify().intact
    with Accounts(path) as accounts:  # carried once
        assert len(accounts.audit_trail()) == 4
