"""What the session report and the aftercare sheet say, decided once for both formats: a
:class:`~mesogun.clinic.summary.SessionSummary` becomes a document of titled sections (fields, a table, lines),
every value already worded and formatted (volumes in mL to 3 decimals, depths in mm, times in UTC).

The HTML (:mod:`mesogun.reports.html`) and PDF (:mod:`mesogun.reports.pdf`) renderers only lay these out, so the
two formats cannot disagree. Pure: no template engine, no PDF library, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from mesogun.clinic.aftercare import DEFAULT_ADVICE, AftercareItem
from mesogun.clinic.summary import SessionSummary

SESSION_REPORT_TITLE = "Treatment session report"
AFTERCARE_TITLE = "Aftercare after your treatment"
DEFAULT_CLINIC = "Clinic"
NOT_SIGNED = "NOT SIGNED"
VOID = "VOID"
PSEUDONYMISED = "PSEUDONYMISED"
NONE = "—"
"""A value the record does not hold."""


@dataclass(frozen=True)
class Field:
    """A labelled value: "Practitioner: Dr Ada Moreau"."""

    label: str
    value: str
    alert: bool = False
    """A value no reader may miss (e.g. NOT SIGNED): shown in red."""


@dataclass(frozen=True)
class Table:
    """Rows under column headings; ``numeric`` columns are right-aligned, ``widths`` their relative widths,
    ``total`` an optional last row of totals, ``flagged`` the rows a reader must not miss (e.g. a
    contraindication answered "yes")."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    numeric: tuple[bool, ...]
    total: tuple[str, ...] | None = None
    flagged: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Section:
    """One titled part of a document; ``empty`` is what it says when it holds nothing."""

    title: str
    fields: tuple[Field, ...] = ()
    table: Table | None = None
    lines: tuple[str, ...] = ()
    after: tuple[Field, ...] = ()
    """Fields shown after the table (e.g. the totals in words)."""
    empty: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.fields or self.lines or self.after or (self.table is not None and self.table.rows))


@dataclass(frozen=True)
class Signature:
    """The sign-off (21 CFR 11.50: the signer's name, the time, and what the signature means), or its absence."""

    signed: bool
    headline: str
    """``NOT SIGNED`` when unsigned, else ``Signed``."""
    fields: tuple[Field, ...]
    statement: str


@dataclass(frozen=True)
class Masthead:
    """What heads every document: the clinic, the title, the visit, the patient (pseudonymous unless asked)."""

    clinic: str
    title: str
    visit_id: int
    patient: Field
    pseudonymised: bool
    privacy_note: str
    """Shown when pseudonymised: that identifying details were left out on purpose."""
    fields: tuple[Field, ...] = ()

    @property
    def visit_label(self) -> str:
        return f"Visit {self.visit_id}"


@dataclass(frozen=True)
class SessionReport:
    """The session report: masthead, sections in reading order, signature block."""

    masthead: Masthead
    sections: tuple[Section, ...]
    signature: Signature
    footnote: str


@dataclass(frozen=True)
class AftercareSheet:
    """The patient's printable aftercare sheet, in plain words."""

    masthead: Masthead
    intro: str
    advice: tuple[str, ...]
    next_session: str
    worry: str
    contact: tuple[Field, ...] = field(default_factory=tuple)


# --- formatting -----------------------------------------------------------------------------------------------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def ml(volume: float) -> str:
    """A volume in mL to 3 decimals: ``0.125 mL``."""
    return f"{volume:.3f} mL"


def _mm_number(depth: float) -> str:
    text = f"{depth:.2f}"
    return text[:-1] if text.endswith("0") else text


def mm_range(low: float | None, high: float | None) -> str:
    """A depth range in mm: ``1.5–2.25 mm``, ``2.0 mm`` when both ends agree, ``—`` when unknown."""
    if low is None or high is None:
        return NONE
    if _mm_number(low) == _mm_number(high):
        return f"{_mm_number(low)} mm"
    return f"{_mm_number(low)}–{_mm_number(high)} mm"


def ml_range(low: float, high: float) -> str:
    """A dose range in mL per shot, 3 decimals."""
    if f"{low:.3f}" == f"{high:.3f}":
        return ml(low)
    return f"{low:.3f}–{high:.3f} mL"


