"""What the session report and the aftercare sheet say, decided once for both formats and in the document's
language (English or French, through the core's message catalog, :mod:`mesogun.i18n`): a
:class:`~mesogun.clinic.summary.SessionSummary` becomes a document of titled sections (fields, a table, lines),
every value already worded and formatted (volumes in mL to 3 decimals with the language's decimal mark, depths in
mm, times in UTC, dates in words: :mod:`mesogun.i18n.formats`).

The HTML (:mod:`mesogun.reports.html`) and PDF (:mod:`mesogun.reports.pdf`) renderers only lay these out, the words
around the content included (headings, "page x of y": :class:`Furniture`), so the two formats cannot disagree and
hold no words of their own. A word the record holds that is a catalog word (a zone label, a checklist question,
the default advice, the sign-off's meaning) is shown in the document's language; a clinic's own words as written.
Pure: no template engine, no PDF library, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from mesogun.clinic.aftercare import DEFAULT_ADVICE, AftercareItem
from mesogun.clinic.summary import SessionSummary
from mesogun.i18n import DEFAULT_LANGUAGE, N_, checked_language, formats, gettext

SESSION_REPORT_TITLE = N_("Treatment session report")
AFTERCARE_TITLE = N_("Aftercare after your treatment")
DEFAULT_CLINIC = N_("Clinic")
PHONE = N_("Phone")
EMAIL = N_("Email")
"""The labels of a clinic's contact details (:func:`aftercare_sheet`'s ``contact``), translated on the sheet."""
BLANK = "_" * 28
"""A line to fill in by hand."""
"""The clinic's name when none is given (shown in the document's language)."""
NOT_SIGNED = N_("NOT SIGNED")
VOID = N_("VOID")
PSEUDONYMISED = N_("PSEUDONYMISED")
NONE = "—"
"""A value the record does not hold."""

Translate = Callable[[str], str]
"""A language's catalog as ``_``: a message in that language."""


def words(language: str) -> Translate:
    """``_`` for ``language``: a message of the core's catalog in that language; a text the catalog does not hold
    (a clinic's own words) as it is, and an empty one empty."""

    def _(message: str) -> str:
        return gettext(language, message) if message else message

    return _


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
    title: str = "Signature"
    """The block's heading."""


@dataclass(frozen=True)
class Furniture:
    """The words a renderer sets around a document's content, in the document's language: its language tag (the
    HTML's ``lang``, the PDF's metadata), the visit's label, "page x of y", the footer's pseudonymised mark."""

    language: str = DEFAULT_LANGUAGE
    visit: str = "Visit"
    """The label of the visit id in the masthead."""
    visit_of: str = "Visit {visit}"
    """The visit named in a title or footer; ``{visit}`` is its id."""
    page_of: str = "page {page} of {pages}"
    """A template the renderer fills: ``{page}`` and ``{pages}`` (the PDF knows the count last, the HTML's is the
    printer's counter)."""
    pseudonymised: str = "pseudonymised"
    """Every page's footer mark of a pseudonymised document."""


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
    furniture: Furniture = Furniture()

    @property
    def visit_label(self) -> str:
        """``Visit 17`` in the document's language."""
        return self.furniture.visit_of.format(visit=self.visit_id)

    @property
    def language(self) -> str:
        return self.furniture.language


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
    advice_title: str = "What to do"
    worry_title: str = "If you are worried"
    clinic_label: str = "Clinic"
    """The label of the clinic's name above its contact details."""
    clinic_named: bool = True
    """Whether the clinic was named; if not, its name is a blank to fill in by hand, like its phone."""

    @property
    def reach(self) -> tuple[Field, ...]:
        """Whom to call: the clinic by name (or a blank), then its contact details (or the blanks)."""
        return (Field(self.clinic_label, self.masthead.clinic if self.clinic_named else BLANK), *self.contact)


# --- formatting -----------------------------------------------------------------------------------------------


def ml(volume: float, language: str = DEFAULT_LANGUAGE) -> str:
    """A volume in mL to 3 decimals: ``0.125 mL`` (``0,125 mL`` in French)."""
    return f"{formats.decimal(language, volume, 3)} mL"


def _mm_number(depth: float, language: str) -> str:
    text = formats.decimal(language, depth, 2)
    return text[:-1] if text.endswith("0") else text


