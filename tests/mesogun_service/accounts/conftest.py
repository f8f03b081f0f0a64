"""Fixtures of the access-control tests: a fake clock, a cheap argon2 hasher, a store, and a tiny app with the
``/auth`` routes and a few protected routes, reached in-process through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from mesogun_service.accounts import (
    LOCAL_USER_KEY,
    Accounts,
    AuthPolicy,
    CurrentPrincipal,
    Principal,
    Role,
    install,
    require_fresh,
    require_role,
)

PIN = "2468"
CLIENT_ADDRESS = "203.0.113.7"
BASE_URL = "http://127.0.0.1:8000"


class FakeClock:
    """A clock that moves only when told: tokens expire without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def _no_accounts_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may use the user's own accounts store."""
    monkeypatch.delenv("MESOGUN_ACCOUNTS", raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id at its cheapest: the tests hash hundreds of times (the service uses argon2-cffi's defaults)."""


@pytest.fixture
def accounts(tmp_path: Path, clock: FakeClock) -> Any:
    with Accounts(tmp_path / "accounts.sqlite", clock=clock, hasher=CHEAP_HASHER) as store:
        yield store


def make_app(accounts: Accounts, policy: AuthPolicy | None = None) -> FastAPI:
    """The ``/auth`` routes, plus a route for every kind of protection the service's routes use."""
    app = FastAPI()
    install(app, accounts, policy)

    def who(principal: Principal) -> dict[str, object]:
        return {"user": principal.user, "via": principal.via}

    @app.get("/guns")
    def guns(principal: CurrentPrincipal) -> dict[str, object]:
        return who(principal)

    @app.post("/guns/SIM0001/fire")
    def fire(principal: CurrentPrincipal) -> dict[str, object]:
        return who(principal)

    @app.get("/guns/SIM0001/diagnostics")
    def diagnostics(principal: Annotated[Principal, Depends(require_role(Role.TECHNICIAN))]) -> dict[str, object]:
        return who(principal)

    @app.post("/guns/SIM0001/calibrate")
    def calibrate(principal: Annotated[Principal, Depends(require_fresh(Role.TECHNICIAN))]) -> dict[str, object]:
        return who(principal)

    return app


def on_local_socket(app: ASGIApp, os_user: str) -> ASGIApp:
    """``app`` as the service's local-socket server presents it: each request's scope names the OS user."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, LOCAL_USER_KEY: os_user}
        await app(scope, receive, send)

    return wrapped


@asynccontextmanager
async def client_of(app: ASGIApp, base_url: str = BASE_URL) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 50000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, user: str, pin: str = PIN) -> dict[str, Any]:
    reply = await client.post("/auth/login", json={"user": user, "pin": pin})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(reply: httpx.Response) -> dict[str, Any]:
    """The spec's error object of a refused request."""
    body: dict[str, Any] = reply.json()["error"]
    return body


Scenario = Callable[[], Coroutine[Any, Any, Any]]
