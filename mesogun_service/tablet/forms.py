"""Forms posted from a tablet page: a value read from a field or the field's error (named, with the value, the
limit and the unit, shown at the field), and the one-time form id that makes a form posted twice act once."""

from __future__ import annotations

import collections
import math
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from mesogun_service.tablet.i18n import N_, gettext

FORM_ID_FIELD: Final = "form_id"
"""The hidden field each acting form carries: a new one on every render."""

REMEMBERED_FORMS: Final = 10_000
"""Form ids used, kept to refuse a second post of the same form (older ones are forgotten first)."""


@dataclass
class FieldErrors:
    """Each field's error (its name in the form → the message shown under it), and a message for the whole form,
    in the page's ``language``."""

    language: str
    by_field: dict[str, str] = field(default_factory=dict)
    form: str | None = None

    def add(self, name: str, message: str) -> None:
        """Show ``message`` (already in the page's language, or the core's own words) at field ``name``; the first
        error of a field is kept."""
        self.by_field.setdefault(name, message)

    def say(self, name: str, message: str, **values: object) -> None:
        """Show the catalog's ``message`` (marked with ``N_``), translated, with ``values`` filled in, at ``name``."""
        self.add(name, gettext(self.language, message).format(**values))

    def say_form(self, message: str, **values: object) -> None:
        """Show the catalog's ``message`` for the whole form (above its button)."""
        self.form = gettext(self.language, message).format(**values)

    def __bool__(self) -> bool:
        return bool(self.by_field) or self.form is not None


def read_number(
    form: Mapping[str, str], name: str, errors: FieldErrors, *, label: str, required: bool = True
) -> float | None:
    """The number typed in field ``name`` (a decimal comma accepted), or ``None`` with the field's error said."""
    raw = form.get(name, "").strip().replace(",", ".")
    if not raw:
        if required:
            errors.say(name, N_("{label}: a value is needed"), label=label)
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.say(name, N_("{label}: “{value}” is not a number"), label=label, value=raw)
        return None
    if not math.isfinite(value):
        errors.say(name, N_("{label}: “{value}” is not a number"), label=label, value=raw)
        return None
    return value


class FormGuard:
    """Remembers the form ids already acted on, so the same form posted twice (a double tap, a resent request)
    acts once: the second post is refused and changes nothing."""

    def __init__(self, remembered: int = REMEMBERED_FORMS) -> None:
        self._used: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._remembered = remembered
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        """A fresh form id for a form being rendered."""
        return secrets.token_urlsafe(12)

    def claim(self, form_id: str) -> bool:
        """True the first time ``form_id`` is acted on, False for a form posted again (or without an id)."""
        if not form_id:
            return False
        with self._lock:
            if form_id in self._used:
                return False
            self._used[form_id] = None
            while len(self._used) > self._remembered:
                self._used.popitem(last=False)
            return True