def mm_range(low: float | None, high: float | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A depth range in mm: ``1.5–2.25 mm``, ``2.0 mm`` when both ends agree, ``—`` when unknown."""
    if low is None or high is None:
        return NONE
    if _mm_number(low, language) == _mm_number(high, language):
        return f"{_mm_number(low, language)} mm"
    return f"{_mm_number(low, language)}–{_mm_number(high, language)} mm"


def ml_range(low: float, high: float, language: str = DEFAULT_LANGUAGE) -> str:
    """A dose range in mL per shot, 3 decimals."""
    if f"{low:.3f}" == f"{high:.3f}":
        return ml(low, language)
    return f"{formats.decimal(language, low, 3)}–{formats.decimal(language, high, 3)} mL"


def _parsed(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def when(ts: str | None) -> str:
    """A record time (ISO 8601, UTC) as a person reads it, the same in every language: ``2025-03-04 10:15:02 UTC``;
    text that is not a time is shown as it is."""
    if ts is None:
        return NONE
    moment = _parsed(ts)
    return ts if moment is None else formats.timestamp(moment)


def _when_on(ts: str, day: date | None) -> str:
    """A time in a table: only the time of day when it falls on the session's day."""
    moment = _parsed(ts)
    if moment is None:
        return ts
    if day is not None and moment.date() == day:
        return formats.time_of_day(moment)
    return f"{formats.short_date(moment)} {formats.time_of_day(moment)}"


def long_date(iso: str, language: str = DEFAULT_LANGUAGE) -> str:
    """An ISO date (or time) in words in ``language``: ``Tuesday 18 March 2025``, ``mardi 18 mars 2025``; text that
    is not a date as it is."""
    moment = _parsed(iso)
    return iso if moment is None else formats.long_date(language, moment.date())


def _sentences(*sentences: str) -> str:
    """Whole sentences, each its own message, in one paragraph."""
    return " ".join(sentences)


def _or_none(value: str | None) -> str:
    return value if value else NONE


MODE_NAMES: Mapping[str, str] = {
    "single": N_("single"),
    "burst": N_("burst"),
    "continuous": N_("continuous"),
    "nappage": N_("nappage"),
}
"""The record's firing modes (the device's own names), as the report says them."""

PRIORITY_NAMES: Mapping[str, str] = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}
"""The record's alarm priorities, as the report says them."""

SEVERITY_NAMES: Mapping[str, str] = {"mild": N_("mild"), "moderate": N_("moderate"), "severe": N_("severe")}
"""The record's adverse event severities (:data:`mesogun.record.treatment.SEVERITIES`), as the report says them."""


def _term(_: Translate, names: Mapping[str, str], value: str) -> str:
    """A value of one of the record's vocabularies in the document's language; any other value as it is."""
    return _(names[value]) if value in names else value


# --- the masthead -------------------------------------------------------------------------------------------


def masthead(
    summary: SessionSummary,
    *,
    clinic_name: str,
    title: str,
    privacy_note: str = "",
    language: str = DEFAULT_LANGUAGE,
) -> Masthead:
    """The heading of a document in ``language`` (``title`` and ``privacy_note`` already in it): the patient by
    pseudonym, with the identifying name only when the caller asked for it (``summary.patient_name`` given);
    ``privacy_note`` says so when it is left out."""
    language = checked_language(language)
    _ = words(language)
    name = (summary.patient_name or "").strip()
    if name:
        patient = Field(_("Patient"), _("{name} (id {id})").format(name=name, id=summary.patient))
        note = ""
    else:
        patient = Field(_("Patient"), summary.patient)
        note = privacy_note or _("PSEUDONYMISED: the patient's identifying details are left out of this document.")
    clinic = clinic_name.strip()
    return Masthead(
        clinic=clinic if clinic and clinic != DEFAULT_CLINIC else _(DEFAULT_CLINIC),
        title=title,
        visit_id=summary.visit_id,
        patient=patient,
        pseudonymised=not name,
        privacy_note=note,
        furniture=Furniture(
            language=language,
            visit=_("Visit"),
            visit_of=_("Visit {visit}"),
            page_of=_("page {page} of {pages}"),
            pseudonymised=_("pseudonymised"),
        ),
    )


# --- the session report -------------------------------------------------------------------------------------


