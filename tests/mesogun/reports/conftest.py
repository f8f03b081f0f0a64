"""The report tests' summaries (made by hand: a short session and a long one) and their PDFs, rendered once per
test run (a PDF with its embedded font takes a good fraction of a second)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from pypdf import PdfReader

from mesogun.clinic.summary import SessionSummary
from tests.mesogun.reports import summaries


@dataclass(frozen=True)
class Pdf:
    """A rendered PDF read back: its bytes, each page's text, its metadata, the language it declares."""

    data: bytes
    pages: list[str]
    metadata: dict[str, str]
    language: str

    @classmethod
    def read(cls, data: bytes) -> Pdf:
        reader = PdfReader(io.BytesIO(data))
        meta = {key: str(value) for key, value in (reader.metadata or {}).items()}
        language = str(reader.root_object.get("/Lang", ""))
        return cls(data, [page.extract_text() for page in reader.pages], meta, language)

    @property
    def text(self) -> str:
        return "\n".join(self.pages)


@pytest.fixture
def short() -> SessionSummary:
    return summaries.short()


@pytest.fixture
def long() -> SessionSummary:
    return summaries.long()


@pytest.fixture(scope="session")
def short_report_pdf() -> Pdf:
    from mesogun.reports import session_report_pdf

    return Pdf.read(session_report_pdf(summaries.short(), clinic_name="Clinique du Lac"))


@pytest.fixture(scope="session")
def long_report_pdf() -> Pdf:
    from mesogun.reports import session_report_pdf

    return Pdf.read(session_report_pdf(summaries.long(), clinic_name="Clinique du Lac"))
