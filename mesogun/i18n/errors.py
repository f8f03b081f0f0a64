"""A refusal of the core said in a language (:func:`refusal`): the message its raise site worded for the catalog
(:class:`~mesogun.wording.Wording`) translated with its values said that language's way (a decimal comma in
French, a state's name translated), a device's refusal (:class:`~mesogun.errors.DeviceRefused`) worded per nak code,
and the hint with each action in the audience's words (the tablet names its buttons). An error worded in English only
reads in English, its hint translated.

In English a worded message reads exactly as ``str(error)`` does (the API's and the CLI's words); only a device's
refusal is worded anew, for a person rather than a program.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from firmware_protocol import NakCode
from mesogun.errors import ActionRenderer, DeviceRefused, Hint, IncompatibleDevice, MesogunError, as_call
from mesogun.i18n import CORE, DEFAULT_LANGUAGE, N_, Catalogue, checked_language, formats
from mesogun.wording import AllOf, AnyOf, Clauses, Number, Quoted, Word, Worded, Wording

__all__ = ["NAK_REASONS", "hint_in", "refusal", "said", "text_in"]

NAK_REASONS: Final[Mapping[NakCode, tuple[str, Hint | None]]] = {
    NakCode.UNKNOWN_TYPE: (N_("it does not know this command (its firmware may be older than this host)"), None),
    NakCode.BAD_PAYLOAD: (N_("it could not read the command"), None),
    NakCode.OUT_OF_RANGE: (N_("a value is outside its limits"), None),
    NakCode.WRONG_STATE: (N_("its state does not allow this now"), None),
    NakCode.BUSY: (N_("it is busy priming or moving its needle stop: try again once it has finished"), None),
    NakCode.INCOMPATIBLE_VERSION: (N_("it speaks another protocol version than this host"), None),
    NakCode.NO_SYRINGE: (N_("no syringe is loaded"), Hint(N_("{0} first"), ("load_syringe",))),
    NakCode.NOT_PRIMED: (N_("the line is not primed"), Hint(N_("{0} first"), ("prime",))),
    NakCode.ALARM_ACTIVE: (
        N_("an alarm or the emergency stop is latched"),
        Hint(N_("{0} once the cause is removed"), ("clear_alarm",)),
    ),
    NakCode.INSUFFICIENT_VOLUME: (
        N_("the syringe holds less than this needs"),
        Hint(N_("load a fuller syringe: {0}"), ("load_syringe",)),
    ),
    NakCode.REMOTE_FIRE_DISABLED: (N_("it fires from its trigger and pedal only"), None),
}
"""Why the device refused, per nak code, as a person is told it, and what to do then."""

REFUSED: Final = N_("The gun refused: {reason}")
"""A device's refusal without its own detail."""

QUOTED: Final = N_("“{text}”")
"""Another party's words (:class:`~mesogun.wording.Quoted`) in a language other than English: its quotation marks."""

CLAUSE_SEPARATOR: Final = N_("; ")
"""Between the parts of a message (:class:`~mesogun.wording.Clauses`): French puts a space before the semicolon."""


def refusal(error: MesogunError, language: str, action: ActionRenderer = as_call, catalogue: Catalogue = CORE) -> str:
    """``error`` said in ``language``: its message (:func:`said`), then its hint in brackets with each action
    rendered by ``action`` (the API's ``call clear_alarm()`` by default; the tablet's "press Clear alarm"), the
    words looked up in ``catalogue`` (the core's; the tablet's, which holds the service's words, falls back to it)."""
    language = checked_language(language)
    message, hint = _worded(error, language, catalogue)
    if hint is None:
        return message
    rendered = hint_in(language, hint, action, catalogue)
    return f"{message} ({rendered})" if message else rendered


def said(message: Wording, language: str, catalogue: Catalogue = CORE) -> str:
    """``message`` in ``language``: its template translated (as it is if the catalog lacks it), each value said
    that language's way. A translation that does not fit its values (a field it misnames) gives the English."""
    values = {name: _value(value, language, catalogue) for name, value in message.values.items()}
    try:
        return catalogue.gettext(language, message.template).format(**values)
    except (KeyError, IndexError, ValueError):
        return message.template.format(**values)


def text_in(language: str, text: str, catalogue: Catalogue = CORE) -> str:
    """``text`` in ``language``: a :class:`~mesogun.wording.Worded` text (a warning, a gun's last failure) said from its
    wording (:func:`said`), any other text as it is (English only, or a person's own words)."""
    if isinstance(text, Worded):
        return said(text.wording, checked_language(language), catalogue)
    return text


def hint_in(language: str, hint: Hint, action: ActionRenderer = as_call, catalogue: Catalogue = CORE) -> str:
    """``hint`` in ``language``, each of its actions rendered by ``action``."""
    actions = [action(name) for name in hint.actions]
    try:
        return catalogue.gettext(language, hint.text).format(*actions)
    except (KeyError, IndexError, ValueError):
        return hint.text.format(*actions)


def _worded(error: MesogunError, language: str, catalogue: Catalogue) -> tuple[str, Hint | None]:
    """The message of ``error`` in ``language`` and the hint to give with it."""
    if isinstance(error, DeviceRefused) and not isinstance(error, IncompatibleDevice):
        known = NAK_REASONS.get(error.nak_code) if error.nak_code is not None else None
        if known is not None:
            reason, hint = known
            template = N_("The gun refused: {reason} — the device says “{detail}”") if error.detail else REFUSED
            worded = Wording(template, reason=Word.own(reason), detail=error.detail)
            return said(worded, language, catalogue), hint
    wording = error.wording
    if wording is not None:
        return said(wording, language, catalogue), error.hint
    return (str(error.args[0]) if error.args else ""), error.hint


def _value(value: object, language: str, catalogue: Catalogue) -> object:
    """One value of a message as ``language`` says it."""
    if isinstance(value, Wording):
        return said(value, language, catalogue)
    if isinstance(value, Number):
        return formats.in_language(language, str(value))
    if isinstance(value, Word):
        english = language == DEFAULT_LANGUAGE or not value.word
        return value.shown if english else catalogue.gettext(language, value.word)
    if isinstance(value, Worded):
        return said(value.wording, language, catalogue)
    if language == DEFAULT_LANGUAGE:
        return str(value) if isinstance(value, AnyOf | AllOf | Clauses | Quoted) else value
    if isinstance(value, AnyOf | AllOf):
        from babel.lists import format_list

        items = value.words if isinstance(value, AnyOf) else value.items
        words = [str(_value(item, language, catalogue)) for item in items]
        return format_list(words, style="or" if isinstance(value, AnyOf) else "standard", locale=language)
    if isinstance(value, Clauses):
        separator = catalogue.gettext(language, CLAUSE_SEPARATOR)
        return separator.join(str(_value(item, language, catalogue)) for item in value.items)
    if isinstance(value, Quoted):
        return catalogue.gettext(language, QUOTED).format(text=value.text)
    return value
