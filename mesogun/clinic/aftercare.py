"""The aftercare advice a patient is given after a treatment: the default list from the issue, in plain words,
each item an id and a text; a clinic may give its own list instead (:func:`advice`).

The aftercare sheet (:mod:`mesogun.reports`) prints these; the record keeps the lines given (``aftercare`` in
:class:`~mesogun.clinic.summary.SessionSummary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mesogun.clinic.errors import ClinicError
from mesogun.errors import ParameterError
from mesogun.i18n import N_
from mesogun.wording import Wording


@dataclass(frozen=True)
class AftercareItem:
    """One piece of advice: a stable id (for the record and a clinic's own list) and the text a patient reads."""

    id: str
    text: str


DEFAULT_ADVICE: tuple[AftercareItem, ...] = (
    AftercareItem("clean", "Keep the treated area clean and moisturised."),
    AftercareItem("spf", "Protect the treated area with sunscreen of SPF 30 or higher, even on cloudy days."),
    AftercareItem("no-make-up", "Do not put make-up on the treated area right after the treatment."),
    AftercareItem("hydrate", "Drink plenty of water to stay hydrated."),
    AftercareItem("sun-and-exercise", "For 24 to 48 hours, stay out of the sun and avoid strenuous activity."),
    AftercareItem(
        "postpone-procedures",
        "Postpone other cosmetic procedures on the treated area; ask us when you can have them.",
    ),
)
"""The advice the issue names (keep the area clean and moisturised, SPF 30+ even on cloudy days, no make-up
right after, stay hydrated, avoid sun and strenuous activity for 24–48 h, postpone other procedures)."""


def advice(custom: Iterable[AftercareItem | Mapping[str, str]] | None = None) -> tuple[AftercareItem, ...]:
    """The clinic's aftercare advice: ``custom`` if given (items, or mappings with ``id`` and ``text`` as read
    from a clinic's configuration file), else :data:`DEFAULT_ADVICE`.

    A custom list must hold at least one item, each with a non-blank id (unique in the list) and a non-blank
    text; otherwise :class:`~mesogun.errors.ParameterError` names the item and field.
    """
    if custom is None:
        return DEFAULT_ADVICE
    items: list[AftercareItem] = []
    seen: set[str] = set()
    for index, entry in enumerate(custom):
        item = _item(entry, index)
        if item.id in seen:
            raise ParameterError(
                f"aftercare[{index}].id={item.id!r} is given twice; each item needs its own id",
                field=f"aftercare[{index}].id",
                value=item.id,
            )
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ParameterError("aftercare is empty; give at least one item of advice", field="aftercare", value=[])
    return tuple(items)


def _item(entry: AftercareItem | Mapping[str, str], index: int) -> AftercareItem:
    if isinstance(entry, AftercareItem):
        id_, text = entry.id, entry.text
    else:
        id_, text = entry.get("id", ""), entry.get("text", "")
    for name, value in (("id", id_), ("text", text)):
        if not isinstance(value, str) or not value.strip():
            raise ParameterError(
                f"aftercare[{index}].{name}={value!r} must be a non-blank text",
                field=f"aftercare[{index}].{name}",
                value=value,
            )
    return AftercareItem(id_.strip(), text.strip())


LINE_MAX = 500
"""The longest advice line the record keeps, characters."""


def lines_given(lines: Iterable[str] | None = None) -> tuple[str, ...]:
    """The advice lines a session's record keeps: ``lines`` stripped of blanks (the default advice's texts if
    ``None``); refused (field ``aftercare``) if none is left, or one is longer than :data:`LINE_MAX` or not one
    line."""
    kept = (
        tuple(item.text for item in DEFAULT_ADVICE)
        if lines is None
        else tuple(line.strip() for line in lines if line.strip())
    )
    if not kept:
        raise ClinicError(Wording(N_("aftercare needs at least one line of advice")), field="aftercare", value=[])
    for line in kept:
        if len(line) > LINE_MAX or "\n" in line:
            raise ClinicError(
                Wording(
                    N_("an aftercare line is one line of at most {limit} characters (got {length})"),
                    limit=LINE_MAX,
                    length=len(line),
                ),
                field="aftercare",
                value=line[:40],
            )
    return kept
