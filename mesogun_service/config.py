"""What a service runs with: its guns, where it listens, its record and accounts, its fail-safe grace period —
from a TOML file (read with :mod:`tomllib`) and the ``mesogun serve`` options, which override the file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mesogun.errors import ParameterError
from mesogun.reports.content import BLANK, EMAIL, PHONE
from mesogun.service_client import default_socket_path
from mesogun_service.accounts.location import accounts_path

DEFAULT_PORT = 8750
"""The service's TCP port unless configured."""

DEFAULT_ATTENDED_GRACE_S = 5.0
"""How long an armed gun may go without a live attended client before the service disarms it, s."""

MAX_CLINIC_TEXT = 120
"""The longest clinic name, phone or email printed on a page, characters."""

MAX_BODY_BYTES = 64 * 1024
"""The largest request body accepted (a gun command is well under 1 kB)."""

MAX_RUN_BODY_BYTES = 16 * 1024 * 1024
"""The largest calibration run accepted (``POST /calibrations``: the run's readings and its certificate, a PDF with
plots, base64)."""


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``mesogun serve`` needs; see docs/service.md for the file format."""

    devices: tuple[str, ...] = ()
    """Gun URLs (a serial port, ``socket://host:port``, ``sim://``), each owned exclusively by the service."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    socket: Path | None = field(default_factory=default_socket_path)
    """The local socket (mode 0600) for CLI access on this machine; ``None``: none."""
    record: Path | str | None = None
    """The treatment record: a file, or a database URL (``postgresql://…``: one record for a clinic's rooms);
    default: the user's data folder, as for the CLI."""
    accounts: Path | None = None
    """The users and the audit trail (default: ``accounts.sqlite`` beside the default record)."""
    attended_grace_s: float = DEFAULT_ATTENDED_GRACE_S
    trusted_proxy: str | None = None
    """The one proxy address whose ``X-Forwarded-For`` is believed (default: none is)."""
    baud: int | None = None
    checklist: Path | None = None
    """The clinic's pre-treatment checklist, a TOML file of ``[[item]]`` tables (``id``, ``question``); default: the
    built-in items (:data:`mesogun.clinic.checklist.DEFAULT_ITEMS`)."""
    clinic_name: str = ""
    """The clinic's name, printed on every report and aftercare sheet (default: none, a blank on the sheet)."""
    clinic_phone: str = ""
    clinic_email: str = ""
    """Whom a patient calls, printed on the aftercare sheet (default: blanks to fill in by hand)."""

    @property
    def loopback_only(self) -> bool:
        """Whether the service listens on the loopback interface only."""
        return self.host in ("127.0.0.1", "::1", "localhost")

    def accounts_path(self) -> Path:
        """Where the users and the audit trail are kept (``accounts``, ``$MESOGUN_ACCOUNTS``, or the user's data
        folder, created if absent: the same store ``mesogun users`` writes by default)."""
        return accounts_path(self.accounts)

    def clinic_contact(self) -> tuple[tuple[str, str], ...] | None:
        """The clinic's contact details as the aftercare sheet prints them (label, value), ``None`` if none is set."""
        if not (self.clinic_phone or self.clinic_email):
            return None
        return ((PHONE, self.clinic_phone or BLANK), (EMAIL, self.clinic_email or BLANK))


_KEYS: dict[str, type | tuple[type, ...]] = {
    "devices": list,
    "host": str,
    "port": int,
    "socket": (str, bool),
    "record": str,
    "accounts": str,
    "attended_grace_s": (int, float),
    "trusted_proxy": str,
    "baud": int,
    "checklist": str,
    "clinic_name": str,
    "clinic_phone": str,
    "clinic_email": str,
}


def record_location(given: str) -> Path | str:
    """A record given as text: a database URL as it is, a file path with ``~`` expanded."""
    from mesogun.record.database import is_url

    return given if is_url(given) else Path(given).expanduser()


def load_config(path: Path) -> ServiceConfig:
    """The configuration in the TOML file at ``path``; :class:`ParameterError` naming the key for a bad one."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(
            f"config={path}: cannot read it ({exc.strerror})", field="config", value=str(path)
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"config={path}: not valid TOML ({exc})", field="config", value=str(path)) from exc
    return config_from(data, source=str(path))


def config_from(data: dict[str, Any], *, source: str = "the config") -> ServiceConfig:
    """A :class:`ServiceConfig` from parsed TOML, every key checked (unknown keys and wrong types refused)."""
    for key, value in data.items():
        expected = _KEYS.get(key)
        if expected is None:
            known = ", ".join(sorted(_KEYS))
            raise ParameterError(f"{source}: unknown key {key!r}; known keys: {known}", field=key, value=value)
        if (
            isinstance(value, bool)
            and expected is not bool
            and bool not in (expected if isinstance(expected, tuple) else ())
        ):
            raise ParameterError(f"{source}: {key} = {value!r} has the wrong type", field=key, value=value)
        if not isinstance(value, expected):
            raise ParameterError(f"{source}: {key} = {value!r} has the wrong type", field=key, value=value)
    devices = tuple(data.get("devices", ()))
    if not all(isinstance(url, str) and url for url in devices):
        raise ParameterError(f"{source}: devices must be a list of gun URLs", field="devices", value=devices)
    config = ServiceConfig(devices=devices)
    plain = ("host", "port", "trusted_proxy", "baud", "clinic_name", "clinic_phone", "clinic_email")
    changes: dict[str, Any] = {k: data[k].strip() if isinstance(data[k], str) else data[k] for k in plain if k in data}
    if "attended_grace_s" in data:
        changes["attended_grace_s"] = float(data["attended_grace_s"])
    if "record" in data:
        changes["record"] = record_location(data["record"])
    if "accounts" in data:
        changes["accounts"] = Path(data["accounts"]).expanduser()
    if "checklist" in data:
        changes["checklist"] = Path(data["checklist"]).expanduser()
    if "socket" in data:
        changes["socket"] = None if data["socket"] is False else Path(str(data["socket"])).expanduser()
    return check(replace(config, **changes))


def check(config: ServiceConfig) -> ServiceConfig:
    """``config`` if its values are in range; :class:`ParameterError` naming the first that is not."""
    if not 0 <= config.port < 65536:
        raise ParameterError(f"port={config.port} must be 0–65535 (0: any free port)", field="port", value=config.port)
    if not 0.5 <= config.attended_grace_s <= 600:
        raise ParameterError(
            f"attended_grace_s={config.attended_grace_s} must be 0.5–600 s",
            field="attended_grace_s",
            value=config.attended_grace_s,
        )
    for key in ("clinic_name", "clinic_phone", "clinic_email"):
        value = getattr(config, key)
        if len(value) > MAX_CLINIC_TEXT:
            raise ParameterError(
                f"{key}: {len(value)} characters, at most {MAX_CLINIC_TEXT} fit on a page", field=key, value=value
            )
        if not value.isprintable():
            raise ParameterError(f"{key}={value!r}: one line of printable text, no control characters", field=key)
    if len(set(config.devices)) != len(config.devices):
        raise ParameterError(f"devices={list(config.devices)}: a gun is listed twice", field="devices")
    return config
