"""The session report and the aftercare sheet as A4 PDFs (fpdf2), laid out from the same worded content as the
HTML (:mod:`mesogun.reports.content`).

Every page carries the visit id and "page x of y" in its footer (and "pseudonymised" when it is); tables break
across pages with their heading row repeated. Every word arrives worded in the document's language (the headings
and the footer's too: :class:`~mesogun.reports.content.Furniture`); the PDF's metadata names that language. Text
is set in DejaVu Sans, shipped with the package (``fonts/``, its licence beside it) and embedded as a subset, so
"décolleté", "µL" and "≤" print on any machine.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from fpdf import FPDF, FontFace
from fpdf.enums import Align, MethodReturnValue, TableBordersLayout, XPos, YPos
from fpdf.util import Padding

from mesogun.clinic.aftercare import AftercareItem
from mesogun.clinic.summary import SessionSummary
from mesogun.i18n import DEFAULT_LANGUAGE
from mesogun.reports import content, write_private
from mesogun.reports.content import AftercareSheet, Field, Masthead, Section, SessionReport, Signature, Table

Target = str | os.PathLike[str] | BinaryIO | None
"""Where a PDF goes: a path (a new file is created 0600: it is a health record), a binary file, or nowhere
(the bytes are returned either way)."""

FONT_DIRS = (Path(__file__).with_name("fonts"), Path("/usr/share/fonts/truetype/dejavu"))
"""Where DejaVu Sans is looked for: the copy shipped in the package, then Debian's. Without either the PDF falls
back to the PDF core font Helvetica, with the few characters Latin-1 lacks spelled out ("≤" as "<=")."""

_FAMILY = "DejaVu"
INK = (27, 31, 36)
MUTED = (91, 100, 112)
RULE = (201, 206, 214)
_BAND = (238, 241, 245)
ALERT = (164, 22, 26)
ALERT_BG = (253, 232, 232)
MARGIN = 14.0
_FOOTER = 16.0
_LABEL_W = 45.0


def font_files() -> tuple[Path, Path] | None:
    """The regular and bold DejaVu Sans files the PDFs use, or ``None`` when none is found (:data:`FONT_DIRS`)."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


_LATIN1_SPELLED = {
    "≤": "<=",
    "≥": ">=",
    "≈": "~",
    "–": "-",
    "—": "-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "•": "-",
    "→": "->",
}


