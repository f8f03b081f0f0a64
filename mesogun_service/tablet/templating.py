"""The tablet's pages: Jinja2 templates (autoescaped, shipped as package data) rendered in the request's language
through the one message catalog (``{% trans %}``, ``_()``), into HTML responses that are never cached. ``_()``
fills a message's ``{name}`` fields as ``str.format`` does (``_('Session {id}', id=7)``, each value escaped), the
same way as the messages Python code fills (:meth:`.forms.FieldErrors.say`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mesogun.i18n import formats
from mesogun_service.tablet.i18n import LANGUAGE_NAMES, LANGUAGES, language_of, translations

TEMPLATES: Final = Path(__file__).with_name("templates")
STATIC_PREFIX: Final = "/tablet/static"

NO_STORE: Final = {"Cache-Control": "no-store"}
"""Pages hold patients' details and the gun's live state: a browser keeps no copy of them."""


@functools.cache
def environment(language: str) -> jinja2.Environment:
    """The templates in ``language`` (one environment per language: its catalog installed once, shared by every
    request in that language)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(("html", "svg")),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = translations(language)

    def gettext(message: str, **values: Any) -> Markup:
        """``_('Session {id}', id=7)``: the message translated and escaped (a message may be data: a clinic's own
        checklist question), then, when values are given, its ``{name}`` fields filled in, each escaped."""
        translated = Markup(escape(catalog.gettext(message)))
        return translated.format(**values) if values else translated

    def ngettext(singular: str, plural: str, num: int, **values: Any) -> Markup:
        return Markup(escape(catalog.ngettext(singular, plural, num))).format(num=num, **values)

    env.install_gettext_callables(gettext, ngettext)  # type: ignore[attr-defined]
    env.globals.update(language=language, languages=LANGUAGES, language_names=LANGUAGE_NAMES, static=static_url)
    env.filters["number"] = functools.partial(number, language)
    return env


def static_url(name: str) -> str:
    """The URL of a static asset (``tablet.css``)."""
    return f"{STATIC_PREFIX}/{name}"


def number(language: str, value: float | int | None, places: int = 0) -> str:
    """``value`` with ``places`` decimals in ``language``'s way (:func:`mesogun.i18n.formats.decimal`: French
    writes a decimal comma); ``—`` for none."""
    return "—" if value is None else formats.decimal(language, value, places)


def render_text(request: Request, template: str, context: Mapping[str, Any]) -> str:
    """``template`` rendered in the request's language with ``context``."""
    return environment(language_of(request)).get_template(template).render({"request": request, **context})


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """An HTML response of ``template`` in the request's language; never stored by the browser."""
    body = render_text(request, template, context or {})
    return HTMLResponse(body, status_code=status_code, headers={**NO_STORE, **(headers or {})})
