"""Access control as wired into the service: gun operations need a signed-in practitioner, diagnostics a
technician, the safe commands nobody (never refused for a wrong reason); every state-changing request goes to
the audit trail after its reply; the local socket signs its user in without a token."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import httpx

from mesogun_service.accounts import Accounts, Role
from tests.mesogun_service.conftest import add_user


def test_without_a_token_gun_operations_are_refused_but_the_stop_is_not(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            async with httpx.AsyncClient(base_url=svc.service.url) as anonymous:
                for method, path in (("GET", "/guns"), ("POST", svc.gun("/arm")), ("GET", svc.gun("/events"))):
                    reply = await anonymous.request(method, path)
                    assert reply.status_code == 401, (path, reply.text)
                    assert reply.json()["error"]["kind"] == "unauthenticated"
                expired = await anonymous.post(svc.gun("/clear"), headers={"Authorization": "Bearer not-a-token"})
                assert expired.status_code == 401
                for path in ("/emergency-stop", "/stop", "/disarm"):  # with a bad token too: safety first
                    reply = await anonymous.post(svc.gun(path), headers={"Authorization": "Bearer not-a-token"})
                    assert reply.status_code == 200, (path, reply.text)
                assert (await anonymous.get("/health")).json() == {"status": "ok", "guns": 1}
            await svc.ok("POST", svc.gun("/clear"))
            await asyncio.sleep(0.3)  # entered after the reply, from a worker thread
        with Accounts(svc.record.parent / "accounts.sqlite") as accounts:
            trail = [(e.actor, e.action, e.outcome) for e in accounts.audit_trail()]
        assert ("unknown token holder", "POST /guns/SIM0001/emergency-stop", "ok") in trail
        assert ("alice", "POST /guns/SIM0001/clear", "ok") in trail
        assert any(action == "login" or action.startswith("login") for _, action, _ in trail)

    real(scenario)


def test_a_practitioner_cannot_manage_users_but_reads_diagnostics(real, running_service, tmp_path) -> None:
    async def scenario() -> None:
        add_user(tmp_path / "accounts.sqlite", "bob", "1357", (Role.PRACTITIONER,))
        async with running_service() as svc, httpx.AsyncClient(base_url=svc.service.url) as bob:
            token = (await bob.post("/auth/login", json={"user": "bob", "pin": "1357"})).json()["token"]
            bob.headers["Authorization"] = f"Bearer {token}"
            assert (await bob.get(svc.gun("/diagnostics"))).status_code == 200  # read-only: changes nothing
            reauth = await bob.post("/auth/reauth", json={"pin": "0000"})
            assert reauth.status_code == 403  # a wrong PIN: still signed in, not fresh

    real(scenario)


def test_on_another_address_every_route_needs_sign_in_and_the_schema_is_not_served(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service(host="0.0.0.0") as svc:
            async with httpx.AsyncClient(base_url=svc.service.url.replace("0.0.0.0", "127.0.0.1")) as anonymous:
                assert (await anonymous.get("/health")).status_code == 401
                assert (await anonymous.get("/openapi.json")).status_code == 404
            assert (await svc.client.get("/health")).status_code == 200

    real(scenario)


def test_the_local_socket_is_owner_only_and_signs_its_user_in(real, running_service, tmp_path) -> None:
    async def scenario() -> None:
        sock = tmp_path / "run" / "service.sock"
        async with running_service(socket=sock) as svc:
            assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
            transport = httpx.AsyncHTTPTransport(uds=str(sock))
            async with httpx.AsyncClient(transport=transport, base_url="http://local") as local:
                me = (await local.get("/auth/me")).json()
                assert me["user"].startswith("local:") and me["roles"] == ["practitioner"]
                assert (await local.get(svc.gun("/status"))).status_code == 200
        assert not sock.exists()  # removed when the service stops

    real(scenario)


def test_a_browser_session_needs_its_csrf_token_and_a_same_site_origin(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc, httpx.AsyncClient(base_url=svc.service.url) as browser:
            signed_in = await browser.post("/auth/login", json={"user": "alice", "pin": "2468"})
            cookie = signed_in.headers.get_list("set-cookie")
            assert any("mesogun_session=" in c and "HttpOnly" in c and "SameSite=strict" in c for c in cookie)
            csrf = signed_in.json()["csrf_token"]
            configure = svc.gun("/configure")
            assert (await browser.post(configure, json={"depth_mm": 1.5})).status_code == 403  # no CSRF header
            evil = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
            assert (await browser.post(configure, json={"depth_mm": 1.5}, headers=evil)).status_code == 403
            ok = await browser.post(configure, json={"depth_mm": 1.5}, headers={"X-CSRF-Token": csrf})
            assert ok.status_code == 200 and ok.json()["depth_mm"] == 1.5
            token = signed_in.json()["token"]
            await browser.post("/auth/logout", headers={"X-CSRF-Token": csrf})
            replayed = await browser.get("/guns", headers={"Authorization": f"Bearer {token}"})
            assert replayed.status_code == 401  # a token is dead once its session is signed out
            in_url = await browser.get(f"/guns?token={token}")
            assert in_url.status_code == 401 and "URL" in in_url.json()["error"]["message"]

    real(scenario)


def test_a_trail_that_cannot_be_written_never_blocks_a_safe_command(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ready_to_treat()
            await svc.ok("POST", svc.gun("/arm"))
            with sqlite3.connect(svc.record.parent / "accounts.sqlite") as db:  # the disk refuses the trail now
                db.execute(
                    "CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log"
                    " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
                )
            db.close()
            for path in ("/emergency-stop", "/stop", "/disarm"):
                await svc.ok("POST", svc.gun(path))
            status = await svc.ok("GET", svc.gun("/status"))
            assert status["state"] != "armed", status
            refused = await svc.client.post("/auth/login", json={"user": "alice", "pin": "2468"})
            assert refused.status_code == 503  # a sign-in it cannot enter is refused

    real(scenario)
