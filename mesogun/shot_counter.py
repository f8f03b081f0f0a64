"""The device's lifetime shot counter is a ``u32`` that wraps at 2**32; the host counts on past the wrap.

A device reports ``shot_index`` and ``status.shots_lifetime`` modulo 2**32 (docs/protocol.md, section 7,
"Counter wrap-around"). The host *unwraps* every index it receives into an unbounded lifetime number - the
one nearest to an index it already knows (within 2**31 either way) - so ordering, gaps and ranges stay
plain integer arithmetic in the session and the record; it sends indices back to the device modulo 2**32.
Unwrapping an index already unwrapped near the same reference gives it back unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_protocol import views

WRAP = 1 << 32
"""The lifetime counter's modulus: after 2**32 - 1 the device's counter reads 0."""
_HALF = WRAP >> 1


def unwrap(index: int, near: int | None) -> int:
    """The lifetime number whose wire value is ``index`` (mod 2**32) nearest to ``near`` (``None``: as is)."""
    if near is None:
        return index
    return near + (index - near + _HALF) % WRAP - _HALF


def on_wire(index: int) -> int:
    """The wire value (mod 2**32) of lifetime number ``index``."""
    return index % WRAP


def unwrap_page(page: views.ShotLog, near: int) -> views.ShotLog:
    """A ``shot_log`` page with its window and entries' indices unwrapped near ``near`` (the index asked for).

    An empty log (``oldest_index`` = ``newest_index`` = 0, no entries) stays all zero.
    """
    if not page.entries and page.oldest_index == page.newest_index == 0:
        return page
    entries = [replace(entry, shot_index=unwrap(entry.shot_index, near)) for entry in page.entries]
    return replace(
        page,
        oldest_index=unwrap(page.oldest_index, near),
        newest_index=unwrap(page.newest_index, near),
        entries=entries,
    )
