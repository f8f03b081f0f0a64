"""Soft limits on a gun with an open treatment session (issue 14 item 2), the service's side of the one
implementation: what a configure, a fire or an arm would go past is :mod:`mesogun.clinic.limits`'s answer (through
:meth:`TreatmentBook.check_limits <mesogun.record.treatment.TreatmentBook.check_limits>`), refused naming the
limit, the value and how to override, unless the request carries an ``override_reason``, which the record keeps
beside the values (:meth:`TreatmentBook.override <mesogun.record.treatment.TreatmentBook.override>`).

:class:`SoftLimits` also follows what the session's current zone has received, shot by shot, for the watcher that
stops trigger-fired shots at the zone's limit (:mod:`mesogun_service.zone_watch`). An override of the zone's volume
holds for the rest of the arming it was given in (each arming is checked again; a zone or session change ends it).
The device's hard limits are the Gun's to check (before anything is sent) and no override reaches past them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from firmware_protocol import Mode
from mesogun.clinic import limits
from mesogun.clinic.actors import Actor
from mesogun.clinic.errors import ReasonRequired, SoftLimitExceeded, UnknownPreset, VisitNotTreatment
from mesogun.clinic.limits import Breach, joined
from mesogun.clinic.presets import Preset, find
from mesogun.i18n import N_
from mesogun.record import TreatmentRecord
from mesogun.record.presets import PresetBook, clinic_presets
from mesogun.record.summaries import OVERRIDE_NOTE
from mesogun.record.treatment import TreatmentBook, zone_volume_ml
from mesogun.record.visits import NoSuchVisit
from mesogun.wording import Wording
from mesogun_service.hosted import HostedGun
from mesogun_service.record_access import SharedRecord

ARMED_STATES = frozenset({"armed", "firing"})
"""The gun states (as the event stream's statuses name them) in which a trigger fires."""


@dataclass
class ZoneState:
    """The open treatment session on one gun, as its soft limits see it."""

    visit_id: int
    zone: str | None
    preset: Preset | None
    delivered_ml: float
    """What the session has delivered into ``zone`` so far, mL (from the record, then each shot added)."""
    overridden: bool = False
    """An override of the zone's volume limit holds (for the rest of this arming)."""
    stopped: bool = False
    """The watcher stopped the gun at the zone's limit (and said so); cleared by an override."""

    def next_shot_breaches(self, dose_ml: float) -> tuple[Breach, ...]:
        """The zone-volume breach one more shot of ``dose_ml`` would make (empty: room for it, or no limit)."""
        if self.preset is None or self.zone is None:
            return ()
        found = limits.breaches(self.preset, None, None, dose_ml, zone=self.zone, zone_delivered_ml=self.delivered_ml)
        return tuple(b for b in found if b.field == "volume_ml")


class SoftLimits:
    """One gun's soft limits: the open treatment session on it (read from the record whenever the gun's visit
    changes), the checks of the routes that set, arm and fire, and the zone's running volume."""

    def __init__(self, hosted: HostedGun, record: SharedRecord) -> None:
        self.hosted = hosted
        self.record = record
        self.state: ZoneState | None = None
        self._loaded_for: int | None = None
        self._loaded = False

    # -------------------------------------------------------------------------------------------- the session

    @property
    def stale(self) -> bool:
        """Whether :attr:`state` must be read from the record again (never read, the gun's visit changed, events
        were missed)."""
        return not self._loaded or self._loaded_for != self.hosted.recorder.visit_id

    async def current(self) -> ZoneState | None:
        """The open treatment session on the gun (``None``: none, or a visit without a patient)."""
        if self.stale:
            await self.reload()
        return self.state

    async def reload(self) -> ZoneState | None:
        """Read the gun's treatment session again from the record (after a start, a zone change, a sign-off, or
        events this watcher missed); an override in force stays while the visit and its zone are the same."""
        visit = self.hosted.recorder.visit_id
        state = None if visit is None else await self.record.call(lambda r: _load(r, visit))
        old = self.state
        if state is not None and old is not None and (old.visit_id, old.zone) == (state.visit_id, state.zone):
            state.overridden, state.stopped = old.overridden, old.stopped
        self.state, self._loaded_for, self._loaded = state, visit, True
        return state

    def forget(self) -> None:
        """Read the session from the record at the next need (events were missed, the connection changed)."""
        self._loaded = False

    # -------------------------------------------------------------------------------------------- the checks

    async def check_configure(
        self, *, mode: Mode | None, depth_mm: float | None, preset: str | None, reason: str | None, actor: Actor
    ) -> str | None:
        """A configure to ``mode`` at ``depth_mm`` (what the gun will be set to): refused past a depth limit without
        ``reason``; with one, the override is kept and its reason returned. In a treatment session the limits are
        the mode's and the session preset's (the override kept beside the session's values); outside one, the
        mode's and those of ``preset`` (where the values came from; the override kept as the connection's note,
        as the CLI enters it)."""
        if depth_mm is None:
            return None
        state = await self.current()
        if state is not None:
            visit = state.visit_id
            found = await self.record.call(
                lambda r: TreatmentBook(r).check_limits(visit, mode=mode, depth_mm=depth_mm, planned_ml=0.0)
            )
            return await self._authorize(state, [b for b in found if b.field == "depth_mm"], reason, actor)
        chosen = None if preset is None else await self.record.call(lambda r: PresetBook(r).find(preset))
        found = limits.breaches(chosen, mode, depth_mm)
        kept = _authorized(found, reason)
        if kept is not None:
            await self.hosted.gun.note(OVERRIDE_NOTE, "confirmed: " + "; ".join(b.message for b in found), kept)
        return kept

    async def check_fire(self, *, count: int, dose_ml: float, reason: str | None, actor: Actor) -> str | None:
        """A fire of ``count`` shots of ``dose_ml`` (0: until stopped, at least one shot): refused if the zone would
        receive more than the preset's volume per zone, unless overridden (``reason``) now or since the gun was
        armed."""
        state = await self.current()
        if state is None or state.overridden:
            return None
        visit, planned = state.visit_id, dose_ml * max(count, 1)
        found = await self.record.call(
            lambda r: TreatmentBook(r).check_limits(
                visit, mode=None, depth_mm=None, dose_ml=dose_ml, planned_ml=planned
            )
        )
        kept = await self._authorize(state, found, reason, actor)
        if kept is not None:
            state.overridden, state.stopped = True, False
        return kept

    async def check_arm(self, *, dose_ml: float, reason: str | None, actor: Actor) -> str | None:
        """Arming where the next shot would take the zone past its volume limit (the watcher stopped the gun there,
        or a fire filled it) needs an override (``reason``); it then holds for this arming."""
        state = await self.current()
        if state is None:
            return None
        state.overridden = False  # the gun was disarmed since an earlier override, which ended then
        kept = await self._authorize(state, state.next_shot_breaches(dose_ml), reason, actor)
        if kept is not None:
            state.overridden, state.stopped = True, False
        return kept

    async def _authorize(
        self, state: ZoneState, found: Sequence[Breach], reason: str | None, actor: Actor
    ) -> str | None:
        """:func:`_authorized`, the override then kept in the session (beside its values, with the reason)."""
        if _authorized(found, reason) is None:
            return None
        visit = state.visit_id
        return await self.record.call(lambda r: TreatmentBook(r).override(visit, found, reason, actor=actor))


def _load(record: TreatmentRecord, visit_id: int) -> ZoneState | None:
    """The open treatment session of ``visit_id`` (``None``: not a treatment session, or closed)."""
    book = TreatmentBook(record)
    try:
        treatment = book.get(visit_id)
    except (NoSuchVisit, VisitNotTreatment):
        return None
    if not treatment.is_open:
        return None
    with record.reading() as db:
        try:
            preset = None if treatment.preset is None else find(treatment.preset, clinic_presets(db))
        except UnknownPreset:  # a clinic preset no longer on record: no limits to keep
            preset = None
        delivered = zone_volume_ml(db, visit_id, treatment.zone)
    return ZoneState(visit_id, treatment.zone, preset, delivered)


def _authorized(found: Sequence[Breach], reason: str | None) -> str | None:
    """:func:`mesogun.clinic.limits.authorize` as the service says it: a refusal names the limits and how to
    override through the API (the field ``override_reason`` for a blank one)."""
    if not found:
        return None
    if reason is not None and not reason.strip():
        raise ReasonRequired(
            Wording(
                N_(
                    "override_reason is blank: an override of a soft limit needs a reason, entered in the record "
                    "({summary}); nothing was sent"
                ),
                summary=joined(b.said for b in found),
            ),
            field="override_reason",
            value=reason,
        )
    try:
        return limits.authorize(found, reason)
    except SoftLimitExceeded as exc:
        refused = SoftLimitExceeded(
            Wording(N_("{refusal}; nothing was sent"), refusal=exc.args[0]), field=exc.field, value=exc.value
        )
        refused.hint = exc.hint  # how to override, in the asker's words (the service's: override_reason)
        raise refused from None
