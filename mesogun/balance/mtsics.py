"""MT-SICS, the subset this driver speaks, as pure functions: replies read into values, no I/O.

A reply line is ``<command> <status> [fields]``: ``S S      100.00 g`` (stable), ``S D  …`` (dynamic),
``S I`` (not executed), ``S +``/``S -`` (over/underload), ``Z A`` (zeroed), ``T S  10.00000 g`` (tare),
``I2 A "XPR205 Excellence 220.00000 g"`` (model, type, capacity), ``I3 A "2.40.1"`` (software),
``I4 A "B900000001"`` (serial number, also the answer to ``@``); or the error ``ES``/``ET``/``EL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
"""A double-quoted text (its quotes dropped) or a run of non-blanks."""

UNITS_G = {"g": 1.0, "mg": 0.001, "kg": 1000.0}
"""Weight units this driver converts to grams (a balance's host unit should be g)."""


@dataclass(frozen=True)
class Reading:
    """One weight from the balance, in grams, and whether the balance called it stable."""

    grams: float
    stable: bool


@dataclass(frozen=True)
class BalanceIdentity:
    """Who the balance is: model (``I2``), serial number (``I4``), software version (``I3``), and its readability
    and capacity in grams (the model's table entry, else the decimals and value of ``I2``'s capacity)."""

    model: str
    serial_number: str
    firmware: str
    readability_g: float
    capacity_g: float


@dataclass(frozen=True)
class ModelSpec:
    """What the data sheet says of a model: readability and capacity, in grams."""

    readability_g: float
    capacity_g: float


MODELS: dict[str, ModelSpec] = {
    "XPR205": ModelSpec(0.00001, 220.0),  # Mettler-Toledo XPR semi-micro: 0.01 mg, 220 g
    "XS204": ModelSpec(0.0001, 220.0),  # Mettler-Toledo XS analytical: 0.1 mg, 220 g
}
"""Models whose readability ``I2`` does not show plainly; any other model's comes from ``I2``'s capacity."""


@dataclass(frozen=True)
class Reply:
    """One reply line split: ``command`` (``S``, ``Z``, ``I2``, or ``ES``/``ET``/``EL``), ``status`` (``S``, ``D``,
    ``I``, ``+``, ``-``, ``A``, or ``""`` for an error) and the rest (``("100.00", "g")``, a quoted text unquoted)."""

    command: str
    status: str
    fields: tuple[str, ...]
    line: str

    @property
    def is_error(self) -> bool:
        """``ES``, ``ET`` or ``EL``: the balance refused the command line itself."""
        return self.command in ("ES", "ET", "EL") and not self.status


def parse_reply(line: str) -> Reply:
    """Split a reply line; ``ValueError`` if it has no status (other than ``ES``/``ET``/``EL``) or bad quoting."""
    text = line.strip()
    if text.count('"') % 2:
        raise ValueError(f"unbalanced quotes in {text!r}")
    tokens = [quoted if quoted or not bare else bare for quoted, bare in _TOKEN.findall(text)]
    if not tokens:
        raise ValueError("an empty line")
    if len(tokens) == 1:
        if tokens[0] in ("ES", "ET", "EL"):
            return Reply(tokens[0], "", (), text)
        raise ValueError(f"{text!r} has no status")
    return Reply(tokens[0], tokens[1], tuple(tokens[2:]), text)


def weight_g(reply: Reply) -> float:
    """The weight a ``S S``/``S D``/``T S`` reply carries, in grams; ``ValueError`` if there is none or its unit is
    not one of :data:`UNITS_G`."""
    if len(reply.fields) < 2:
        raise ValueError(f"{reply.line!r} carries no weight and unit")
    *value_parts, unit = reply.fields
    value_text = "".join(value_parts)  # some balances put a space between the sign and the digits
    try:
        value = float(Decimal(value_text))
    except InvalidOperation as exc:
        raise ValueError(f"{reply.line!r}: {value_text!r} is not a number") from exc
    factor = UNITS_G.get(unit)
    if factor is None:
        raise ValueError(f"{reply.line!r}: unit {unit!r} is not g (set the balance's host unit to g)")
    return value * factor


def quoted_text(reply: Reply) -> str:
    """The text of an ``I2 A "…"``-style reply (its fields joined)."""
    if reply.status != "A" or not reply.fields:
        raise ValueError(f"{reply.line!r} is not an identity answer")
    return " ".join(reply.fields)


def identity_from(i2: str, firmware: str, serial_number: str) -> BalanceIdentity:
    """The identity from ``I2``'s text (``XPR205 Excellence 220.00000 g``), ``I3``'s and ``I4``'s; readability and
    capacity from :data:`MODELS` when the model is there, else from ``I2``'s capacity (its decimals are the
    display's: ``220.00000 g`` reads to 0.00001 g). ``ValueError`` if ``I2`` carries no capacity and unit."""
    words = i2.split()
    if len(words) < 3:
        raise ValueError(f"I2 text {i2!r} is not '<model> [type] <capacity> <unit>'")
    model, capacity_text, unit = words[0], words[-2], words[-1]
    factor = UNITS_G.get(unit)
    try:
        capacity_dec = Decimal(capacity_text)
    except InvalidOperation as exc:
        raise ValueError(f"I2 text {i2!r}: capacity {capacity_text!r} is not a number") from exc
    if factor is None:
        raise ValueError(f"I2 text {i2!r}: unit {unit!r} is not g, mg or kg")
    spec = MODELS.get(model)
    if spec is None:
        exponent = capacity_dec.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        spec = ModelSpec(float(Decimal(1).scaleb(-decimals)) * factor, float(capacity_dec) * factor)
    return BalanceIdentity(model, serial_number, firmware, spec.readability_g, spec.capacity_g)
