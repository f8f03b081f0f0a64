"""A refusal of the core or the service said on a tablet page (:func:`say`): in the page's language
(:func:`mesogun.i18n.errors.refusal`, through the tablet's catalog, which holds the service's words and falls back to
the core's), its hint naming the page's button to press ("press Clear alarm") instead of the Python API's call.
The core's and the service's warnings and causes kept as text (a lot near its expiry, a gun's last failure) are said
the same way (:func:`notice`), and so are the request bodies' type refusals (:func:`invalid`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mesogun.errors import ActionRenderer, MesogunError
from mesogun.i18n.errors import refusal, said, text_in
from mesogun.wording import Wording
from mesogun_service.tablet.i18n import CATALOGUE, N_, gettext

BUTTONS: Final = {
    "load_syringe": N_("Load syringe"),
    "prime": N_("Prime"),
    "configure": N_("Apply settings"),
    "arm": N_("Arm"),
    "disarm": N_("Disarm"),
    "stop": N_("Stop"),
    "clear_alarm": N_("Clear alarm"),
    "emergency_stop": N_("Emergency stop"),
}
"""The actions a hint names (Gun method names) that are a button on the treatment page: its label."""

PHRASES: Final = {
    "fire": N_("press the handpiece's trigger"),
    "list_zones": N_("look at the zone map"),
    "override_soft_limit": N_("say why in the Reason field"),
}
"""The actions a hint names that are no button, as a person at the tablet is told them."""


def actions(language: str) -> ActionRenderer:
    """How the tablet tells a person, in ``language``, to take an action: the button to press ("press Prime"), or
    what to do; an action the tablet has no words for, by its name."""

    def action(name: str) -> str:
        if name in PHRASES:
            return gettext(language, PHRASES[name])
        if name in BUTTONS:
            return gettext(language, N_("press {button}")).format(button=gettext(language, BUTTONS[name]))
        return name.replace("_", " ")

    return action


def say(error: MesogunError, language: str) -> str:
    """``error`` as the tablet shows it in ``language`` (what the pages show instead of ``str(error)``)."""
    return refusal(error, language, actions(language), CATALOGUE)


def labelled(language: str, label: str, text: str) -> str:
    """``text`` said at a form field, after its ``label`` ("Profondeur (mm) : …", the language's punctuation)."""
    return gettext(language, N_("{label}: {refusal}")).format(label=label, refusal=text)


def at_field(language: str, label: str, error: MesogunError) -> str:
    """``error`` said at the form field ``label`` names (:func:`labelled`, :func:`say`)."""
    return labelled(language, label, say(error, language))


def notice(text: str, language: str) -> str:
    """A warning or a cause the core or the service gives as text (a lot near its expiry, a syringe brand without its
    calibration, a gun's last connection failure) in ``language``: from its wording when it keeps one
    (:class:`~mesogun.wording.Worded`), else as it is."""
    return text_in(language, text, CATALOGUE)


def worded(message: Wording, language: str) -> str:
    """A message of the tablet's own worded with the core's values (:class:`~mesogun.wording.AllOf`...) in
    ``language``."""
    return said(message, language, CATALOGUE)


INVALID: Final = {
    "missing": N_("a value is needed"),
    "string_too_short": N_("at least {min_length} characters"),
    "string_too_long": N_("at most {max_length} characters"),
    "too_long": N_("at most {max_length} answers"),
    "int_parsing": N_("a whole number is needed"),
    "int_from_float": N_("a whole number is needed"),
    "int_type": N_("a whole number is needed"),
    "float_parsing": N_("a number is needed"),
    "float_type": N_("a number is needed"),
    "finite_number": N_("a number is needed"),
    "string_type": N_("a text is needed"),
    "bool_parsing": N_("answer Yes or No"),
    "bool_type": N_("answer Yes or No"),
}
"""A request body's type refusals (pydantic's error types) as a person at the tablet is told them."""


def invalid(language: str, problem: Mapping[str, Any]) -> str:
    """One of a request body's type refusals (an item of pydantic's ``ValidationError.errors()``) in ``language``;
    a kind the tablet has no words for, as pydantic says it."""
    template = INVALID.get(str(problem.get("type", "")))
    if template is None:
        return str(problem.get("msg", ""))
    try:
        return gettext(language, template).format(**dict(problem.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):
        return str(problem.get("msg", ""))
