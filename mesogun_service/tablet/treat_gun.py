"""The gun a treatment page acts on: its state as the page saw it (``seen_state``) and the stale page rule (a form
posted from a page that saw another state does nothing and says so), the open treatment session on it, and the
shots fired since this tablet armed it (a series in progress: disarming then asks first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from mesogun.errors import MesogunError
from mesogun.record.patients import PatientBook
from mesogun.record.visits import NoSuchVisit
from mesogun.session.controller import STATE_WORDS
from mesogun_service.api import treatments
from mesogun_service.hosted import HostedGun
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet.forms import FieldErrors
from mesogun_service.tablet.i18n import N_, gettext

STATE_NAMES: Final = {state.value: word for state, word in STATE_WORDS.items()}
"""Each gun state (the host's view, as ``GET /guns`` names it) as the page says it: the core's words."""

SAME_PHASE: Final = {"firing": "armed"}
"""States the stale rule takes as one: an armed gun fires and stops firing with every trigger press, and a page
that saw it armed is not out of date because a shot is in progress."""

ARMED: Final = frozenset({"armed", "firing"})


def state_of(hosted: HostedGun) -> str:
    """The gun's state now (``disconnected`` before its first connection)."""
    gun = hosted.last_gun
    return gun.state.value if gun is not None else "disconnected"


def state_text(language: str, state: str) -> str:
    """``state`` in the page's words."""
    return gettext(language, STATE_NAMES.get(state, state))


def is_stale(hosted: HostedGun, seen_state: str) -> bool:
    """Whether a page that saw the gun in ``seen_state`` is out of date now."""
    now = state_of(hosted)
    return SAME_PHASE.get(now, now) != SAME_PHASE.get(seen_state, seen_state)


def say_stale(errors: FieldErrors, hosted: HostedGun) -> None:
    """The stale page rule's message, at the form."""
    errors.say_form(
        N_("The gun is now {state}: this page was out of date. Nothing was done."),
        state=state_text(errors.language, state_of(hosted)),
    )


def hosted_of(request: Request, serial: str) -> HostedGun:
    """The gun ``serial`` names (404 naming the known ones, as the API says it, if none)."""
    registry: GunRegistry = request.app.state.registry
    return registry.get(serial)


async def open_session(request: Request, hosted: HostedGun) -> dict[str, Any] | None:
    """The treatment session open on the gun, as ``GET /guns/{serial}/treatment`` gives it, with the patient's
    ``pseudonym`` (``None``: none open)."""
    if hosted.recorder.visit_id is None:
        return None
    try:
        found: dict[str, Any] = await treatments.current(hosted, request.app.state.record)
    except NoSuchVisit:
        return None
    patient = found["patient_id"]
    record: SharedRecord = request.app.state.record
    found["pseudonym"] = await record.call(lambda r: PatientBook(r).get(patient).pseudonym)
    return found


@dataclass
class ArmMarks:
    """The gun's session shot count when this service's tablets armed it, per gun: shots since arming (a series
    in progress) are the count now less the mark."""

    marks: dict[str, int]

    def armed(self, hosted: HostedGun) -> None:
        """The gun was just armed from a tablet."""
        self.marks[hosted.url] = hosted.gun.status.shots_session

    def disarmed(self, hosted: HostedGun) -> None:
        self.marks.pop(hosted.url, None)

    def series_shots(self, hosted: HostedGun) -> int | None:
        """Shots fired since the gun was armed (0: not armed, or none yet); ``None``: armed, but not from a tablet
        of this service, so unknown (a disarm then asks, as in a series)."""
        if state_of(hosted) not in ARMED:
            self.disarmed(hosted)
            return 0
        mark = self.marks.get(hosted.url)
        if mark is None:
            return None
        try:
            return max(0, hosted.gun.status.shots_session - mark)
        except MesogunError:
            return None


def arm_marks(request: Request) -> ArmMarks:
    """The service's :class:`ArmMarks` (made at the first need)."""
    state = request.app.state
    if not hasattr(state, "tablet_arm_marks"):
        state.tablet_arm_marks = ArmMarks({})
    marks: ArmMarks = state.tablet_arm_marks
    return marks


def in_series(request: Request, hosted: HostedGun) -> bool:
    """Whether a series is in progress on the gun (shots since arming, or armed elsewhere: unknown)."""
    shots = arm_marks(request).series_shots(hosted)
    return shots is None or shots > 0