def session_report(
    summary: SessionSummary, *, clinic_name: str = DEFAULT_CLINIC, language: str = DEFAULT_LANGUAGE
) -> SessionReport:
    """Everything the session report says, in reading order, in ``language`` (a
    :class:`~mesogun.errors.ParameterError` naming ``language`` if it does not ship)."""
    language = checked_language(language)
    _ = words(language)
    day = _day(summary.opened)
    head = masthead(summary, clinic_name=clinic_name, title=_(SESSION_REPORT_TITLE), language=language)
    signed = _("signed by {user}").format(user=summary.signoff.by) if summary.signoff else _(NOT_SIGNED)
    head = replace(
        head,
        fields=(
            *_void(summary, language),
            Field(_("Practitioner"), summary.practitioner),
            Field(_("Date"), _date(summary)),
            Field(_("Sign-off"), signed, alert=summary.signoff is None),
        ),
    )
    sections = (
        _session(summary, language),
        _course(summary, language),
        _parameters(summary, language),
        _products(summary, language),
        _checklist(summary, language),
        _zones(summary, language),
        _alarms(summary, day, language),
        _overrides(summary, day, language),
        _adverse_events(summary, day, language),
        Section(
            _("Aftercare given"),
            lines=tuple(_(line) for line in summary.aftercare),
            empty=_("No aftercare advice is on record."),
        ),
        Section(_("Notes"), lines=summary.notes, empty=_("No notes.")),
    )
    return SessionReport(
        masthead=head,
        sections=sections,
        signature=_signature(summary, language),
        footnote=_sentences(_("Times are UTC."), _("Volumes are as the device reports them, in mL.")),
    )


def _day(ts: str) -> date | None:
    moment = _parsed(ts)
    return None if moment is None else moment.date()


def _date(summary: SessionSummary) -> str:
    moment = _parsed(summary.opened)
    return summary.opened if moment is None else formats.short_date(moment)


def _session(summary: SessionSummary, language: str) -> Section:
    _ = words(language)
    devices = ", ".join(summary.devices) if summary.devices else _("none recorded")
    return Section(
        _("Session"),
        fields=(
            Field(_("Device") if len(summary.devices) == 1 else _("Devices"), devices),
            Field(_("Opened"), when(summary.opened)),
            Field(_("Closed"), when(summary.closed) if summary.closed else _("still open")),
            Field(_("Consent"), summary.consent or _("not recorded")),
        ),
    )


def _course(summary: SessionSummary, language: str) -> Section:
    _ = words(language)
    if summary.course_id is None:
        return Section(_("Course"), fields=(Field(_("Course"), _("none: a single session")),))
    if summary.session_number is None:
        place = NONE
    elif summary.planned_sessions is None:
        place = f"{summary.session_number}"
    else:
        place = _("{session} of {planned}").format(session=summary.session_number, planned=summary.planned_sessions)
    interval = NONE if summary.interval_days is None else _("every {days} days").format(days=summary.interval_days)
    return Section(
        _("Course"),
        fields=(
            Field(_("Course"), _("#{course}").format(course=summary.course_id)),
            Field(_("Indication"), _or_none(summary.indication)),
            Field(_("Session"), place),
            Field(_("Interval"), interval),
            Field(_("Next session suggested"), summary.next_session or _("none planned")),
        ),
    )


def _parameters(summary: SessionSummary, language: str) -> Section:
    _ = words(language)
    return Section(
        _("Parameters"),
        fields=(
            Field(_("Preset"), _or_none(summary.preset)),
            Field(_("Mode"), _term(_, MODE_NAMES, summary.mode) if summary.mode else NONE),
            Field(_("Depth used"), mm_range(*summary.depth_mm, language) if summary.depth_mm else _("no shot")),
            Field(_("Dose per shot"), ml_range(*summary.dose_ml, language) if summary.dose_ml else _("no shot")),
        ),
    )


def _products(summary: SessionSummary, language: str) -> Section:
    _ = words(language)
    table = Table(
        columns=(_("Product"), _("Lot"), _("Expiry")),
        rows=tuple((lot.product, lot.lot, lot.expiry) for lot in summary.lots),
        widths=(3, 2, 1.3),
        numeric=(False, False, False),
    )
    return Section(
        _("Product and consumables"),
        table=table if summary.lots else None,
        after=(
            *(() if summary.lots else (Field(_("Product lot"), _("none recorded")),)),
            Field(_("Syringe"), _or_none(summary.syringe)),
            Field(_("Needle"), _or_none(summary.needle)),
        ),
    )


def _checklist(summary: SessionSummary, language: str) -> Section:
    _ = words(language)
    rows = tuple(
        (_(answer.question), _("YES (present)") if answer.present else _("no"), answer.note)
        for answer in summary.checklist
    )
    flagged = frozenset(index for index, answer in enumerate(summary.checklist) if answer.present)
    return Section(
        _("Pre-treatment checklist"),
        table=Table((_("Question"), _("Answer"), _("Note")), rows, (5, 1.4, 3), (False, False, False), flagged=flagged),
        empty=_("No checklist answers are on record."),
    )