def latin1(text: str) -> str:
    """``text`` in the Latin-1 the PDF core fonts have: characters it lacks spelled out or without their accent
    (``?`` when nothing fits). Used only when no Unicode font is found."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        elif char in _LATIN1_SPELLED:
            out.append(_LATIN1_SPELLED[char])
        else:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


class PdfDocument(FPDF):
    """An A4 page with the document's footer (visit, page x of y, pseudonymised) and, after the first page, a
    running head naming the clinic and document."""

    def __init__(self, masthead: Masthead) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report_masthead = masthead
        fonts = font_files()
        self.report_unicode = fonts is not None
        if fonts is not None:
            self.add_font(_FAMILY, "", fonts[0])
            self.add_font(_FAMILY, "B", fonts[1])
            self.report_family = _FAMILY
        else:
            self.report_family = "helvetica"
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=_FOOTER + 4)
        self.alias_nb_pages()  # "{nb}": the digits replace it left-aligned, the slack falls past the right edge
        self.set_title(self.t(f"{masthead.title} · {masthead.visit_label}"))  # never the patient's name
        self.set_author(self.t(masthead.clinic))
        self.set_creator("mesogun")
        self.set_lang(masthead.language)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)

    def t(self, text: str) -> str:
        """Text as the current font can set it."""
        return text if self.report_unicode else latin1(text)

    def fit(self, text: str, width: float) -> str:
        """``text`` (as the font sets it) shortened with "…" to fit ``width`` mm in the current font."""
        text = self.t(text)
        if self.get_string_width(text) <= width:
            return text
        ellipsis = self.t("…")
        while text and self.get_string_width(text + ellipsis) > width:
            text = text[:-1]
        return text.rstrip() + ellipsis

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.report_family, "B" if bold else "", size)

    def running_head(self) -> str:
        """The line at the top of every page after the first (a subclass names its own document)."""
        head = self.report_masthead
        return f"{head.clinic} · {head.title} · {head.visit_label}"

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.font(8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, self.fit(self.running_head(), self.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y() + 1, self.w - MARGIN, self.get_y() + 1)
        self.set_y(self.get_y() + 4)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-_FOOTER)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_y(self.get_y() + 1.5)
        self.font(8)
        self.set_text_color(*MUTED)
        right, middle = 50.0, 28.0
        left = self.epw - right - middle
        head = self.report_masthead
        self.cell(left, 4, self.fit(f"{head.clinic} · {head.title}", left - 2))
        if head.pseudonymised:
            self.font(8, bold=True)
            self.set_text_color(*ALERT)
            self.cell(middle, 4, self.t(head.furniture.pseudonymised), align=Align.C)
            self.font(8)
            self.set_text_color(*MUTED)
        else:
            self.cell(middle, 4, "")
        page = head.furniture.page_of.format(page=self.page_no(), pages="{nb}")
        self.cell(right, 4, self.t(f"{head.visit_label} · {page}"), align=Align.R)
        self.set_text_color(*INK)

    # --- blocks ---------------------------------------------------------------------------------------------

    def masthead_block(self) -> None:
        head = self.report_masthead
        self.font(10, bold=True)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 5, self.t(head.clinic), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.font(18, bold=True)
        self.cell(0, 10, self.t(head.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.fields((Field(head.furniture.visit, str(head.visit_id)), head.patient, *head.fields), size=10, label_w=32)
        if head.pseudonymised:
            self.ln(1)
            self.font(8.5, bold=True)
            self.set_text_color(*ALERT)
            self.set_draw_color(*ALERT)
            self.set_line_width(0.4)
            self.multi_cell(
                0,
                5,
                self.t(head.privacy_note),
                align=Align.L,
                border=1,
                padding=Padding(0.8, 2, 0.8, 2),
                new_x=XPos.LMARGIN,
            )
            self.set_line_width(0.2)
            self.set_text_color(*INK)
        self.ln(2)
        self.set_draw_color(*INK)
        self.set_line_width(0.6)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_line_width(0.2)
        self.set_draw_color(*RULE)
        self.ln(3)

    def heading(self, title: str, size: float = 11.5) -> None:
        """A section heading on a grey band, never left alone at the foot of a page."""
        if self.will_page_break(28):
            self.add_page()
        self.ln(2)
        self.font(size, bold=True)
        self.set_fill_color(*_BAND)
        self.multi_cell(
            0, 6.5, self.t(title), fill=True, padding=Padding(0.3, 2, 0.3, 2), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.ln(1.5)

    def fields(self, items: Sequence[Field], *, size: float = 9.5, label_w: float = _LABEL_W, x: float = 2) -> None:
        """Labels in a column as wide as the longest (at least ``label_w``), values beside them; a short group
        is kept on one page."""
        line = size * 0.5
        self.font(size)
        width = max([label_w, *(self.get_string_width(self.t(item.label)) + 4 for item in items)])
        if len(items) <= 8 and self.will_page_break(line * len(items)):
            self.add_page()
        for item in items:
            if self.will_page_break(line):
                self.add_page()
            self.font(size)
            self.set_text_color(*MUTED)
            self.set_x(self.l_margin + x)
            self.cell(width, line, self.t(item.label))
            self.set_text_color(*(ALERT if item.alert else INK))
            self.font(size, bold=item.alert)
            self.multi_cell(0, line, self.t(item.value), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_text_color(*INK)

    def table_block(self, table: Table) -> None:
        self.font(8.5)
        self.set_fill_color(255)  # the table's cells take the current fill colour as their background
        heading = FontFace(emphasis="BOLD", fill_color=_BAND)
        flagged = FontFace(emphasis="BOLD", fill_color=ALERT_BG, color=ALERT)
        total = FontFace(emphasis="BOLD")
        align = tuple("RIGHT" if numeric else "LEFT" for numeric in table.numeric)
        with self.table(
            col_widths=table.widths,
            text_align=align,
            headings_style=heading,
            line_height=4.4,
            padding=Padding(0.8, 1.5, 0.8, 1.5),
            borders_layout=TableBordersLayout.ALL,
            repeat_headings=1,
            v_align="TOP",
        ) as grid:
            grid.row([self.t(c) for c in table.columns])
            for index, row in enumerate(table.rows):
                grid.row([self.t(c) for c in row], style=flagged if index in table.flagged else None)
            if table.total is not None:
                grid.row([self.t(c) for c in table.total], style=total)
        self.ln(1.5)

    def lines(self, items: Sequence[str], *, size: float = 9.5, numbered: bool = False) -> None:
        line = size * 0.5
        for number, item in enumerate(items, start=1):
            if self.will_page_break(line):
                self.add_page()
            self.font(size)
            self.set_x(self.l_margin + 3)
            self.cell(6, line, f"{number}." if numbered else self.t("•"))
            self.multi_cell(0, line, self.t(item), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def empty(self, text: str) -> None:
        self.font(9.5)
        self.set_text_color(*MUTED)
        self.set_x(self.l_margin + 2)
        self.multi_cell(0, 5, self.t(text), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def section(self, section: Section) -> None:
        self.heading(section.title)
        if section.fields:
            self.fields(section.fields)
        if section.table is not None and section.table.rows:
            self.table_block(section.table)
        if section.lines:
            self.lines(section.lines)
        if section.after:
            self.fields(section.after)
        if section.is_empty and section.empty:
            self.empty(section.empty)

    def line_count(self, width: float, line: float, text: str) -> int:
        """How many lines ``text`` takes in a ``width`` mm column in the current font."""
        lines = self.multi_cell(width, line, self.t(text), dry_run=True, output=MethodReturnValue.LINES)
        return max(1, len(lines)) if isinstance(lines, list) else 1

    def signature(self, signature: Signature) -> None:
        """The sign-off in a box kept on one page; unsigned, a red "NOT SIGNED" on red no reader can miss."""
        inner = self.w - 2 * MARGIN - 6
        if signature.signed:
            self.font(9.5)
            value_w = inner + 3 - max(30, *(self.get_string_width(self.t(f.label)) + 4 for f in signature.fields))
            body = sum(4.75 * self.line_count(value_w, 4.75, f.value) for f in signature.fields)
            body += 5 * self.line_count(inner, 5, signature.statement) + 1
        else:
            self.font(10)
            body = 10 + 5 * self.line_count(inner, 5, signature.statement) + 1
        height = 2 + 7 + body + 3
        if self.will_page_break(height + 6):
            self.add_page()
        self.ln(4)
        top = self.get_y()
        if not signature.signed:
            self.set_fill_color(*ALERT_BG)
            self.rect(MARGIN, top, self.w - 2 * MARGIN, height, style="F")
        self.set_xy(MARGIN + 3, top + 2)
        self.font(11.5, bold=True)
        self.cell(0, 7, self.t(signature.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if signature.signed:
            self.fields(signature.fields, label_w=30, x=3)
            self.set_x(MARGIN + 3)
            self.font(9.5)
            self.multi_cell(inner, 5, self.t(signature.statement), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            self.set_x(MARGIN + 3)
            self.font(18, bold=True)
            self.set_text_color(*ALERT)
            self.cell(inner, 10, self.t(signature.headline), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_x(MARGIN + 3)
            self.font(10)
            self.multi_cell(inner, 5, self.t(signature.statement), align=Align.L, new_x=XPos.LMARGIN)
            self.set_text_color(*INK)
        height = max(height, self.get_y() + 3 - top)  # the box holds what was set, whatever the estimate
        self.set_draw_color(*(INK if signature.signed else ALERT))
        self.set_line_width(0.5)
        self.rect(MARGIN, top, self.w - 2 * MARGIN, height)
        self.set_line_width(0.2)
        self.set_draw_color(*RULE)
        self.set_y(top + height + 3)


def _session_report(doc: SessionReport) -> PdfDocument:
    pdf = PdfDocument(doc.masthead)
    pdf.add_page()
    pdf.masthead_block()
    for section in doc.sections:
        pdf.section(section)
    pdf.signature(doc.signature)
    pdf.empty(doc.footnote)
    return pdf


def _aftercare(doc: AftercareSheet) -> PdfDocument:
    pdf = PdfDocument(doc.masthead)
    pdf.add_page()
    pdf.masthead_block()
    pdf.font(12)
    pdf.multi_cell(0, 6.5, pdf.t(doc.intro), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.heading(doc.advice_title, size=13)
    pdf.lines(doc.advice, size=12, numbered=True)
    pdf.ln(4)
    pdf.font(12, bold=True)
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.4)
    pdf.multi_cell(
        0, 6.5, pdf.t(doc.next_session), align=Align.L, border=1, padding=Padding(2.5, 4, 2.5, 4), new_x=XPos.LMARGIN
    )
    pdf.set_line_width(0.2)
    pdf.heading(doc.worry_title, size=13)
    pdf.font(12)
    pdf.multi_cell(0, 6.5, pdf.t(doc.worry), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.fields(doc.reach, size=12, label_w=30)
    return pdf


def _emit(pdf: PdfDocument, target: Target) -> bytes:
    data = bytes(pdf.output())
    if target is None:
        return data
    if isinstance(target, str | os.PathLike):
        write_private(target, data)
    else:
        target.write(data)
    return data


def session_report_pdf(
    summary: SessionSummary,
    target: Target = None,
    *,
    clinic_name: str = content.DEFAULT_CLINIC,
    language: str = DEFAULT_LANGUAGE,
) -> bytes:
    """The session report as a PDF in ``language`` (pseudonymised unless ``summary.patient_name`` is given):
    written to ``target`` if given, and returned."""
    doc = content.session_report(summary, clinic_name=clinic_name, language=language)
    return _emit(_session_report(doc), target)


def aftercare_pdf(
    summary: SessionSummary,
    target: Target = None,
    advice: Sequence[AftercareItem] | None = None,
    *,
    clinic_name: str = content.DEFAULT_CLINIC,
    contact: Sequence[tuple[str, str]] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> bytes:
    """The patient's aftercare sheet as a PDF in ``language``: ``advice`` if given, else what the record says was
    given, else the default advice; ``contact`` the clinic's (label, value) pairs, else blanks to fill in by hand."""
    doc = content.aftercare_sheet(
        summary, content.advice_lines(summary, advice), clinic_name=clinic_name, contact=contact, language=language
    )
    return _emit(_aftercare(doc), target)
