"""A calibration run's certificate (issue 16; docs/calibration.md): :func:`certificate_pdf` renders a
:class:`~mesogun.calibration.results.CalibrationRun`, passed, failed or aborted, to an A4 PDF a quality auditor
reads: device and reference ids, environment and Z factor, method, results against limits with their expanded
uncertainty, plots, the constants changed, the next due date, raw readings and the technician's signature.

fpdf2 and matplotlib load only when a certificate is made (``import mesogun.calibration.certificate`` stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesogun.calibration.results import CalibrationRun
    from mesogun.reports.pdf import Target

__all__ = ["certificate_pdf"]


def certificate_pdf(run: CalibrationRun, target: Target = None, **options: Any) -> bytes:
    """The certificate of ``run`` as PDF bytes, written to ``target`` too if given (a path: a new file 0600);
    ``issuer=`` names the laboratory or clinic on it."""
    from mesogun.calibration.certificate import pdf

    return pdf.certificate_pdf(run, target, **options)
