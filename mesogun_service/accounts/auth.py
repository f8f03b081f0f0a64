"""FastAPI dependencies that say who a request is and whether it may go on.

The app provides ``app.state.accounts`` (:class:`~.store.Accounts`) and ``app.state.auth_policy``
(:class:`AuthPolicy`); a request on the service's local Unix socket carries its OS user in
``request.scope["mesogun.local_user"]``. A route then asks for :func:`principal`, ``require_role(...)`` or
``require_fresh(...)``. Credentials, in order: ``Authorization: Bearer <token>``; on the local socket, the
socket itself; else the ``mesogun_session`` cookie, whose unsafe requests must be same-origin and echo the CSRF
token. Tokens in the URL are refused.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from mesogun.i18n import N_
from mesogun.wording import Wording
from mesogun_service.accounts.errors import AccountsUnavailable, AuthError, Forbidden, Unauthenticated, error_body
from mesogun_service.accounts.identity import Principal, Role, Via, local_principal
from mesogun_service.accounts.store import Accounts, span_text

log = logging.getLogger(__name__)

SESSION_COOKIE = "mesogun_session"
CSRF_COOKIE = "mesogun_csrf"
CSRF_HEADER = "X-CSRF-Token"
LOCAL_USER_KEY = "mesogun.local_user"
"""The ASGI scope key under which the local socket's server puts the OS user of the connection."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
URL_TOKEN_PARAMS = ("token", "access_token", SESSION_COOKIE)
"""Query parameters that would carry a token in a URL (logs, history, Referer): their presence is refused."""


@dataclass(frozen=True)
class AuthPolicy:
    """How the service is exposed: on loopback only (``GET /health`` needs no sign-in), or on another address
    (every route does); ``trusted_proxy`` is the one address whose ``X-Forwarded-For`` is believed."""

    loopback_only: bool = True
    trusted_proxy: str | None = None

    @property
    def health_needs_auth(self) -> bool:
        """Whether ``GET /health`` needs a signed-in principal too."""
        return not self.loopback_only


@dataclass(frozen=True)
class Credential:
    """The token a request presented and how (``bearer`` or ``cookie``)."""

    token: str
    via: Via

    def __repr__(self) -> str:
        return f"Credential(via={self.via!r})"


_bearer = HTTPBearer(auto_error=False, description="the token from POST /auth/login")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="browsers: also send X-CSRF-Token")


def accounts_of(request: Request) -> Accounts:
    """The app's accounts store (``app.state.accounts``)."""
    accounts: Accounts = request.app.state.accounts
    return accounts


def policy_of(request: Request) -> AuthPolicy:
    """The app's :class:`AuthPolicy` (``app.state.auth_policy``; the default if the app set none)."""
    policy = getattr(request.app.state, "auth_policy", None)
    return policy if isinstance(policy, AuthPolicy) else AuthPolicy()


def local_user(request: Request) -> str | None:
    """The OS user of a request on the local socket, ``None`` for any other request."""
    user = request.scope.get(LOCAL_USER_KEY)
    return user if isinstance(user, str) and user else None


def remote_address(request: Request) -> str | None:
    """The client's address for the audit trail: the peer's, or the last ``X-Forwarded-For`` hop when the peer is
    the trusted proxy (that hop is the one the proxy added; earlier ones are whatever the client sent)."""
    if local_user(request) is not None:
        return "local socket"
    peer = request.client.host if request.client else None
    proxy = policy_of(request).trusted_proxy
    if proxy is not None and peer == proxy:
        hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
        if hops and hops[-1]:
            return hops[-1]
    return peer


def refuse_cross_site(request: Request) -> None:
    """:class:`Forbidden` for a request a browser sent from another site: ``Sec-Fetch-Site: cross-site``, or an
    ``Origin`` whose host and port differ from the request's ``Host``."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise Forbidden(Wording(N_("cross-site request refused (Sec-Fetch-Site: cross-site)")), field="Sec-Fetch-Site")
    origin = request.headers.get("origin")
    if origin is None:
        return
    default_port = 443 if request.url.scheme == "https" else 80
    if _authority(origin, default_port) != _authority(f"//{request.headers.get('host', '')}", default_port):
        raise Forbidden(
            Wording(
                N_("cross-site request refused: Origin {origin} is not this service's address"),
                origin=repr(origin[:100]),
            ),
            field="Origin",
        )


def _authority(url: str, default_port: int) -> tuple[str, int] | None:
    """``(host, port)`` of an origin or ``//host:port`` (the scheme's port if none is given); ``None`` if it has no
    host (``Origin: null``) or a bad port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme, default_port)
    return parts.hostname.lower(), port


