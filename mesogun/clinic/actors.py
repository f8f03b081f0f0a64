"""Who does something in the clinic's workflow: a name (as the audit log shows it) and roles. The gun service
passes its signed-in principal's (``local:<os user>`` on its local socket has the practitioner role)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mesogun.clinic.errors import ClinicError, RoleRequired
from mesogun.i18n import N_
from mesogun.wording import Word, Wording

PRACTITIONER = "practitioner"
"""The role that treats and signs a session off (the service's ``Role.PRACTITIONER``, implied by technician and
admin there)."""


ADMIN = "admin"
"""The role that may void a signed-off session and erase a patient's identity (the service's ``Role.ADMIN``)."""

ROLE_WORDS = {PRACTITIONER: N_("practitioner"), ADMIN: N_("admin")}
"""The roles the clinic's rules require, as a person is told them."""


@dataclass(frozen=True)
class Actor:
    """The person (or program) acting: ``name`` as the record shows it, ``roles`` as the service grants them
    (already with the roles they imply)."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, name: str, roles: Iterable[str] = ()) -> Actor:
        """An actor with a non-blank name (refused naming ``actor``)."""
        if not isinstance(name, str) or not name.strip():
            raise ClinicError("the actor needs a name (who does it is recorded)", field="actor", value=name)
        return cls(name.strip(), frozenset(str(role) for role in roles))

    def require(self, role: str, action: str | Wording) -> None:
        """:class:`RoleRequired` (field ``actor.roles``) naming the user, the role and the action, if not held."""
        if role not in self.roles:
            held = ", ".join(sorted(self.roles))
            raise RoleRequired(
                Wording(
                    N_("{action} needs the {role} role; {user} has: {held}"),
                    action=action,
                    role=Word(role, ROLE_WORDS.get(role, "")),
                    user=self.name,
                    held=held or Word("none", N_("none")),
                ),
                field="actor.roles",
                value=sorted(self.roles),
            )
