"""``mesogun record report|aftercare VISIT -o FILE``: a treatment session's report, or the patient's aftercare
sheet, as PDF or HTML (docs/reports.md), made from the record's summary of the session, in English or French
(``--language``). Pseudonymised unless ``--identified``; the file is created readable by its owner only, as the
record is."""

from __future__ import annotations

from pathlib import Path

import click

from mesogun.cli.record_commands import REASON_OPTION, read_summary
from mesogun.clinic.summary import SessionSummary
from mesogun.errors import ParameterError
from mesogun.i18n import DEFAULT_LANGUAGE, LANGUAGES, checked_language
from mesogun.reports import FORMATS, Document, Format, render, write_private


def _options(command: click.Command) -> click.Command:
    """The options both exports take."""
    for option in (
        click.argument("visit", type=int),
        click.option(
            "--output",
            "-o",
            required=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="The file to write (.pdf or .html; created readable by you only).",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            help="pdf or html (default: from the file's suffix).",
        ),
        click.option(
            "--identified",
            is_flag=True,
            help="Name the patient (who read the name is entered in the audit log); pseudonymous otherwise.",
        ),
        REASON_OPTION,
        click.option(
            "--clinic",
            default="",
            metavar="NAME",
            help="The clinic's name on every page (default: none, a blank line on the aftercare sheet).",
        ),
        click.option(
            "--language",
            default=DEFAULT_LANGUAGE,
            show_default=True,
            metavar="LANG",
            help=f"The document's language: {' or '.join(LANGUAGES)}.",
        ),
    ):
        command = option(command)
    return command


def format_of(output: Path, given: str | None) -> Format:
    """The export's format: ``given``, else the file's suffix; a :class:`ParameterError` naming ``--format``."""
    if given is not None:
        return "pdf" if given == "pdf" else "html"
    suffix = output.suffix.lower().lstrip(".")
    if suffix == "pdf":
        return "pdf"
    if suffix in ("html", "htm"):
        return "html"
    raise ParameterError(
        f"--output {output}: cannot tell the format from the suffix {output.suffix or '(none)'!r}; name the file "
        ".pdf or .html, or give --format pdf|html",
        field="format",
        value=output.suffix,
    )


def write_export(output: Path, data: bytes) -> None:
    """Write ``data`` to ``output`` (0600: :func:`mesogun.reports.write_private`); a :class:`ParameterError` naming
    ``--output`` if it cannot be written there."""
    try:
        write_private(output, data)
    except OSError as exc:
        raise ParameterError(
            f"--output {output}: cannot write it there: {exc.strerror or exc}", field="output", value=str(output)
        ) from None


def _privacy(summary: SessionSummary, identified: bool) -> str:
    """What the document says of the patient, as the command reports it."""
    if summary.patient_name is not None:
        return "identified"
    return "pseudonymised: the patient's identity was erased" if identified else "pseudonymised"


def _export_command(name: str, document: Document, help_text: str) -> click.Command:
    """``mesogun record NAME``: write ``document`` (both exports take the same options, :func:`_options`)."""

    @click.pass_context
    def command(
        ctx: click.Context,
        visit: int,
        output: Path,
        fmt: str | None,
        identified: bool,
        reason: str,
        clinic: str,
        language: str,
    ) -> None:
        chosen = format_of(output, fmt)
        language = checked_language(language, field="--language")  # before the read: an identified one is audited
        via = f"mesogun record {document} {visit}"
        summary = read_summary(ctx, visit, identified=identified, reason=reason, via=via)
        data = render(document, chosen, summary, clinic_name=clinic, language=language)
        write_export(output, data)
        click.echo(f"wrote {output} ({chosen}, {len(data):,} bytes, {_privacy(summary, identified)})")

    return _options(click.command(name, help=help_text)(command))


report_command = _export_command(
    "report",
    "report",
    "Write treatment session VISIT's report: summary, zones with volumes, parameters, lots, checklist, overrides, "
    "alarms, adverse events, aftercare and the practitioner's signature (NOT SIGNED until signed off).",
)
aftercare_command = _export_command(
    "aftercare",
    "aftercare",
    "Write the patient's aftercare sheet for treatment session VISIT: the advice given (the default advice if none "
    "was entered) and the next session suggested from the course's interval.",
)