def credential(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    cookie: Annotated[str | None, Security(_cookie)],
) -> Credential | None:
    """The token the request presented: the bearer token, else (not on the local socket) the session cookie.

    A token in the query string and an ``Authorization`` header of another scheme are :class:`Unauthenticated`.
    """
    if any(name in request.query_params for name in URL_TOKEN_PARAMS):
        raise Unauthenticated(
            "tokens never travel in URLs (they end up in logs and browser history): "
            "send the header 'Authorization: Bearer <token>'",
            field="token",
        )
    if "authorization" in request.headers:
        if bearer is None:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'", field="Authorization")
        return Credential(bearer.credentials, "bearer")
    if local_user(request) is None and cookie:
        return Credential(cookie, "cookie")
    return None


def principal(request: Request, presented: Annotated[Credential | None, Depends(credential)]) -> Principal:
    """Who the request is (a FastAPI dependency); :class:`Unauthenticated` without valid credentials, and for a
    cookie, :class:`Forbidden` on an unsafe method that is cross-site or lacks the ``X-CSRF-Token``."""
    os_user = local_user(request)
    if presented is None:
        if os_user is not None:
            return local_principal(os_user)
        raise Unauthenticated(
            "sign in first: POST /auth/login, then send 'Authorization: Bearer <token>' (browsers: the session cookie)"
        )
    who = accounts_of(request).session_for(presented.token, via=presented.via)
    if presented.via == "cookie" and request.method in UNSAFE_METHODS:
        refuse_cross_site(request)
        echoed = request.headers.get(CSRF_HEADER, "")
        expected = who.csrf_token or ""
        if not expected or not hmac.compare_digest(echoed.encode("latin-1"), expected.encode("latin-1")):
            raise Forbidden(
                Wording(
                    N_("a browser's {method} must send the {header} header: the {cookie} cookie's value"),
                    method=request.method,
                    header=CSRF_HEADER,
                    cookie=CSRF_COOKIE,
                ),
                field=CSRF_HEADER,
            )
    return who


CurrentPrincipal = Annotated[Principal, Depends(principal)]
"""A route parameter of this type is the request's :class:`Principal` (signed in, or the route is refused)."""


def require_role(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets through a principal holding any of ``roles`` (admin implies every role, technician
    implies practitioner) and refuses others with :class:`Forbidden` (audited)."""
    needed = " or ".join(role.value for role in roles)

    def dependency(request: Request, who: CurrentPrincipal) -> Principal:
        if not any(who.has(role) for role in roles):
            _deny(request, who, f"needs the {needed} role")
            have = ", ".join(sorted(role.value for role in who.roles)) or "none"
            raise Forbidden(
                f"{request.method} {request.url.path} needs the {needed} role; {who.user} has {have}",
                field="role",
                value=needed,
            )
        return who

    return dependency


def require_fresh(role: Role = Role.TECHNICIAN) -> Callable[..., Principal]:
    """A dependency for technician operations: the principal holds ``role`` and re-authenticated (``POST
    /auth/reauth``) within the last 5 minutes; a local-socket principal never can."""
    has_role = require_role(role)

    def dependency(request: Request, who: CurrentPrincipal) -> Principal:
        accounts = accounts_of(request)
        if who.via == "local":
            _deny(request, who, "needs a fresh re-authentication; local socket")
            raise Forbidden(
                f"{request.method} {request.url.path} needs a fresh re-authentication, which the local socket cannot "
                "give: sign in with your PIN (POST /auth/login) and re-authenticate (POST /auth/reauth)"
            )
        has_role(request, who)
        if not who.is_fresh(accounts.now()):
            _deny(request, who, "needs a fresh re-authentication")
            raise Forbidden(
                f"{request.method} {request.url.path} needs a fresh re-authentication: POST /auth/reauth with your PIN "
                f"(it lasts {span_text(accounts.limits.fresh)})",
                field="pin",
            )
        return who

    return dependency


def _deny(request: Request, who: Principal, why: str) -> None:
    """Enter a refused request in the audit trail; if that fails the request is refused all the same (a refusal
    changes nothing), and the service's log says so."""
    what = f"{request.method} {request.url.path}: {why}"
    try:
        accounts_of(request).audit(who.user, "forbidden", what, remote_address(request), "denied")
    except AccountsUnavailable as exc:
        log.error("the audit trail could not enter a refused request (%s by %s): %s", what, who.user, exc.message)


async def auth_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The app's handler for :class:`AuthError` (``app.add_exception_handler(AuthError, auth_error_handler)``): the
    spec's JSON error body, the error's status and its headers."""
    if not isinstance(exc, AuthError):  # registered for AuthError only; anything else is a bug to surface
        raise exc
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)