def _parsed(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def when(ts: str | None) -> str:
    """A record time (ISO 8601, UTC) as a person reads it: ``2025-03-04 10:15:02 UTC``; text that is not a time
    is shown as it is."""
    if ts is None:
        return NONE
    moment = _parsed(ts)
    if moment is None:
        return ts
    offset = moment.utcoffset()
    zone = "" if offset is None else (" UTC" if offset == timedelta(0) else moment.strftime(" %z"))
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def _when_on(ts: str, day: date | None) -> str:
    """A time in a table: only the time of day when it falls on the session's day."""
    moment = _parsed(ts)
    if moment is None:
        return ts
    if day is not None and moment.date() == day:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def long_date(iso: str) -> str:
    """An ISO date (or time) in words, in English whatever the locale: ``Tuesday 18 March 2025``."""
    moment = _parsed(iso)
    if moment is None:
        return iso
    return f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _or_none(value: str | None) -> str:
    return value if value else NONE


# --- the masthead -------------------------------------------------------------------------------------------


def masthead(summary: SessionSummary, *, clinic_name: str, title: str, privacy_note: str = "") -> Masthead:
    """The heading of a document: the patient by pseudonym, with the identifying name only when the caller
    asked for it (``summary.patient_name`` given); ``privacy_note`` says so when it is left out."""
    name = (summary.patient_name or "").strip()
    if name:
        patient = Field("Patient", f"{name} (id {summary.patient})")
        note = ""
    else:
        patient = Field("Patient", summary.patient)
        note = privacy_note or f"{PSEUDONYMISED}: the patient's identifying details are left out of this document."
    return Masthead(
        clinic=clinic_name.strip() or DEFAULT_CLINIC,
        title=title,
        visit_id=summary.visit_id,
        patient=patient,
        pseudonymised=not name,
        privacy_note=note,
    )


# --- the session report -------------------------------------------------------------------------------------


def session_report(summary: SessionSummary, *, clinic_name: str = DEFAULT_CLINIC) -> SessionReport:
    """Everything the session report says, in reading order."""
    day = _day(summary.opened)
    head = masthead(summary, clinic_name=clinic_name, title=SESSION_REPORT_TITLE)
    signed = f"signed by {summary.signoff.by}" if summary.signoff else NOT_SIGNED
    head = replace(
        head,
        fields=(
            *_void(summary),
            Field("Practitioner", summary.practitioner),
            Field("Date", _date(summary)),
            Field("Sign-off", signed, alert=summary.signoff is None),
        ),
    )
    sections = (
        _session(summary),
        _course(summary),
        _parameters(summary),
        _products(summary),
        _checklist(summary),
        _zones(summary),
        _alarms(summary, day),
        _overrides(summary, day),
        _adverse_events(summary, day),
        Section("Aftercare given", lines=summary.aftercare, empty="No aftercare advice is on record."),
        Section("Notes", lines=summary.notes, empty="No notes."),
    )
    return SessionReport(
        masthead=head,
        sections=sections,
        signature=_signature(summary),
        footnote="Times are UTC. Volumes are as the device reports them, in mL.",
    )


def _day(ts: str) -> date | None:
    moment = _parsed(ts)
    return None if moment is None else moment.date()


def _date(summary: SessionSummary) -> str:
    moment = _parsed(summary.opened)
    return summary.opened if moment is None else moment.strftime("%Y-%m-%d")


def _session(summary: SessionSummary) -> Section:
    devices = ", ".join(summary.devices) if summary.devices else "none recorded"
    return Section(
        "Session",
        fields=(
            Field("Device" if len(summary.devices) == 1 else "Devices", devices),
            Field("Opened", when(summary.opened)),
            Field("Closed", when(summary.closed) if summary.closed else "still open"),
            Field("Consent", summary.consent or "not recorded"),
        ),
    )


def _course(summary: SessionSummary) -> Section:
    if summary.course_id is None:
        return Section("Course", fields=(Field("Course", "none: a single session"),))
    if summary.session_number is None:
        place = NONE
    elif summary.planned_sessions is None:
        place = f"{summary.session_number}"
    else:
        place = f"{summary.session_number} of {summary.planned_sessions}"
    interval = NONE if summary.interval_days is None else f"every {summary.interval_days} days"
    return Section(
        "Course",
        fields=(
            Field("Course", f"#{summary.course_id}"),
            Field("Indication", _or_none(summary.indication)),
            Field("Session", place),
            Field("Interval", interval),
            Field("Next session suggested", summary.next_session or "none planned"),
        ),
    )


def _parameters(summary: SessionSummary) -> Section:
    return Section(
        "Parameters",
        fields=(
            Field("Preset", _or_none(summary.preset)),
            Field("Mode", _or_none(summary.mode)),
            Field("Depth used", mm_range(*summary.depth_mm) if summary.depth_mm else "no shot"),
            Field("Dose per shot", ml_range(*summary.dose_ml) if summary.dose_ml else "no shot"),
        ),
    )


def _products(summary: SessionSummary) -> Section:
    table = Table(
        columns=("Product", "Lot", "Expiry"),
        rows=tuple((lot.product, lot.lot, lot.expiry) for lot in summary.lots),
        widths=(3, 2, 1.3),
        numeric=(False, False, False),
    )
    return Section(
        "Product and consumables",
        table=table if summary.lots else None,
        after=(
            *(() if summary.lots else (Field("Product lot", "none recorded"),)),
            Field("Syringe", _or_none(summary.syringe)),
            Field("Needle", _or_none(summary.needle)),
        ),
    )


def _checklist(summary: SessionSummary) -> Section:
    rows = tuple(
        (answer.question, "YES (present)" if answer.present else "no", answer.note) for answer in summary.checklist
    )
    flagged = frozenset(index for index, answer in enumerate(summary.checklist) if answer.present)
    return Section(
        "Pre-treatment checklist",
        table=Table(("Question", "Answer", "Note"), rows, (5, 1.4, 3), (False, False, False), flagged=flagged),
        empty="No checklist answers are on record.",
    )


def _zones(summary: SessionSummary) -> Section:
    rows = tuple(
        (zone.label or zone.zone, str(zone.shots), f"{zone.volume_ml:.3f}", _bare(zone.depth_mm_min, zone.depth_mm_max))
        for zone in summary.zones
    )
    depth = summary.depth_mm
    total = ("Total", str(sum(zone.shots for zone in summary.zones)), f"{summary.volume_ml:.3f}", NONE)
    if depth is not None:
        total = (*total[:3], _bare(*depth))
    counted = summary.shots + summary.shots_unreceived
    after = [
        Field("Shots on record in detail", str(summary.shots)),
        Field("Shots the device counted whose details never arrived", str(summary.shots_unreceived)),
        Field("Shots the device counted in all", str(counted)),
        Field("Volume (shots in detail)", ml(summary.volume_ml)),
    ]
    if summary.shots_unreceived:
        after.append(Field("Note", f"the volume of the {summary.shots_unreceived} shots without details is unknown"))
    return Section(
        "Treatment zones",
        table=Table(
            ("Zone", "Shots", "Volume (mL)", "Depth (mm)"),
            rows,
            (4, 1.2, 1.6, 1.6),
            (False, True, True, True),
            total=total if rows else None,
        ),
        after=tuple(after),
    )


def _bare(low: float | None, high: float | None) -> str:
    """A depth range without its unit (the column heading has it)."""
    return mm_range(low, high).removesuffix(" mm")


def _alarms(summary: SessionSummary, day: date | None) -> Section:
    rows = tuple((_when_on(a.ts, day), a.code, a.priority, a.detail) for a in summary.alarms)
    return Section(
        "Alarms",
        table=Table(("Time", "Code", "Priority", "Detail"), rows, (1.3, 1.8, 1.1, 5), (False,) * 4),
        empty="No alarms.",
    )


def _overrides(summary: SessionSummary, day: date | None) -> Section:
    rows = tuple((_when_on(o.ts, day), o.limit, o.detail, o.reason, o.by) for o in summary.overrides)
    return Section(
        "Soft-limit overrides",
        table=Table(("Time", "Limit", "What", "Reason given", "By"), rows, (1.3, 2.2, 3, 3, 1.5), (False,) * 5),
        empty="No soft limit was overridden.",
    )


def _adverse_events(summary: SessionSummary, day: date | None) -> Section:
    rows = tuple((_when_on(e.ts, day), e.kind, e.severity, e.detail, e.by) for e in summary.adverse_events)
    return Section(
        "Adverse events",
        table=Table(("Time", "Kind", "Severity", "Detail", "Noted by"), rows, (1.3, 1.8, 1.2, 4.2, 1.5), (False,) * 5),
        empty="No adverse events.",
    )


def _void(summary: SessionSummary) -> tuple[Field, ...]:
    """The red VOID line of a voided session (who, when, why), else nothing."""
    if summary.void is None:
        return ()
    v = summary.void
    return (Field(VOID, f"voided by {v.by} on {when(v.at)}: {v.reason}", alert=True),)


def _signature(summary: SessionSummary) -> Signature:
    if summary.signoff is None:
        return Signature(
            signed=False,
            headline=NOT_SIGNED,
            fields=(),
            statement="The practitioner has not signed this session off; this report is not a signed record.",
        )
    return Signature(
        signed=True,
        headline="Signed",
        fields=(
            Field("Signed by", summary.signoff.by),
            Field("Signed at", when(summary.signoff.at)),
            Field("Meaning", summary.signoff.meaning),
        ),
        statement=f"Electronically signed by {summary.signoff.by}.",
    )


# --- the aftercare sheet ------------------------------------------------------------------------------------


def aftercare_sheet(
    summary: SessionSummary,
    advice: Sequence[str],
    *,
    clinic_name: str = DEFAULT_CLINIC,
    contact: Sequence[tuple[str, str]] | None = None,
) -> AftercareSheet:
    """The patient's sheet: what was treated, the advice in plain words, the next session suggested, whom to
    call. ``contact`` is the clinic's (label, value) pairs; without it the sheet has blanks to fill in by hand."""
    head = masthead(
        summary,
        clinic_name=clinic_name,
        title=AFTERCARE_TITLE,
        privacy_note=f"{PSEUDONYMISED}: for your privacy your name is not printed here; {summary.patient} is your "
        "reference with us.",
    )
    head = replace(
        head,
        fields=(*_void(summary), Field("Treated on", long_date(summary.opened)), Field("By", summary.practitioner)),
    )
    areas = _areas(summary)
    treated = f" on {_listed(areas)}" if areas else ""
    intro = f"You had a mesotherapy treatment{treated}. Please follow this advice to help your skin recover."
    if summary.void is not None:
        nxt = "This session was voided: this sheet does not apply. Please call us."
    elif summary.next_session:
        nxt = f"We suggest your next session on {long_date(summary.next_session)}. Please call us to confirm it."
    else:
        nxt = "No further session is planned. Call us if you would like another one."
    blanks = (("Phone", "_" * 28), ("Email", "_" * 28))
    return AftercareSheet(
        masthead=head,
        intro=intro,
        advice=tuple(advice),
        next_session=nxt,
        worry=(
            "If anything worries you, for example swelling, pain or redness that gets worse instead of better, "
            "or a fever, contact us straight away."
        ),
        contact=tuple(Field(label, value) for label, value in (contact if contact else blanks)),
    )


_REGIONS = {"face": "face", "neck": "neck", "decollete": "décolleté", "scalp": "scalp", "body": "body"}
"""The body regions a zone id starts with (:mod:`mesogun.clinic.zones`), as a patient says them."""


def _areas(summary: SessionSummary) -> list[str]:
    """What was treated, in a patient's words: the zones themselves when few, else their body regions."""
    labels = [zone.label or zone.zone for zone in summary.zones]
    if len(labels) <= 4:
        return labels
    regions: list[str] = []
    for zone in summary.zones:
        prefix = zone.zone.split(".", 1)[0]
        region = _REGIONS.get(prefix, zone.label or zone.zone)
        if region not in regions:
            regions.append(region)
    return regions


def _listed(words: Sequence[str]) -> str:
    lowered = [word[:1].lower() + word[1:] for word in words]
    if len(lowered) == 1:
        return f"the {lowered[0]}"
    return "the " + ", ".join(lowered[:-1]) + f" and {lowered[-1]}"


def advice_lines(summary: SessionSummary, advice: Sequence[AftercareItem] | None) -> tuple[str, ...]:
    """The advice an aftercare sheet prints: ``advice`` if given, else what the record says was given, else the
    clinic's default (:data:`~mesogun.clinic.aftercare.DEFAULT_ADVICE`)."""
    if advice is not None:
        return tuple(item.text for item in advice)
    if summary.aftercare:
        return summary.aftercare
    return tuple(item.text for item in DEFAULT_ADVICE)
