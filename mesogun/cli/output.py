"""Printing for the CLI: JSON for machines (``--json``), aligned text for people."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

from mesogun.json_forms import plain


def emit_json(value: Any) -> None:
    """One JSON document on one line of stdout."""
    click.echo(json.dumps(plain(value)))


def emit_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as aligned text columns with a header line."""
    cells = [[_text(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def emit_fields(values: Mapping[str, Any]) -> None:
    """``name: value`` lines, names aligned."""
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        click.echo(f"{key.ljust(width)}  {_text(value)}")


def _text(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
