"""The certificate tests' PDFs, rendered once per test run (matplotlib and an embedded font take a moment)."""

from __future__ import annotations

import logging

import pytest

from tests.mesogun.calibration import runs
from tests.mesogun.reports.conftest import Pdf

ISSUER = "Clinique du Lac — service technique"


MISSING_GLYPHS: list[str] = []
"""fpdf2's warnings of a character the font lacks, from every certificate rendered here."""


class _Missing(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if "missing" in record.getMessage():
            MISSING_GLYPHS.append(record.getMessage())


def _render(make) -> Pdf:
    from mesogun.calibration.certificate import certificate_pdf

    handler = _Missing(logging.WARNING)
    logger = logging.getLogger("fpdf")
    logger.addHandler(handler)
    try:
        return Pdf.read(certificate_pdf(make(), issuer=ISSUER))
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="session")
def volume_passed_pdf() -> Pdf:
    return _render(runs.volume_passed)


@pytest.fixture(scope="session")
def depth_failed_pdf() -> Pdf:
    return _render(runs.depth_failed)


@pytest.fixture(scope="session")
def volume_aborted_pdf() -> Pdf:
    return _render(runs.volume_aborted_halfway)


@pytest.fixture(scope="session")
def rate_aborted_pdf() -> Pdf:
    return _render(runs.rate_aborted)


@pytest.fixture(scope="session")
def rate_passed_pdf() -> Pdf:
    return _render(runs.rate_passed)