def _zones(summary: SessionSummary, language: str) -> Section:
    _ = words(language)
    rows = tuple(
        (
            _(zone.label) if zone.label else zone.zone,
            str(zone.shots),
            formats.decimal(language, zone.volume_ml, 3),
            _bare(zone.depth_mm_min, zone.depth_mm_max, language),
        )
        for zone in summary.zones
    )
    depth = summary.depth_mm
    total = (
        _("Total"),
        str(sum(zone.shots for zone in summary.zones)),
        formats.decimal(language, summary.volume_ml, 3),
        NONE,
    )
    if depth is not None:
        total = (*total[:3], _bare(*depth, language))
    counted = summary.shots + summary.shots_unreceived
    after = [
        Field(_("Shots on record in detail"), str(summary.shots)),
        Field(_("Shots the device counted whose details never arrived"), str(summary.shots_unreceived)),
        Field(_("Shots the device counted in all"), str(counted)),
        Field(_("Volume (shots in detail)"), ml(summary.volume_ml, language)),
    ]
    if summary.shots_unreceived:
        unknown = _("the volume of the {shots} shots without details is unknown")
        after.append(Field(_("Note"), unknown.format(shots=summary.shots_unreceived)))
    return Section(
        _("Treatment zones"),
        table=Table(
            (_("Zone"), _("Shots"), _("Volume (mL)"), _("Depth (mm)")),
            rows,
            (4, 1.2, 1.6, 1.6),
            (False, True, True, True),
            total=total if rows else None,
        ),
        after=tuple(after),
    )


def _bare(low: float | None, high: float | None, language: str) -> str:
    """A depth range without its unit (the column heading has it)."""
    return mm_range(low, high, language).removesuffix(" mm")


def _alarms(summary: SessionSummary, day: date | None, language: str) -> Section:
    _ = words(language)
    rows = tuple((_when_on(a.ts, day), a.code, _term(_, PRIORITY_NAMES, a.priority), a.detail) for a in summary.alarms)
    return Section(
        _("Alarms"),
        table=Table((_("Time"), _("Code"), _("Priority"), _("Detail")), rows, (1.3, 1.8, 1.1, 5), (False,) * 4),
        empty=_("No alarms."),
    )


def _overrides(summary: SessionSummary, day: date | None, language: str) -> Section:
    _ = words(language)
    rows = tuple((_when_on(o.ts, day), o.limit, o.detail, o.reason, o.by) for o in summary.overrides)
    return Section(
        _("Soft-limit overrides"),
        table=Table(
            (_("Time"), _("Limit"), _("What"), _("Reason given"), _("By")), rows, (1.3, 2.2, 3, 3, 1.5), (False,) * 5
        ),
        empty=_("No soft limit was overridden."),
    )


def _adverse_events(summary: SessionSummary, day: date | None, language: str) -> Section:
    _ = words(language)
    rows = tuple(
        (_when_on(e.ts, day), e.kind, _term(_, SEVERITY_NAMES, e.severity), e.detail, e.by)
        for e in summary.adverse_events
    )
    return Section(
        _("Adverse events"),
        table=Table(
            (_("Time"), _("Kind"), _("Severity"), _("Detail"), _("Noted by")),
            rows,
            (1.3, 1.8, 1.2, 4.2, 1.5),
            (False,) * 5,
        ),
        empty=_("No adverse events."),
    )


def _void(summary: SessionSummary, language: str) -> tuple[Field, ...]:
    """The red VOID line of a voided session (who, when, why), else nothing."""
    if summary.void is None:
        return ()
    _ = words(language)
    v = summary.void
    voided = _("voided by {user} on {time}: {reason}").format(user=v.by, time=when(v.at), reason=v.reason)
    return (Field(_(VOID), voided, alert=True),)


def _signature(summary: SessionSummary, language: str) -> Signature:
    _ = words(language)
    if summary.signoff is None:
        statement = _("The practitioner has not signed this session off; this report is not a signed record.")
        return Signature(signed=False, headline=_(NOT_SIGNED), fields=(), statement=statement, title=_("Signature"))
    return Signature(
        signed=True,
        headline=_("Signed"),
        fields=(
            Field(_("Signed by"), summary.signoff.by),
            Field(_("Signed at"), when(summary.signoff.at)),
            Field(_("Meaning"), _(summary.signoff.meaning)),
        ),
        statement=_("Electronically signed by {user}.").format(user=summary.signoff.by),
        title=_("Signature"),
    )


