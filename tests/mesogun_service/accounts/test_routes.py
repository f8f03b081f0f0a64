"""The ``/auth`` routes: what a sign-in answers and the cookies it sets, sign-out, ``/auth/me``, lock-out over
HTTP, and request bodies that are refused with the field named."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI

from mesogun_service.accounts import Accounts, Role
from tests.conftest import Runner
from tests.mesogun_service.accounts.conftest import PIN, FakeClock, bearer, client_of, error_of, make_app, sign_in


@pytest.fixture
def app(accounts: Accounts) -> FastAPI:
    accounts.add_user("alice", [Role.PRACTITIONER, Role.TECHNICIAN], PIN, actor="test")
    return make_app(accounts)


def cookie_attributes(set_cookies: list[str], name: str) -> set[str]:
    """The attributes of the ``Set-Cookie`` of ``name`` (lower-case, without its value)."""
    (line,) = [c for c in set_cookies if c.startswith(f"{name}=")]
    return {part.strip().lower() for part in line.split(";")[1:]}


def test_login_answers_the_token_and_sets_the_browser_cookies(real: Runner, app, clock: FakeClock) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            reply = await client.post("/auth/login", json={"user": "alice", "pin": PIN})
            assert reply.status_code == 200
            body = reply.json()
            assert set(body) == {"token", "expires_at", "idle_timeout_s", "user", "roles", "csrf_token"}
            assert (body["user"], body["roles"]) == ("alice", ["practitioner", "technician"])
            assert body["idle_timeout_s"] == 900
            assert datetime.fromisoformat(body["expires_at"]) == clock.now + timedelta(hours=12)
            assert reply.headers["Cache-Control"] == "no-store"
            set_cookies = reply.headers.get_list("set-cookie")
            session = cookie_attributes(set_cookies, "mesogun_session")
            assert {"httponly", "samesite=strict", "path=/"} <= session and "secure" not in session
            csrf = cookie_attributes(set_cookies, "mesogun_csrf")
            assert "samesite=strict" in csrf and "httponly" not in csrf  # the page reads it to echo it
            assert client.cookies["mesogun_session"] == body["token"]

    real(scenario)


def test_over_https_the_cookies_are_secure(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app, base_url="https://gun.clinic.example") as client:
            reply = await client.post("/auth/login", json={"user": "alice", "pin": PIN})
            for name in ("mesogun_session", "mesogun_csrf"):
                assert "secure" in cookie_attributes(reply.headers.get_list("set-cookie"), name)

    real(scenario)


def test_me_says_who_and_logout_ends_the_session_and_clears_the_cookies(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            login = await sign_in(client, "alice")
            me = (await client.get("/auth/me")).json()
            assert me == {
                "user": "alice",
                "roles": ["practitioner", "technician"],
                "expires_at": login["expires_at"],
                "via": "cookie",
                "fresh_until": None,
            }
            assert (await client.post("/auth/logout")).status_code == 403  # a browser's POST needs its CSRF token
            reply = await client.post("/auth/logout", headers={"X-CSRF-Token": login["csrf_token"]})
            assert reply.status_code == 200 and reply.json() == {}
            assert "mesogun_session" not in client.cookies
            assert (await client.get("/guns", headers=bearer(login["token"]))).status_code == 401

    real(scenario)


def test_a_browser_reauth_needs_the_csrf_token(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            csrf = (await sign_in(client, "alice"))["csrf_token"]
            assert (await client.post("/auth/reauth", json={"pin": PIN})).status_code == 403
            reply = await client.post("/auth/reauth", json={"pin": PIN}, headers={"X-CSRF-Token": csrf})
            assert reply.status_code == 200
            assert (await client.get("/auth/me")).json()["fresh_until"] == reply.json()["fresh_until"]

    real(scenario)


def test_wrong_pins_over_http_end_in_a_423_lock_out(real: Runner, app) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            for _ in range(4):
                reply = await client.post("/auth/login", json={"user": "alice", "pin": "0000"})
                assert reply.status_code == 401
                assert error_of(reply)["message"] == "unknown user or wrong PIN"
            reply = await client.post("/auth/login", json={"user": "alice", "pin": "0000"})
            assert reply.status_code == 423
            assert reply.headers["Retry-After"] == "300"
            error = error_of(reply)
            assert (error["code"], error["kind"], error["field"]) == ("MG912", "locked_out", "user")
            assert (await client.post("/auth/login", json={"user": "alice", "pin": PIN})).status_code == 423

    real(scenario)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "a" * 10_000, "pin": PIN}, "user"),
        ({"user": "alice", "pin": "1" * 129}, "pin"),
        ({"user": "alice", "pin": 2468}, "pin"),
        ({"user": ["alice"], "pin": PIN}, "user"),
        ({"user": "alice"}, "pin"),
        ({"user": "alice", "pin": PIN, "role": "admin"}, "role"),
    ],
)
def test_a_bad_login_body_is_422_naming_the_field(real: Runner, app, accounts: Accounts, body, field: str) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            reply = await client.post("/auth/login", json=body)
            assert reply.status_code == 422
            assert [error["loc"] for error in reply.json()["detail"]] == [["body", field]]

    real(scenario)
    assert [e.action for e in accounts.audit_trail()] == ["user_add"]  # refused before any sign-in was tried


def test_malformed_json_is_refused_before_any_sign_in(real: Runner, app, accounts: Accounts) -> None:
    async def scenario() -> None:
        async with client_of(app) as client:
            reply = await client.post(
                "/auth/login", content=b'{"user": "alice", "pin": ', headers={"Content-Type": "application/json"}
            )
            # FastAPI's own 422 (json_invalid); the service's app turns it into the spec's 400 MG900
            assert reply.status_code == 422
            assert [error["type"] for error in reply.json()["detail"]] == ["json_invalid"]

    real(scenario)
    assert [e.action for e in accounts.audit_trail()] == ["user_add"]
