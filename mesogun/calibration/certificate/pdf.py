"""A calibration certificate as an A4 PDF (fpdf2), laid out from its worded content
(:mod:`mesogun.calibration.certificate.content`) with the reports' page furniture: DejaVu Sans embedded
(:mod:`mesogun.reports.pdf`), tables with repeated headings, the signature box (NOT SIGNED in red), and on every
page the certificate id, the device and "page x of y". The figures are matplotlib PNGs
(:mod:`mesogun.calibration.certificate.plots`).
"""

from __future__ import annotations

import io
import os

from fpdf.enums import Align, XPos, YPos

from mesogun.calibration.certificate import content, plots
from mesogun.calibration.certificate.content import Banner, Certificate
from mesogun.calibration.results import CalibrationRun
from mesogun.reports import write_private
from mesogun.reports.content import Field, Masthead
from mesogun.reports.pdf import ALERT, ALERT_BG, INK, MARGIN, MUTED, RULE, PdfDocument, Target

_PASS = (21, 101, 52)
_PASS_BG = (226, 244, 232)
_FIGURE_W = 182.0


class _CertificateDocument(PdfDocument):
    """The reports' A4 document with the certificate's own head and footer."""

    def __init__(self, doc: Certificate) -> None:
        masthead = Masthead(doc.issuer, doc.title, 0, Field("", ""), pseudonymised=False, privacy_note="")
        super().__init__(masthead)
        self.certificate = doc
        self.set_title(self.t(f"{doc.title} · {doc.reference}"))
        self.set_subject(self.t(f"Device {doc.device}: {doc.banner.headline}"))

    def running_head(self) -> str:
        doc = self.certificate
        return f"{doc.issuer} · {doc.title} · {doc.reference} · {doc.banner.headline}"

    def footer(self) -> None:
        self.set_y(-16.0)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_y(self.get_y() + 1.5)
        self.font(8)
        self.set_text_color(*MUTED)
        right = 62.0
        doc = self.certificate
        self.cell(self.epw - right, 4, self.fit(f"{doc.issuer} · {doc.title}", self.epw - right - 2))
        self.cell(right, 4, self.t(f"{doc.reference} · page {self.page_no()} of {{nb}}"), align=Align.R)
        self.set_text_color(*INK)

    def certificate_head(self) -> None:
        doc = self.certificate
        self.font(10, bold=True)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 5, self.t(doc.issuer), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.font(17, bold=True)
        self.multi_cell(0, 9, self.t(doc.title), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.fields(doc.head, size=9.5, label_w=30)
        self.ln(2)
        self.verdict(doc.banner)
        self.set_draw_color(*INK)
        self.set_line_width(0.6)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_line_width(0.2)
        self.set_draw_color(*RULE)
        self.ln(2)

    def verdict(self, banner: Banner) -> None:
        """The outcome in a coloured box: green PASSED, red FAILED or ABORTED, with why."""
        ink, background = (ALERT, ALERT_BG) if banner.alert else (_PASS, _PASS_BG)
        top = self.get_y()
        inner = self.epw - 8
        self.font(9.5)
        height = 4 + 9 + 5 * self.line_count(inner, 5, banner.detail) + 2
        self.set_fill_color(*background)
        self.set_draw_color(*ink)
        self.set_line_width(0.5)
        self.rect(MARGIN, top, self.epw, height, style="DF")
        self.set_line_width(0.2)
        self.set_xy(MARGIN + 4, top + 2)
        self.set_text_color(*ink)
        self.font(16, bold=True)
        self.cell(inner, 9, self.t(banner.headline), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_x(MARGIN + 4)
        self.font(9.5)
        self.multi_cell(inner, 5, self.t(banner.detail), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)
        self.set_y(top + height + 3)

    def figure(self, name: str, png: bytes) -> None:
        """A figure at the page's width, kept whole on one page."""
        height = _FIGURE_W * plots.HEIGHT_IN / plots.WIDTH_IN
        if self.will_page_break(height + 12):
            self.add_page()
        self.heading(_FIGURE_TITLES.get(name, name.capitalize()))
        self.image(io.BytesIO(png), x=MARGIN, w=_FIGURE_W, h=height)
        self.ln(2)


_FIGURE_TITLES = {
    "deviation": "Readings against nominal, as found and as left",
    "depth fit": "Depth: gauge reading against set depth",
}


def render(run: CalibrationRun, *, issuer: str = content.DEFAULT_ISSUER) -> bytes:
    """The certificate of ``run`` as PDF bytes."""
    doc = content.certificate(run, issuer=issuer)
    pdf = _CertificateDocument(doc)
    pdf.add_page()
    pdf.certificate_head()
    for section in doc.sections_before_plots:
        pdf.section(section)
    for name in doc.plots:
        pdf.figure(name, plots.FIGURES[name](run))
    for section in doc.sections_after_plots:
        pdf.section(section)
    pdf.signature(doc.signature)
    pdf.empty(doc.footnote)
    return bytes(pdf.output())


def certificate_pdf(run: CalibrationRun, target: Target = None, *, issuer: str = content.DEFAULT_ISSUER) -> bytes:
    """The certificate of ``run`` (passed, failed or aborted) as a PDF: written to ``target`` if given (a path:
    a new file 0600), and returned."""
    data = render(run, issuer=issuer)
    if isinstance(target, str | os.PathLike):
        write_private(target, data)
    elif target is not None:
        target.write(data)
    return data
