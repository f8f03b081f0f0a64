"""Signing in on the tablet with a user name and PIN (the accounts store's rules: argon2, five wrong PINs lock the
user out), signing out, and the tablet's language."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from mesogun_service.accounts.auth import SESSION_COOKIE, accounts_of, refuse_cross_site, remote_address
from mesogun_service.accounts.errors import AccountsUnavailable, AuthError, Forbidden, LockedOut, Unauthenticated
from mesogun_service.accounts.routes import clear_session_cookies, set_session_cookies
from mesogun_service.accounts.store import MAX_NAME, MAX_PIN
from mesogun_service.tablet.forms import FieldErrors, FormGuard
from mesogun_service.tablet.i18n import LANGUAGE_COOKIE, LANGUAGES, N_, gettext, language_of
from mesogun_service.tablet.page import HOME_PATH, SIGN_IN_PATH, go_to, layout
from mesogun_service.tablet.refusals import at_field
from mesogun_service.tablet.templating import render

router = APIRouter(prefix="/tablet", include_in_schema=False)

YEAR_S = 365 * 24 * 3600


def _safe_next(target: str) -> str:
    """Where to go after signing in: a path of the tablet's own (never another site: no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/tablet/") or target.startswith(SIGN_IN_PATH):
        return HOME_PATH
    return target


SESSION_ENDED = N_("Your session has ended (unused for too long, or signed out): sign in again.")
"""What the sign-in page says when a page sent the tablet to it because its session was no longer valid."""


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "", ended: str = "") -> Response:
    """The sign-in page (user name and PIN); ``ended``: saying why the tablet is asked to sign in again."""
    guard: FormGuard = request.app.state.tablet_forms
    errors = None
    if ended:
        errors = FieldErrors(language_of(request))
        errors.say_form(SESSION_ENDED)
    context: dict[str, Any] = {"errors": errors, "form_id": guard.new_id(), "next": _safe_next(next), "user": ""}
    return render(request, "sign_in.html", layout(request, None, **context))


@router.post("/sign-in")
def sign_in(
    request: Request,
    user: Annotated[str, Form(max_length=MAX_NAME)] = "",
    pin: Annotated[str, Form(max_length=MAX_PIN)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    form_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Sign in: the session's cookies and on to the page asked for; else the form again with the reason at the
    field (a wrong PIN, a lock-out and for how long), nothing changed but the failure's count."""
    errors = FieldErrors(language_of(request))
    if not user.strip():
        errors.say("user", N_("User: type your user name"))
    if not pin:
        errors.say("pin", N_("PIN: type your PIN"))
    if not errors:
        try:
            refuse_cross_site(request)
            new = accounts_of(request).authenticate(user.strip(), pin, remote_address(request))
        except LockedOut as exc:
            minutes = max(1, (exc.retry_after_s + 59) // 60)
            errors.say(
                "pin",
                N_("{user} is locked out after too many wrong PINs: try again in {minutes} min, or ask an admin."),
                user=user.strip(),
                minutes=minutes,
            )
        except Unauthenticated:
            errors.say("pin", N_("Wrong user name or PIN. After 5 wrong PINs in a row the user is locked out."))
        except AccountsUnavailable:
            errors.say_form(N_("Nobody can sign in now: the accounts store cannot be opened. Call the technician."))
        except Forbidden as exc:  # a disabled user, a cross-site request
            errors.add("user", at_field(errors.language, gettext(errors.language, N_("User")), exc))
        else:
            reply = go_to(request, _safe_next(next))
            set_session_cookies(request, reply, new)
            return reply
    guard: FormGuard = request.app.state.tablet_forms
    context: dict[str, Any] = {"errors": errors, "form_id": guard.new_id(), "next": _safe_next(next), "user": user}
    return render(request, "_sign_in_form.html", layout(request, None, **context), status_code=422)


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    """End this tablet's session (its cookies taken back) and show the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with contextlib.suppress(AuthError):  # an expired or revoked session: signed out all the same
            accounts_of(request).logout(token, remote_address(request))
    reply = go_to(request, SIGN_IN_PATH)
    clear_session_cookies(reply)
    return reply


@router.post("/language")
def choose_language(request: Request, language: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Keep this tablet's language (a cookie) and show the page it was on again."""
    parts = urlsplit(request.headers.get("referer", ""))
    back = parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else HOME_PATH
    reply = RedirectResponse(_safe_next(back) if parts.path != SIGN_IN_PATH else SIGN_IN_PATH, status_code=303)
    if language in LANGUAGES:
        reply.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR_S, path="/", samesite="strict")
    return reply
