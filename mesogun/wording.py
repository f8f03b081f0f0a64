"""A message worded once for every language: a catalog template with named fields (:class:`Wording`) and the kinds
of value it holds (:class:`Number`, :class:`Word`, :class:`AnyOf`, :class:`AllOf`, :class:`Clauses`,
:class:`Quoted`). ``str()`` is the English the API and the CLI show; :mod:`mesogun.i18n.errors` says it in another
language. An error's message (:class:`~mesogun.errors.MesogunError`), a warning or a gun's last failure kept as text
(:class:`Worded`) are worded this way. Pure: no catalog is read here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Number:
    """A number in a :class:`Wording`: in English as ``spec`` formats it (``".2f"``, ``"g"``; none: as Python writes
    it, ``4.05``), in French with a decimal comma."""

    value: float
    spec: str = ""

    def __str__(self) -> str:
        if self.spec:
            return format(self.value, self.spec)
        return repr(self.value) if isinstance(self.value, float) else str(self.value)


@dataclass(frozen=True)
class Word:
    """A word in a :class:`Wording` that the catalog translates: ``shown`` in the English message (the API's name,
    ``load_syringe``), ``word`` (marked with ``N_`` where it is defined; ``shown`` if empty) in another language."""

    shown: str
    word: str = ""

    def __str__(self) -> str:
        return self.shown

    @classmethod
    def own(cls, words: str) -> Word:
        """Words of the raise site's own (marked with ``N_``): the English message's and the catalog's alike."""
        return cls(words, words)


@dataclass(frozen=True)
class AnyOf:
    """Words in a :class:`Wording` of which one is meant: "ready or armed" (in French "prêt ou armé")."""

    words: tuple[Word, ...]

    def __str__(self) -> str:
        return " or ".join(str(word) for word in self.words)


@dataclass(frozen=True, init=False)
class Wording:
    """An error's message worded once: a catalog ``template`` (marked with ``N_`` at the raise site) with named
    fields and their ``values``. ``str()`` fills it in English, exactly as the API and the CLI say it; in another
    language (:func:`mesogun.i18n.errors.refusal`) the template is translated and each value said that language's
    way: a :class:`Number` with its decimal comma, a :class:`Word` translated, a nested message translated too.

    Example: ``Wording(N_("{field}={value} is outside {low}–{high} mL"), field="fill_ml", value=Number(7.5),
    low=Number(0, "g"), high=Number(5, "g"))`` reads "fill_ml=7.5 is outside 0–5 mL", and in French
    "fill_ml=7,5 est hors de 0–5 mL".
    """

    template: str
    values: Mapping[str, object]

    def __init__(self, template: str, /, **values: object) -> None:
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "values", values)

    def __str__(self) -> str:
        return self.template.format(**self.values)

    def __hash__(self) -> int:  # its values may be unhashable; equal wordings have the same template and fields
        return hash((self.template, tuple(self.values)))


@dataclass(frozen=True)
class AllOf:
    """Values of a :class:`Wording` that all hold: "depth and rate" (in French "profondeur et cadence")."""

    items: tuple[object, ...]

    def __str__(self) -> str:
        return " and ".join(str(item) for item in self.items)


@dataclass(frozen=True)
class Clauses:
    """Parts of a :class:`Wording` said one after the other: "a; b" (in French "a ; b")."""

    items: tuple[object, ...]

    def __str__(self) -> str:
        return "; ".join(str(item) for item in self.items)


@dataclass(frozen=True)
class Quoted:
    """Another party's words in a :class:`Wording` (the operating system's, a database driver's), kept as given: as
    they are in English, between the language's quotation marks in another (« disk I/O error »)."""

    text: str

    def __str__(self) -> str:
        return self.text


class Worded(str):
    """Text in English (a ``str``: the API, the CLI and JSON show it as before) that keeps the :class:`Wording` it
    was filled from, so a page says it in its own language (:func:`mesogun.i18n.errors.text_in`): a warning (a lot
    near its expiry, a syringe brand without its calibration), or a gun's last connection failure."""

    wording: Wording

    def __new__(cls, wording: Wording) -> Worded:
        text = super().__new__(cls, str(wording))
        text.wording = wording
        return text

    def __reduce__(self) -> tuple[type[Worded], tuple[Wording]]:
        return (Worded, (self.wording,))


def shown(value: object) -> object:
    """``value`` as a message echoes what was given (``{value!r}``): a number as a :class:`Number`, else its repr."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Number(value)
    return repr(value)
