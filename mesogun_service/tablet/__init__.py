"""The practitioners' tablet app (docs/tablet.md): server-rendered pages (Jinja2, one message catalog in English
and French) with a pinned, vendored htmx 2 and its SSE extension, served by the gun service itself under
``/tablet`` (no separate install, no build step, no CDN). It sits on top of the service's API modules and the
``mesogun`` core; nothing below imports it.

:func:`install` adds its routes, static files and error pages to the service's app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mesogun.errors import MesogunError
from mesogun.i18n import formats
from mesogun_service.accounts import Role
from mesogun_service.accounts.auth import CSRF_HEADER, auth_error_handler
from mesogun_service.accounts.errors import AuthError, Forbidden
from mesogun_service.api.replies import on_mesogun_error
from mesogun_service.errors import http_status
from mesogun_service.tablet import (
    close,
    guns,
    live,
    refusals,
    safety,
    setup,
    signin,
    treat,
    treat_controls,
    treat_forms,
)
from mesogun_service.tablet.forms import FormGuard
from mesogun_service.tablet.i18n import LANGUAGES, N_, gettext, language_of, translations
from mesogun_service.tablet.page import HOME_PATH, RoleRequired, SignInRequired, go_to, is_htmx, layout, sign_in_url
from mesogun_service.tablet.templating import NO_STORE, STATIC_PREFIX, render

ExceptionHandler = Callable[[Request, Exception], Awaitable[Any]]

STATIC = __path__[0] + "/static"

ROLE_NAMES = {
    Role.ASSISTANT: N_("assistant"),
    Role.PRACTITIONER: N_("practitioner"),
    Role.TECHNICIAN: N_("technician"),
    Role.ADMIN: N_("admin"),
}
"""Each role as the tablet names it."""

PAGE_CHECKS = frozenset({CSRF_HEADER, "Origin", "Sec-Fetch-Site"})
"""The fields of a :class:`Forbidden` that refuses the page itself (its CSRF token out of date, another site's
form), not who is asking: the tablet says to reload the page instead of naming headers."""

STALE_PAGE = N_(
    "This page is out of date for this sign-in (signed in again since, or sent from another site): reload the page, "
    "then try again. Nothing was done."
)

ROUTERS = (
    safety.router,
    signin.router,
    live.router,
    guns.router,
    setup.router,
    treat.router,
    treat_controls.router,
    treat_forms.router,
    close.router,
)
"""The tablet's routers; each page module adds its own here."""


def install(app: FastAPI) -> None:
    """Serve the tablet on ``app``: ``/`` and ``/tablet/`` lead to it, its pages and static files under
    ``/tablet``."""
    app.state.tablet_forms = FormGuard()
    app.state.tablet_feeds = {}
    for language in LANGUAGES:  # the catalogs and Babel's locale data read now, not by a page on the event loop
        translations(language)
        formats.decimal(language, 0.5, 1)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="tablet-static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(RoleRequired, _role_required)
    app.add_exception_handler(AuthError, _on_tablet(auth_error_handler))
    app.add_exception_handler(MesogunError, _on_tablet(on_mesogun_error))

    @app.get("/", include_in_schema=False)
    @app.get("/tablet", include_in_schema=False)
    @app.get("/tablet/", include_in_schema=False)
    async def tablet_home() -> RedirectResponse:
        """The tablet starts at the list of guns (or its sign-in page)."""
        return RedirectResponse(HOME_PATH, status_code=303)


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    """A page nobody is signed in for: the sign-in page, then back to it."""
    assert isinstance(exc, SignInRequired)
    return go_to(request, sign_in_url(exc.back_to, ended=exc.ended))


async def _role_required(request: Request, exc: Exception) -> Response:
    """A page the signed-in user's role does not allow: said on the page, nothing changed."""
    assert isinstance(exc, RoleRequired)
    language = language_of(request)
    message = gettext(language, N_("{user} may not do this: it needs the {role} role.")).format(
        user=exc.who.user, role=gettext(language, ROLE_NAMES[exc.role])
    )
    heading = gettext(language, N_("Not allowed"))
    return _refusal(request, exc.who, heading, message, 403)


def _refusal(request: Request, who: Any, heading: str, message: str, status: int) -> Response:
    """A refusal said on the tablet: a page of its own, or, for a request htmx made from a page, the message in
    that page's message area (never a whole page, with a second Emergency stop, swapped into a form)."""
    if is_htmx(request):
        html = f'<p class="form-error" role="alert"><strong>{escape(heading)}</strong> {escape(message)}</p>'
        swap = {"HX-Retarget": "#page-message", "HX-Reswap": "innerHTML"}
        return HTMLResponse(html, status_code=status, headers={**NO_STORE, **swap})
    context = layout(request, who, heading=heading, message=message, back=HOME_PATH)
    return render(request, "message.html", context, status_code=status)


def _on_tablet(api_handler: Callable[[Request, Exception], Awaitable[Response]]) -> ExceptionHandler:
    """An error handler that answers a tablet page with a page saying the error (never a JSON body or a
    traceback) and any other route as ``api_handler`` does."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/tablet"):
            return await api_handler(request, exc)
        assert isinstance(exc, MesogunError)
        language = language_of(request)
        status = exc.status if isinstance(exc, AuthError) else http_status(exc)
        heading = gettext(language, N_("Not done"))
        if isinstance(exc, Forbidden) and exc.field in PAGE_CHECKS:
            message = gettext(language, STALE_PAGE)
        else:
            message = refusals.say(exc, language)
        return _refusal(request, getattr(request.state, "principal", None), heading, message, status)

    return handler
