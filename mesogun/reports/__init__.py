"""Exports of a treatment session: the session report and the patient's aftercare sheet, as HTML
(:mod:`mesogun.reports.html`) or PDF (:mod:`mesogun.reports.pdf`), both made from one
:class:`~mesogun.clinic.summary.SessionSummary` worded once (:mod:`mesogun.reports.content`); docs/reports.md.

The renderers load Jinja2 and fpdf2 only when first used, so ``import mesogun.reports`` (and the ``mesogun``
command) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesogun.reports.html import aftercare_html, session_report_html
    from mesogun.reports.pdf import aftercare_pdf, session_report_pdf

__all__ = ["aftercare_html", "aftercare_pdf", "session_report_html", "session_report_pdf"]

_HOME = {
    "session_report_html": "mesogun.reports.html",
    "aftercare_html": "mesogun.reports.html",
    "session_report_pdf": "mesogun.reports.pdf",
    "aftercare_pdf": "mesogun.reports.pdf",
}


def __getattr__(name: str) -> object:
    """The renderers, imported (with their libraries) on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
