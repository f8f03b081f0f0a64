"""Who a tablet page is for: the browser's signed-in session (its cookie; an unsafe request echoes the CSRF token,
as every browser request to the service must), and what every page's layout needs (the user, the gun, the live
stream, the CSRF token htmx sends back). A page nobody is signed in for sends the tablet to the sign-in page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mesogun_service.accounts import Principal, Role
from mesogun_service.accounts.auth import SESSION_COOKIE, Credential, principal
from mesogun_service.accounts.errors import Unauthenticated

SIGN_IN_PATH = "/tablet/sign-in"
HOME_PATH = "/tablet/guns"
GUN_COOKIE = "mesogun_gun"
"""The gun this tablet last picked (its serial number): the Emergency stop of a page without one stops that gun."""


class SignInRequired(Exception):
    """Nobody is signed in on this tablet (or the session expired): the page sends it to sign in, then back."""

    def __init__(self, back_to: str, *, ended: bool = False) -> None:
        super().__init__(back_to)
        self.back_to = back_to
        self.ended = ended
        """The tablet had a session that is no longer valid (expired, signed out): the sign-in page says so."""


class RoleRequired(Exception):
    """The signed-in user lacks the role this page needs (the page says which; nothing is changed)."""

    def __init__(self, who: Principal, role: Role) -> None:
        super().__init__(role.value)
        self.who = who
        self.role = role


async def page_user(request: Request, role: Role = Role.ASSISTANT) -> Principal:
    """The signed-in user of a page request holding ``role``: :func:`signed_in_user`, in a worker thread (it reads
    and touches the accounts store, which must never hold up the event loop that serves the safe commands)."""
    return await run_in_threadpool(signed_in_user, request, role)


def signed_in_user(request: Request, role: Role = Role.ASSISTANT) -> Principal:
    """The signed-in user of a page request holding ``role`` (admin implies every role); kept on the request for
    the record and the audit trail. :class:`SignInRequired` without a live session; an unsafe request without the
    CSRF token, or cross-site, is :class:`~mesogun_service.accounts.errors.Forbidden`."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired(_back_to(request))
    try:
        who = principal(request, Credential(token, "cookie"))
    except Unauthenticated:  # expired, revoked or unknown: said on the sign-in page, in the tablet's language
        raise SignInRequired(_back_to(request), ended=True) from None
    if not who.has(role):
        raise RoleRequired(who, role)
    request.state.principal = who
    return who


async def safe_command_user(request: Request) -> Principal | None:
    """Who asked for a safe command (disarm, stop), if a practitioner is signed in; ``None`` otherwise. Called
    *after* the gun was made safe: making it safe never waits for the accounts store and is never refused for a
    wrong reason (an expired session, a missing role or CSRF token, a store that cannot be read)."""
    try:
        return await page_user(request, Role.PRACTITIONER)
    except Exception:  # whatever went wrong, the gun is already safe: the tablet is sent to sign in
        return None


def _back_to(request: Request) -> str:
    """Where to come back after signing in: this page (a GET), else the page the form was on."""
    if request.method == "GET" and "hx-request" not in request.headers:
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    current = request.headers.get("hx-current-url", "")
    return current.split(request.url.netloc, 1)[-1] if current else HOME_PATH


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it swaps the reply into the page instead of loading a new one)."""
    return request.headers.get("hx-request") == "true"


def go_to(request: Request, path: str) -> Response:
    """Send the tablet to ``path``: an htmx request by ``HX-Redirect`` (htmx loads it), any other by a 303."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": path})
    return RedirectResponse(path, status_code=303)


def sign_in_url(back_to: str, *, ended: bool = False) -> str:
    """The sign-in page, coming back to ``back_to`` after (``ended``: saying the tablet's session has ended)."""
    query = [f"next={quote(back_to, safe='/')}"] if back_to and back_to != HOME_PATH else []
    if ended:
        query.append("ended=1")
    return f"{SIGN_IN_PATH}?{'&'.join(query)}" if query else SIGN_IN_PATH


def remember_gun(response: Response, serial: str) -> None:
    """Keep the gun this tablet works with (``GUN_COOKIE``): the pages about no gun name it in their top bar."""
    response.set_cookie(GUN_COOKIE, serial, max_age=365 * 24 * 3600, path="/", samesite="strict", httponly=True)


def layout(request: Request, who: Principal | None, *, gun: str | None = None, **extra: Any) -> dict[str, Any]:
    """What the layout (``base.html``) of every page needs: who is signed in, the CSRF token htmx echoes, the gun
    the page is about (else the tablet's last one, for the Emergency stop) and the page's own values."""
    serial = gun if gun is not None else request.cookies.get(GUN_COOKIE) or None
    return {
        "who": who,
        "csrf_token": who.csrf_token if who is not None and who.csrf_token else "",
        "gun": serial,
        "page_gun": gun,
        **extra,
    }
