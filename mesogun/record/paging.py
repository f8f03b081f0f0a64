"""One keyset pager for the audit code: a query's rows in key order, a page per short read (a log or table of
millions of rows is never loaded whole, and no read holds a snapshot long enough to hold up writers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_

Rows = Callable[[Select[Any]], Sequence[Any]]
"""How a page is read: one read-only query in, its rows out (``TreatmentRecord.rows``, or another database's)."""


def keyset(rows: Rows, query: Select[Any], keys: Sequence[ColumnElement[Any]], size: int) -> Iterator[Any]:
    """``query``'s rows ordered by ``keys`` (its first selected columns, unique together), ``size`` per read; each
    next read starts after the last row's key."""
    ordered = query.order_by(*keys).limit(size)
    last: tuple[Any, ...] | None = None
    while True:
        batch = rows(ordered if last is None else ordered.where(after(keys, last)))
        yield from batch
        if len(batch) < size:
            return
        last = tuple(batch[-1][: len(keys)])


def after(keys: Sequence[ColumnElement[Any]], last: Sequence[Any]) -> ColumnElement[bool]:
    """Rows whose key sorts after ``last`` (a composite key compared column by column, on every dialect)."""
    first, rest = keys[0], keys[1:]
    later: ColumnElement[bool] = first > last[0]
    return later if not rest else or_(later, and_(first == last[0], after(rest, last[1:])))
