"""Which message families a session may use with the device, from the fingerprints in its identity.

:class:`FamilyGate` is the control actor's collaborator for versioning. A device whose core fingerprint (or
protocol version) differs from this host's is refused at connect, unless the session was opened to make a
gun safe: then only ``stop`` and ``emergency_stop`` (:data:`~firmware_protocol.families.ALWAYS_OBEYED`) are
sent and every other command is refused naming both fingerprints. A further family (the logs) is used only
when the device lists it with this host's fingerprint; otherwise the host does without it and says so once.
"""

from __future__ import annotations

import logging

from firmware_protocol import CATALOG, FINGERPRINT, PROTOCOL_VERSION
from firmware_protocol.families import ALWAYS_OBEYED, BY_NAME, usable_families
from mesogun.errors import IncompatibleDevice, as_message
from mesogun.i18n import N_
from mesogun.models import GunInfo
from mesogun.wording import Wording

log = logging.getLogger(__name__)


class FamilyGate:
    """The families this session may use; ``allow_safety_only``: keep a core-incompatible session for stops."""

    def __init__(self, *, allow_safety_only: bool = False) -> None:
        self.allow_safety_only = allow_safety_only
        self.incompatible: IncompatibleDevice | None = None
        """Why the device's core is not this host's (set for a safety-only session), else ``None``."""
        self.usable: frozenset[str] = frozenset()
        """The further families whose fingerprint the device shares with this host."""
        self._info: GunInfo | None = None
        self._said: set[str] = set()

    @property
    def safety_only(self) -> bool:
        """Only ``stop`` and ``emergency_stop`` may be sent (the device's core catalog is another)."""
        return self.incompatible is not None

    def on_identity(self, info: GunInfo) -> None:
        """The device's identity at a (re)connect; raises :class:`IncompatibleDevice` naming both versions
        when its core differs, unless this gate allows a safety-only session."""
        self._info, self._said = info, set()
        self.incompatible = None
        if info.protocol_version != PROTOCOL_VERSION or info.fingerprint != FINGERPRINT:
            error = IncompatibleDevice(
                Wording(
                    N_(
                        "device {serial} speaks protocol {protocol} with core fingerprint {fingerprint}; this host "
                        "speaks protocol {ours} with core fingerprint {our_fingerprint} (update the host or the "
                        "firmware)"
                    ),
                    serial=info.serial_number,
                    protocol=info.protocol_version,
                    fingerprint=f"0x{info.fingerprint:08X}",
                    ours=PROTOCOL_VERSION,
                    our_fingerprint=f"0x{FINGERPRINT:08X}",
                )
            )
            if not self.allow_safety_only:
                raise error
            self.incompatible = error
        self.usable = usable_families(info.families, CATALOG.family_fingerprints)

    def check(self, command: str) -> None:
        """Raise :class:`IncompatibleDevice` if ``command`` may not be sent in a safety-only session."""
        if self.incompatible is not None and command not in ALWAYS_OBEYED:
            raise IncompatibleDevice(
                Wording(
                    N_("{command} refused: {why}; only stop and estop reach it"),
                    command=command,
                    why=as_message(self.incompatible),
                )
            )

    def allows(self, family: str) -> bool:
        """Whether the device's ``family`` is this host's; if not, says why once per session."""
        if family in self.usable and not self.safety_only:
            return True
        if family not in self._said and self._info is not None and not self.safety_only:
            self._said.add(family)
            wire_id = BY_NAME[family].wire_id
            theirs = dict(self._info.families).get(wire_id)
            device = "does not list it" if theirs is None else f"has fingerprint 0x{theirs:08X}"
            log.warning(
                "device %s: its %s family %s, this host's is 0x%08X: not using it",
                self._info.serial_number,
                family,
                device,
                CATALOG.family_fingerprints.get(family, 0),
            )
        return False
