"""Who a request acts as: the roles and the :class:`Principal` the store and the HTTP dependencies share.

Kept apart from :mod:`.auth` so the store and the ``users`` CLI do not import FastAPI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

Via = Literal["bearer", "cookie", "local"]
"""How a request proved who it is: an ``Authorization: Bearer`` token, the browser's session cookie, or the
service's local Unix socket (whoever can open it is the service's own OS user)."""


class Role(StrEnum):
    """What a user may do: ``assistant`` prepares treatments (patients, courses, product lots, the checklist;
    reads summaries) but never fires or signs off, ``practitioner`` also treats (every gun operation, starting and
    signing off a treatment session), ``technician`` also services the gun (diagnostics; calibration and firmware
    later, each after a fresh re-authentication), ``admin`` manages users and erases a patient's identity.
    """

    ASSISTANT = "assistant"
    PRACTITIONER = "practitioner"
    TECHNICIAN = "technician"
    ADMIN = "admin"


IMPLIED: dict[Role, frozenset[Role]] = {
    Role.ASSISTANT: frozenset({Role.ASSISTANT}),
    Role.PRACTITIONER: frozenset({Role.PRACTITIONER, Role.ASSISTANT}),
    Role.TECHNICIAN: frozenset({Role.TECHNICIAN, Role.PRACTITIONER, Role.ASSISTANT}),
    Role.ADMIN: frozenset(Role),
}
"""The roles each role includes: admin implies every role, technician implies practitioner, practitioner implies
assistant."""


def effective_roles(roles: Iterable[Role]) -> frozenset[Role]:
    """``roles`` with the roles they imply."""
    return frozenset().union(*(IMPLIED[role] for role in roles))


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request.

    ``user`` is the account name (``local:<os user>`` on the local socket), ``roles`` the roles it was given
    (:meth:`has` applies the implications), ``session_id`` the sign-in session (``None`` on the local socket),
    ``fresh_until`` until when a technician operation is allowed without re-authenticating again.
    """

    user: str
    roles: frozenset[Role]
    via: Via
    session_id: int | None = None
    fresh_until: datetime | None = None
    expires_at: datetime | None = None
    """When the session ends at the latest (its absolute lifetime); ``None`` on the local socket."""
    csrf_token: str | None = field(default=None, repr=False, compare=False)
    """The session's CSRF token, which a cookie-authenticated unsafe request must echo in ``X-CSRF-Token``."""

    def has(self, role: Role) -> bool:
        """Whether this principal holds ``role``, directly or implied (an admin is also a technician)."""
        return role in effective_roles(self.roles)

    def is_fresh(self, now: datetime) -> bool:
        """Whether a re-authentication is still fresh at ``now``."""
        return self.fresh_until is not None and now < self.fresh_until


def local_principal(os_user: str) -> Principal:
    """The principal of a request on the local socket: ``local:<os user>`` with the practitioner role."""
    return Principal(user=f"local:{os_user}", roles=frozenset({Role.PRACTITIONER}), via="local")
