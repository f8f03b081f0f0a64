"""The pre-treatment checklist: contraindications a practitioner checks before a session, each answered.

Every item must be answered (present or not); an answer left out is refused naming the item. A contraindication
answered present refuses the session's start unless it is overridden with a reason, which the record keeps. The
default items are the issue's (pregnancy, clotting, infection, eczema or psoriasis, allergy, retinol or alcohol);
a clinic replaces the list with its own from a TOML file (:func:`load`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mesogun.clinic.errors import ChecklistIncomplete, ContraindicationPresent, ReasonRequired
from mesogun.i18n import N_
from mesogun.wording import Word, Wording, shown

ITEM_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
"""What an item id is made of (it names a field: ``checklist.<id>``)."""


@dataclass(frozen=True)
class ChecklistItem:
    """One contraindication to check: a stable id (stored with the answer) and the question asked."""

    id: str
    question: str


DEFAULT_ITEMS: tuple[ChecklistItem, ...] = (
    ChecklistItem("pregnancy", "Pregnant or breastfeeding?"),
    ChecklistItem("clotting", "A clotting disorder, or taking anticoagulants (e.g. aspirin)?"),
    ChecklistItem("skin_infection", "An active skin infection in the area?"),
    ChecklistItem("eczema_psoriasis", "Eczema or psoriasis in the area?"),
    ChecklistItem("allergy", "A known allergy to an ingredient of the product?"),
    ChecklistItem("retinol_alcohol", "Retinol or alcohol recently (within 48 h)?"),
)
"""The contraindications checked unless the clinic configures its own."""


@dataclass(frozen=True)
class Answer:
    """How one item was answered."""

    item: str
    question: str
    present: bool
    """True: the contraindication is present (answered "yes")."""
    note: str = ""


@dataclass(frozen=True)
class CheckedList:
    """A completed checklist: every item's answer, the contraindications present, and the override's reason
    (``None`` when none was present)."""

    answers: tuple[Answer, ...]
    present: tuple[str, ...]
    override_reason: str | None


AnswerGiven = bool | tuple[bool, str]
"""An answer as a caller gives it: present or not, optionally with a note (``(True, "stopped aspirin 10 d ago")``)."""


def check(
    answers: Mapping[str, AnswerGiven],
    *,
    items: Iterable[ChecklistItem] = DEFAULT_ITEMS,
    override_reason: str | None = None,
) -> CheckedList:
    """Check ``answers`` (item id → present, or (present, note)) against ``items``.

    Refused, naming the item (field ``checklist.<id>``): an item not answered, an answer to an item the list does
    not have (:class:`ChecklistIncomplete`), a contraindication present without an override
    (:class:`ContraindicationPresent`), an override whose reason is blank (:class:`ReasonRequired`).
    """
    items = tuple(items)
    known = {item.id for item in items}
    for given in answers:
        if given not in known:
            raise ChecklistIncomplete(
                Wording(
                    N_("checklist item {item} is not on the checklist (its items: {items})"),
                    item=repr(given),
                    items=", ".join(sorted(known)),
                ),
                field=f"checklist.{given}",
                value=answers[given],
            )
    checked: list[Answer] = []
    for item in items:
        if item.id not in answers:
            raise ChecklistIncomplete(
                Wording(
                    N_("checklist item {item} ({question}) is not answered: every item needs an answer"),
                    item=item.id,
                    question=_question(item.question),
                ),
                field=f"checklist.{item.id}",
                value=None,
            )
        answer = answers[item.id]
        present, note = answer if isinstance(answer, tuple) else (answer, "")
        if not isinstance(present, bool):
            raise ChecklistIncomplete(
                Wording(
                    N_("checklist item {item}: the answer must be yes or no (true/false), not {answer}"),
                    item=item.id,
                    answer=shown(present),
                ),
                field=f"checklist.{item.id}",
                value=present,
            )
        checked.append(Answer(item.id, item.question, present, note.strip()))
    present_ids = tuple(a.item for a in checked if a.present)
    reason = override_reason.strip() if override_reason is not None else None
    if present_ids and reason is None:
        first = next(a for a in checked if a.present)
        raise ContraindicationPresent(
            Wording(
                N_(
                    "contraindication present: {items} ({question} answered yes); the session starts only with an "
                    "override and its reason"
                ),
                items=", ".join(present_ids),
                question=_question(first.question),
            ),
            field=f"checklist.{first.item}",
            value=True,
        )
    if present_ids and not reason:
        raise ReasonRequired(
            Wording(
                N_("overriding the contraindication {items} needs a reason (it is kept in the record)"),
                items=", ".join(present_ids),
            ),
            field="override_reason",
            value=override_reason,
        )
    return CheckedList(tuple(checked), present_ids, reason if present_ids else None)


def _question(question: str) -> Word:
    """A checklist question in a message: quoted as Python quotes it in English, translated (a clinic's own as it
    is) in another language."""
    return Word(repr(question), question)


def load(path: Path) -> tuple[ChecklistItem, ...]:
    """A clinic's checklist from a TOML file: ``[[item]]`` tables with ``id`` and ``question``, in order.
    A malformed file is a :class:`ChecklistIncomplete` naming the file and what is wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ChecklistIncomplete(f"checklist file {path}: {exc}", field="checklist", value=str(path)) from None
    return parse(document.get("item"), source=str(path))


def parse(entries: object, *, source: str = "checklist") -> tuple[ChecklistItem, ...]:
    """Checklist items from a list of ``{"id": …, "question": …}`` mappings (a TOML file's ``[[item]]``)."""
    if not isinstance(entries, list) or not entries:
        raise ChecklistIncomplete(f"{source}: no [[item]] tables (each with id and question)", field="checklist")
    items: list[ChecklistItem] = []
    for n, entry in enumerate(entries, start=1):
        item_id = entry.get("id") if isinstance(entry, dict) else None
        question = entry.get("question") if isinstance(entry, dict) else None
        if not isinstance(item_id, str) or not item_id or not set(item_id) <= ITEM_ID_CHARS:
            raise ChecklistIncomplete(
                f"{source}: item {n} needs an id of lower-case letters, digits and _ (got {item_id!r})",
                field="checklist.id",
                value=item_id,
            )
        if not isinstance(question, str) or not question.strip():
            raise ChecklistIncomplete(
                f"{source}: item {item_id} needs a question", field=f"checklist.{item_id}", value=question
            )
        if any(i.id == item_id for i in items):
            raise ChecklistIncomplete(
                f"{source}: item {item_id} is listed twice", field=f"checklist.{item_id}", value=item_id
            )
        items.append(ChecklistItem(item_id, question.strip()))
    return tuple(items)
