"""``/treatments/{id}/report.{pdf,html}`` and ``/treatments/{id}/aftercare.{pdf,html}``: a treatment session's
report and the patient's aftercare sheet (docs/reports.md), made from the record's summary, in English or French
(``?language=fr``; a language that does not ship is refused, 422 naming ``language``, before anything is read or
entered). Pseudonymised unless
``?identified=true``: then the read is entered in the record's audit log first (who asked, the route, ``?reason=``),
and nothing is sent if it cannot be; never cached. The summary is read on the record's one
worker; the rendering (about a second for a PDF) runs in a worker thread of its own, never on the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mesogun.i18n import DEFAULT_LANGUAGE, LANGUAGES, checked_language
from mesogun.reports import Document, Format, render
from mesogun_service.api.deps import Reader, Record, assistant
from mesogun_service.api.treatments import read_summary
from mesogun_service.config import ServiceConfig

router = APIRouter(prefix="/treatments", tags=["exports"], dependencies=[Depends(assistant)])

MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


@dataclass
class ExportQuery:
    """What every export's query says: the patient's name or not, the clinic printed, the language."""

    identified: bool = False
    clinic: Annotated[
        str, Query(max_length=200, description="The clinic's name on every page (default: the service's clinic_name).")
    ] = ""
    language: Annotated[
        str,
        Query(max_length=35, description=f"The document's language: {', '.join(LANGUAGES)} (a tag: fr-CH reads fr)."),
    ] = DEFAULT_LANGUAGE


Export = Annotated[ExportQuery, Depends()]


async def _export(
    request: Request, record: Record, reader: Reader, visit_id: int, document: Document, fmt: Format, query: Export
) -> Response:
    language = checked_language(query.language)  # before the read: an identified read is entered in the audit log
    config: ServiceConfig = request.app.state.config
    clinic, contact = query.clinic or config.clinic_name, config.clinic_contact()
    summary = await record.call(lambda r: read_summary(r, visit_id, reader if query.identified else None))
    data = await run_in_threadpool(
        lambda: render(document, fmt, summary, clinic_name=clinic, language=language, contact=contact)
    )
    return Response(
        data,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{document}-{visit_id}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{visit_id}/report.{fmt}", response_class=Response)
async def report(
    request: Request, record: Record, reader: Reader, visit_id: int, fmt: Format, query: Export
) -> Response:
    """The session report (summary, zones with volumes, parameters, lot, checklist, overrides, alarms,
    signature) as PDF or HTML."""
    return await _export(request, record, reader, visit_id, "report", fmt, query)


@router.get("/{visit_id}/aftercare.{fmt}", response_class=Response)
async def aftercare(
    request: Request, record: Record, reader: Reader, visit_id: int, fmt: Format, query: Export
) -> Response:
    """The patient's aftercare sheet (the advice given, the next session suggested, whom to call) as PDF or
    HTML."""
    return await _export(request, record, reader, visit_id, "aftercare", fmt, query)
