"""A refusal of the core or the service said on a tablet page (:func:`say`): in the page's language
(:func:`mesogun.i18n.errors.refusal`, through the tablet's catalog, which holds the service's words and falls back to
the core's), its hint naming the page's button to press ("press Clear alarm") instead of the Python API's call."""

from __future__ import annotations

from typing import Final

from mesogun.errors import ActionRenderer, MesogunError
from mesogun.i18n.errors import refusal
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
