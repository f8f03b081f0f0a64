"""Who a request is, through HTTP: bearer tokens, browser cookies with CSRF and same-origin checks, roles, fresh
re-authentication, the local socket, and the client's address in the audit trail."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from mesogun_service.accounts import Accounts, AuthPolicy, Role
from tests.conftest import Runner
from tests.mesogun_service.accounts.conftest import (
    BASE_URL,
    CLIENT_ADDRESS,
    PIN,
    FakeClock,
    bearer,
    client_of,
    error_of,
    make_app,
    on_local_socket,
    sign_in,
)


@pytest.fixture
def app(accounts: Accounts) -> FastAPI:
    accounts.add_user("alice", [Role.PRACTITIONER], PIN, actor="test")
    accounts.add_user("tom", [Role.TECHNICIAN], PIN, actor="test")
    accounts.add_user("ada", [Role.ADMIN], PIN, actor="test")
    return make_app(accounts)


def test_a_bearer_token_signs_the_request_in(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            token = (await sign_in(client, "alice"))["token"]
            client.cookies.clear()
            reply = await client.get("/guns", headers=bearer(token))
            assert reply.status_code == 200
            assert reply.json() == {"user": "alice", "via": "bearer"}
            assert (await client.post("/guns/SIM0001/fire", headers=bearer(token))).status_code == 200  # no CSRF

    real(scenario)


def test_no_wrong_or_malformed_credentials_are_401(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic YWxpY2U6MjQ2OA=="}):
                reply = await client.get("/guns", headers=headers)
                assert reply.status_code == 401, headers
                assert reply.headers["WWW-Authenticate"] == "Bearer"
                error = error_of(reply)
                assert (error["code"], error["kind"]) == ("MG910", "unauthenticated")
            assert "POST /auth/login" in error_of(await client.get("/guns"))["message"]
            basic = await client.get("/guns", headers={"Authorization": "Basic YWxpY2U6MjQ2OA=="})
            assert "must be 'Bearer <token>'" in error_of(basic)["message"]

    real(scenario)


def test_an_expired_or_revoked_token_is_401(real: Runner, app, clock: FakeClock) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            idle = (await sign_in(client, "alice"))["token"]
            ended = (await sign_in(client, "alice"))["token"]
            client.cookies.clear()
            assert (await client.post("/auth/logout", headers=bearer(ended))).status_code == 200
            reply = await client.get("/guns", headers=bearer(ended))
            assert reply.status_code == 401 and "ended" in error_of(reply)["message"]
            clock.advance(minutes=15)
            reply = await client.get("/guns", headers=bearer(idle))
            assert reply.status_code == 401 and "15 min without use" in error_of(reply)["message"]

    real(scenario)


def test_a_token_in_the_url_is_refused_even_a_valid_one(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            token = (await sign_in(client, "alice"))["token"]
            client.cookies.clear()
            for name in ("token", "access_token"):
                reply = await client.get("/guns", params={name: token}, headers=bearer(token))
                assert reply.status_code == 401
                assert "never travel in URLs" in error_of(reply)["message"]

    real(scenario)


def test_a_browser_session_needs_the_csrf_token_on_unsafe_requests(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            csrf = (await sign_in(client, "alice"))["csrf_token"]
            assert client.cookies["mesogun_csrf"] == csrf
            reply = await client.get("/guns")  # the cookie alone; a read needs no CSRF token
            assert reply.json() == {"user": "alice", "via": "cookie"}
            for headers in ({}, {"X-CSRF-Token": "forged"}):
                reply = await client.post("/guns/SIM0001/fire", headers=headers)
                assert reply.status_code == 403, headers
                error = error_of(reply)
                assert (error["code"], error["field"]) == ("MG911", "X-CSRF-Token")
            reply = await client.post("/guns/SIM0001/fire", headers={"X-CSRF-Token": csrf})
            assert reply.status_code == 200

    real(scenario)


def test_a_cross_site_browser_request_is_refused(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            csrf = (await sign_in(client, "alice"))["csrf_token"]
            ok = {"X-CSRF-Token": csrf}
            same = await client.post("/guns/SIM0001/fire", headers={**ok, "Origin": BASE_URL})
            assert same.status_code == 200
            for cross in (
                {"Origin": "http://evil.example"},
                {"Origin": "http://127.0.0.1:9000"},  # another port is another origin
                {"Origin": "null"},
                {"Sec-Fetch-Site": "cross-site"},
            ):
                reply = await client.post("/guns/SIM0001/fire", headers={**ok, **cross})
                assert reply.status_code == 403, cross
                assert "cross-site request refused" in error_of(reply)["message"]
            login = await client.post(
                "/auth/login", json={"user": "alice", "pin": PIN}, headers={"Origin": "http://evil.example"}
            )
            assert login.status_code == 403  # no signing a browser in from another site

    real(scenario)


def test_a_route_refuses_a_user_without_its_role(real: Runner, app, accounts: Accounts) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            for user, status in (("alice", 403), ("tom", 200), ("ada", 200)):  # admin implies technician
                token = (await sign_in(client, user))["token"]
                reply = await client.get("/guns/SIM0001/diagnostics", headers=bearer(token))
                assert reply.status_code == status, user
            client.cookies.clear()
            token = (await sign_in(client, "alice"))["token"]
            reply = await client.get("/guns/SIM0001/diagnostics", headers=bearer(token))
            error = error_of(reply)
            assert (error["code"], error["kind"]) == ("MG911", "forbidden")
            assert "needs the technician role; alice has practitioner" in error["message"]
            assert (error["field"], error["value"]) == ("role", "technician")  # what a client says what to do with

    real(scenario)
    assert [(e.actor, e.action, e.outcome) for e in accounts.audit_trail() if e.action == "forbidden"] == [
        ("alice", "forbidden", "denied")
    ] * 2


def test_a_technician_operation_needs_a_fresh_reauth(real: Runner, app, clock: FakeClock) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            token = (await sign_in(client, "tom"))["token"]
            client.cookies.clear()
            auth = bearer(token)
            reply = await client.post("/guns/SIM0001/calibrate", headers=auth)
            assert reply.status_code == 403 and "POST /auth/reauth" in error_of(reply)["message"]
            wrong = await client.post("/auth/reauth", json={"pin": "0000"}, headers=auth)
            assert wrong.status_code == 403 and error_of(wrong)["field"] == "pin"
            fresh = await client.post("/auth/reauth", json={"pin": PIN}, headers=auth)
            assert fresh.status_code == 200 and "fresh_until" in fresh.json()
            assert (await client.post("/guns/SIM0001/calibrate", headers=auth)).status_code == 200
            clock.advance(minutes=5)
            assert (await client.post("/guns/SIM0001/calibrate", headers=auth)).status_code == 403
            # a fresh practitioner is still no technician
            practitioner = bearer((await sign_in(client, "alice"))["token"])
            await client.post("/auth/reauth", json={"pin": PIN}, headers=practitioner)
            reply = await client.post("/guns/SIM0001/calibrate", headers=practitioner)
            assert reply.status_code == 403 and "technician role" in error_of(reply)["message"]

    real(scenario)


def test_the_local_socket_is_the_os_user_as_a_practitioner(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(on_local_socket(app, "clinic")) as client:
            assert (await client.get("/guns")).json() == {"user": "local:clinic", "via": "local"}
            assert (await client.post("/guns/SIM0001/fire")).status_code == 200  # no cookie: no CSRF to check
            me = (await client.get("/auth/me")).json()
            assert (me["user"], me["roles"], me["via"], me["expires_at"]) == (
                "local:clinic",
                ["practitioner"],
                "local",
                None,
            )
            assert (await client.get("/guns/SIM0001/diagnostics")).status_code == 403
            reply = await client.post("/guns/SIM0001/calibrate")
            assert reply.status_code == 403
            assert "local socket cannot give: sign in with your PIN" in error_of(reply)["message"]
            # a token sent over the socket is who the request is (how a technician works there)
            token = (await sign_in(client, "tom"))["token"]
            reply = await client.get("/guns/SIM0001/diagnostics", headers=bearer(token))
            assert reply.json() == {"user": "tom", "via": "bearer"}

    real(scenario)


def test_the_audit_trail_has_the_clients_address_and_trusts_only_the_proxy(real: Runner, accounts: Accounts) -> None:
    accounts.add_user("alice", [Role.PRACTITIONER], PIN, actor="test")
    forwarded = {"X-Forwarded-For": "198.51.100.9, 192.0.2.44"}

    async def scenario() -> None:
        for policy in (AuthPolicy(), AuthPolicy(trusted_proxy="192.0.2.250"), AuthPolicy(trusted_proxy=CLIENT_ADDRESS)):
            async with client_of(make_app(accounts, policy)) as client:
                reply = await client.post("/auth/login", json={"user": "alice", "pin": PIN}, headers=forwarded)
                assert reply.status_code == 200

    real(scenario)
    logins = [e.remote for e in accounts.audit_trail() if e.action == "login"]
    assert logins == [CLIENT_ADDRESS, CLIENT_ADDRESS, "192.0.2.44"]  # the hop the trusted proxy itself added
