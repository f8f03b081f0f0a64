"""The ``/auth`` routes: sign in, sign out, re-authenticate, who am I (docs/service.md, "Authentication and roles").

``POST /auth/login`` answers the bearer token (scripts) and sets the browser's cookies: ``mesogun_session``
(``HttpOnly``, ``SameSite=Strict``, ``Secure`` over https) and ``mesogun_csrf`` (readable by the page, which
echoes it in ``X-CSRF-Token``). :func:`install` wires the store, the policy, the error handler and the router into
an app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mesogun_service.accounts.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AuthPolicy,
    Credential,
    CurrentPrincipal,
    accounts_of,
    auth_error_handler,
    credential,
    refuse_cross_site,
    remote_address,
)
from mesogun_service.accounts.errors import AuthError, Forbidden
from mesogun_service.accounts.identity import Principal, Via
from mesogun_service.accounts.store import MAX_NAME, MAX_PIN, Accounts, NewSession

auth_router = APIRouter(prefix="/auth", tags=["auth"])

PresentedCredential = Annotated[Credential | None, Depends(credential)]


class LoginRequest(BaseModel):
    """``{"user", "pin"}``."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=MAX_NAME)
    pin: str = Field(min_length=1, max_length=MAX_PIN)


class ReauthRequest(BaseModel):
    """``{"pin"}``."""

    model_config = ConfigDict(extra="forbid")
    pin: str = Field(min_length=1, max_length=MAX_PIN)


class LoginReply(BaseModel):
    """A new session: ``token`` for ``Authorization: Bearer``, ``csrf_token`` for a browser's ``X-CSRF-Token``."""

    token: str
    expires_at: datetime
    """The session's absolute end; it ends sooner after ``idle_timeout_s`` without a request."""
    idle_timeout_s: int
    user: str
    roles: list[str]
    csrf_token: str


class ReauthReply(BaseModel):
    """Technician operations are allowed until ``fresh_until``."""

    fresh_until: datetime


class MeReply(BaseModel):
    """Who is signed in, how (``bearer``, ``cookie``, ``local``), until when, and whether re-authenticated."""

    user: str
    roles: list[str]
    expires_at: datetime | None
    via: Via
    fresh_until: datetime | None


def _roles(who: Principal) -> list[str]:
    return sorted(role.value for role in who.roles)


def set_session_cookies(request: Request, response: Response, new: NewSession) -> None:
    """Give the browser a new session's cookies (``mesogun_session``: HttpOnly; ``mesogun_csrf``: for the page to
    echo), both ``SameSite=Strict`` and ``Secure`` over https, for the session's lifetime; the reply is not stored."""
    lifetime_s = int(accounts_of(request).limits.absolute.total_seconds())
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, new.token, max_age=lifetime_s, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.set_cookie(
        CSRF_COOKIE, new.csrf_token, max_age=lifetime_s, path="/", secure=secure, httponly=False, samesite="strict"
    )
    response.headers["Cache-Control"] = "no-store"


def clear_session_cookies(response: Response) -> None:
    """Take a browser's session cookies back."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")


@auth_router.post("/login")
def login(body: LoginRequest, request: Request, response: Response) -> LoginReply:
    """Sign in with a user name and PIN (cross-site sign-ins are refused: no login CSRF)."""
    refuse_cross_site(request)
    accounts = accounts_of(request)
    new = accounts.authenticate(body.user, body.pin, remote_address(request))
    set_session_cookies(request, response, new)
    who = new.principal
    assert who.expires_at is not None  # a new session always has its end
    return LoginReply(
        token=new.token,
        expires_at=who.expires_at,
        idle_timeout_s=int(accounts.limits.idle.total_seconds()),
        user=who.user,
        roles=_roles(who),
        csrf_token=new.csrf_token,
    )


@auth_router.post("/logout")
def logout(
    who: CurrentPrincipal, presented: PresentedCredential, request: Request, response: Response
) -> dict[str, str]:
    """End this session (on the local socket there is none to end) and clear the browser's cookies."""
    if presented is not None and who.via != "local":
        accounts_of(request).logout(presented.token, remote_address(request))
    clear_session_cookies(response)
    return {}


@auth_router.post("/reauth")
def reauth(body: ReauthRequest, who: CurrentPrincipal, presented: PresentedCredential, request: Request) -> ReauthReply:
    """Re-enter the PIN: technician operations are allowed for the next 5 minutes."""
    if presented is None or who.via == "local":
        raise Forbidden(
            "the local socket cannot re-authenticate: sign in with your PIN (POST /auth/login), then POST /auth/reauth"
        )
    fresh_until = accounts_of(request).reauth(presented.token, body.pin, remote_address(request))
    return ReauthReply(fresh_until=fresh_until)


@auth_router.get("/me")
def me(who: CurrentPrincipal) -> MeReply:
    """Who this request is signed in as."""
    return MeReply(
        user=who.user, roles=_roles(who), expires_at=who.expires_at, via=who.via, fresh_until=who.fresh_until
    )


def install(app: FastAPI, accounts: Accounts, policy: AuthPolicy | None = None) -> None:
    """Wire access control into ``app``: its store and policy on ``app.state``, the :class:`AuthError` handler,
    and :data:`auth_router`."""
    app.state.accounts = accounts
    app.state.auth_policy = policy or AuthPolicy()
    app.add_exception_handler(AuthError, auth_error_handler)
    app.include_router(auth_router)