# --- the aftercare sheet ------------------------------------------------------------------------------------


def aftercare_sheet(
    summary: SessionSummary,
    advice: Sequence[str],
    *,
    clinic_name: str = DEFAULT_CLINIC,
    contact: Sequence[tuple[str, str]] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> AftercareSheet:
    """The patient's sheet in ``language``: what was treated, the advice in plain words (a line that is a catalog
    word, the default advice, in that language), the next session suggested, whom to call. ``contact`` is the
    clinic's (label, value) pairs, a label that is a catalog word ("Phone", "Email") in that language; without it
    the sheet has blanks to fill in by hand, and so has an unnamed clinic's name."""
    language = checked_language(language)
    _ = words(language)
    reference = _(
        "PSEUDONYMISED: for your privacy your name is not printed here; {reference} is your reference with us."
    )
    head = masthead(
        summary,
        clinic_name=clinic_name,
        title=_(AFTERCARE_TITLE),
        privacy_note=reference.format(reference=summary.patient),
        language=language,
    )
    head = replace(
        head,
        fields=(
            *_void(summary, language),
            Field(_("Treated on"), long_date(summary.opened, language)),
            Field(_("By"), summary.practitioner),
        ),
    )
    areas = _areas(summary, language)
    if areas:
        treated = _("You had a mesotherapy treatment on the {areas}.").format(areas=_listed(areas, language))
    else:
        treated = _("You had a mesotherapy treatment.")
    intro = _sentences(treated, _("Please follow this advice to help your skin recover."))
    if summary.void is not None:
        nxt = _sentences(_("This session was voided: this sheet does not apply."), _("Please call us."))
    elif summary.next_session:
        suggested = _("We suggest your next session on {date}.").format(date=long_date(summary.next_session, language))
        nxt = _sentences(suggested, _("Please call us to confirm it."))
    else:
        nxt = _sentences(_("No further session is planned."), _("Call us if you would like another one."))
    blanks = ((PHONE, BLANK), (EMAIL, BLANK))
    named = clinic_name.strip() not in ("", DEFAULT_CLINIC)
    return AftercareSheet(
        masthead=head,
        intro=intro,
        advice=tuple(_(line) for line in advice),
        next_session=nxt,
        worry=_(
            "If anything worries you, for example swelling, pain or redness that gets worse instead of better, "
            "or a fever, contact us straight away."
        ),
        contact=tuple(Field(_(label), value) for label, value in (contact if contact else blanks)),
        advice_title=_("What to do"),
        worry_title=_("If you are worried"),
        clinic_label=_("Clinic"),
        clinic_named=named,
    )


_REGIONS = {
    "face": N_("face"),
    "neck": N_("neck"),
    "decollete": N_("décolleté"),
    "scalp": N_("scalp"),
    "body": N_("body"),
}
"""The body regions a zone id starts with (:mod:`mesogun.clinic.zones`), as a patient says them."""


def _areas(summary: SessionSummary, language: str) -> list[str]:
    """What was treated, in a patient's words: the zones themselves when few, else their body regions."""
    _ = words(language)
    labels = [_(zone.label) if zone.label else zone.zone for zone in summary.zones]
    if len(labels) <= 4:
        return labels
    regions: list[str] = []
    for zone in summary.zones:
        prefix = zone.zone.split(".", 1)[0]
        region = _(_REGIONS[prefix]) if prefix in _REGIONS else (_(zone.label) if zone.label else zone.zone)
        if region not in regions:
            regions.append(region)
    return regions


def _listed(names: Sequence[str], language: str) -> str:
    """``forehead, neck and décolleté``: the names lowercased (they are zone labels), in ``language``'s list."""
    _ = words(language)
    lowered = [name[:1].lower() + name[1:] for name in names]
    if len(lowered) == 1:
        return lowered[0]
    return _("{items} and {last}").format(items=", ".join(lowered[:-1]), last=lowered[-1])


def advice_lines(summary: SessionSummary, advice: Sequence[AftercareItem] | None) -> tuple[str, ...]:
    """The advice an aftercare sheet prints: ``advice`` if given, else what the record says was given, else the
    clinic's default (:data:`~mesogun.clinic.aftercare.DEFAULT_ADVICE`); as written (the sheet shows a catalog
    word in its language: :func:`aftercare_sheet`)."""
    if advice is not None:
        return tuple(item.text for item in advice)
    if summary.aftercare:
        return summary.aftercare
    return tuple(item.text for item in DEFAULT_ADVICE)
