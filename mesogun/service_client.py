"""A client of a running gun service (``mesogun serve``): where to find one, one method per route, its event stream,
and this process's attendance. Used by the CLI (:mod:`mesogun.cli.remote`); it never imports the service.

A service is reached at ``http://HOST:PORT`` or over its local Unix socket (``unix:///path/to/service.sock``). Its
error replies become the exceptions of the Python API (:func:`mesogun.errors.error_from_reply`), so a caller
sees, and the CLI exits with, what it would without a service.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from mesogun.errors import (
    ConnectionLost,
    Hint,
    LinkTimeout,
    MesogunError,
    ParameterError,
    ServiceUnreachable,
    error_from_reply,
)

log = logging.getLogger(__name__)

SERVICE_ENV = "MESOGUN_SERVICE"
"""The environment variable that names the service (its URL)."""

TOKEN_ENV = "MESOGUN_TOKEN"
"""A bearer token (from the service's ``POST /auth/login``) the CLI sends to a service reached over TCP; never on
a command line or in a URL, where other users or logs would see it."""

LOCAL_ROLES = frozenset({"practitioner", "assistant"})
"""The roles a user on the service's local socket has (``local:<os user>``, a practitioner; an assistant too)."""

CONNECT_TIMEOUT_S = 5.0
"""How long to wait for the service to accept a connection."""

REPLY_TIMEOUT_S = 60.0
"""How long to wait for a reply; the service bounds every gun command itself (its link's timeouts), so this is
only for a service that stopped answering. ``fire`` and the event stream wait as long as they last."""

PROBE_TIMEOUT_S = 1.0
"""How long the well-known socket gets to answer before a client goes to the gun directly."""


def default_socket_path() -> Path:
    """The well-known local socket: ``$XDG_RUNTIME_DIR/mesogun/service.sock``, or ``/tmp/mesogun-<uid>/`` without
    a runtime dir (a service started outside a login session, e.g. by systemd without ``RuntimeDirectory=``)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "mesogun" / "service.sock"
    return Path(tempfile.gettempdir()) / f"mesogun-{os.getuid()}" / "service.sock"


@dataclass(frozen=True)
class FoundService:
    """A service to use: its URL and how it was found (said in every error about reaching it)."""

    url: str
    found_by: str
    """``given with --service``, ``from $MESOGUN_SERVICE``, ``found at the local socket``."""


def find_service(given: str | None = None, *, given_by: str = "given with --service") -> FoundService | None:
    """The service to use: ``given`` (a ``--service`` URL), else ``$MESOGUN_SERVICE``, else the well-known local
    socket if a service answers on it; ``None``: no service (open the gun directly).

    A service named by ``given`` or the environment is used even if it does not answer (the first request then
    says so: :class:`ServiceUnreachable`); the well-known socket only if it answers, so a stale socket left by a
    service that died does not stand in the way of the direct path."""
    if given:
        return FoundService(given, given_by)
    env = os.environ.get(SERVICE_ENV, "").strip()
    if env:
        return FoundService(env, f"from ${SERVICE_ENV}")
    path = default_socket_path()
    if not path.is_socket():
        return None
    found = FoundService(f"unix://{path}", "found at the local socket")
    try:
        with ServiceClient(found, timeout=PROBE_TIMEOUT_S) as client:
            client.health()
    except MesogunError:
        log.info("no service answers at %s: opening the gun directly", path)
        return None
    return found


def _transport_and_base(url: str) -> tuple[httpx.HTTPTransport, str]:
    """The transport and base URL for a service URL; :class:`ParameterError` (exit 2) for another kind of URL."""
    if url.startswith("unix://"):
        path = url.removeprefix("unix://")
        if not path.startswith("/"):
            raise ParameterError(
                f"service={url}: a socket URL needs an absolute path, unix:///path/to/service.sock",
                field="service",
                value=url,
            )
        return httpx.HTTPTransport(uds=path), "http://mesogun"
    if url.startswith(("http://", "https://")):
        return httpx.HTTPTransport(), url.rstrip("/")
    raise ParameterError(
        f"service={url}: not a service URL; give http://HOST:PORT or unix:///path/to/service.sock",
        field="service",
        value=url,
    )


class ServiceClient:
    """One service: a method per route the CLI needs, JSON in and out; errors as the Python API's exceptions.

    Thread-safe (its connection pool is): the CLI calls it from worker threads, a heartbeat thread and the event
    stream's reader at once. Close it (or use it as a context manager) when done."""

    def __init__(self, service: FoundService, *, timeout: float = REPLY_TIMEOUT_S) -> None:
        self.service = service
        transport, base = _transport_and_base(service.url)
        token = os.environ.get(TOKEN_ENV, "").strip()
        self._http = httpx.Client(
            transport=transport,
            base_url=base,
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)),
            headers={"Authorization": f"Bearer {token}"} if token else None,
        )

    @property
    def url(self) -> str:
        """The service's URL as given or found."""
        return self.service.url

    def close(self) -> None:
        """Close every connection to the service."""
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------- requests

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, **options: Any) -> Any:
        """``method path`` with the JSON ``body``; the reply's JSON, or its error raised as the Python API's."""
        with self._reaching():
            reply = self._http.request(method, path, json=body, **options)
        return self._json(reply)

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Transport failures as one-line errors naming the service and how it was found (exit 4)."""
        where = f"{self.url} ({self.service.found_by})"
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
            raise ServiceUnreachable(
                f"no gun service answers at {where}: {_reason(exc)}; start one with 'mesogun serve', or give "
                "--no-service to open the gun directly"
            ) from None
        except httpx.TimeoutException as exc:
            raise LinkTimeout(f"the gun service at {where} did not answer in time ({_reason(exc)})") from None
        except httpx.TransportError as exc:
            raise ConnectionLost(f"the connection to the gun service at {where} failed: {_reason(exc)}") from None

    def _json(self, reply: httpx.Response) -> Any:
        if reply.is_success:
            return reply.json() if reply.content else None
        raise self._error(reply)

    def _error(self, reply: httpx.Response) -> MesogunError:
        """The exception a service's error reply stands for (one for a reply that is not the service's JSON)."""
        try:
            body = reply.json()["error"]
            code, message = str(body["code"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            text = " ".join(reply.text.split())[:200]
            return ConnectionLost(f"the gun service at {self.url} answered {reply.status_code}: {text or 'no body'}")
        message += self._how_to_sign_in(code, body.get("field"), body.get("value"))
        hint: Hint | None = None
        parts = body.get("hint_parts")
        if isinstance(parts, dict) and isinstance(parts.get("text"), str):
            hint = Hint(parts["text"], tuple(str(a) for a in parts.get("actions") or ()))
        elif isinstance(body.get("hint"), str):
            hint = Hint(body["hint"].replace("{", "{{").replace("}", "}}"))
        return error_from_reply(
            code,
            message,
            kind=body.get("kind"),
            field=body.get("field"),
            value=body.get("value"),
            hint=hint,
            details=body,
        )

    def _how_to_sign_in(self, code: str, field: object, needed: object) -> str:
        """What a refusal for who is asking adds: how to sign in as someone allowed. The local socket signs in
        as a practitioner only, so it is suggested only for what a practitioner may do; a role beyond it (an
        admin's erasure) needs a sign-in over TCP."""
        local = self.url.startswith("unix://")
        beyond_local = (
            code == "MG911"
            and field == "role"
            and isinstance(needed, str)
            and not set(needed.split(" or ")) & LOCAL_ROLES
        )
        if beyond_local:
            by_tcp = f"--service http://HOST:PORT with ${TOKEN_ENV} from POST /auth/login, docs/service.md"
            if local:
                return (
                    "; the local socket signs you in as a practitioner only: sign in as a user with the "
                    f"{needed} role over TCP ({by_tcp})"
                )
            return f"; sign in as a user with the {needed} role (${TOKEN_ENV} from POST /auth/login, docs/service.md)"
        if code in ("MG910", "MG911") and not local:
            return (
                f"; over TCP the CLI signs in with a token in ${TOKEN_ENV} (from POST /auth/login), or use the "
                "service's local socket: --service unix:///PATH"
            )
        return ""

    def health(self) -> dict[str, Any]:
        """``GET /health``: the service answers, and how many guns it owns."""
        reply: dict[str, Any] = self.request("GET", "/health")
        return reply

    def guns(self) -> list[dict[str, Any]]:
        """``GET /guns``: every gun the service owns (``serial``, ``url``, ``connected``, ``state``, …)."""
        reply: list[dict[str, Any]] = self.request("GET", "/guns")
        return reply

    def identity(self, serial: str) -> dict[str, Any]:
        """``GET /guns/{serial}``: identity and ranges (``info --json``'s fields) and ``connected``."""
        return self._gun("GET", serial, "")

    def status(self, serial: str, *, refresh: bool = False) -> dict[str, Any]:
        """The latest status (``refresh``: the device asked now), as ``status --json`` prints it."""
        return self._gun("GET", serial, "/status", params={"refresh": "true"} if refresh else None)

    def diagnostics(self, serial: str) -> dict[str, Any]:
        """The technician's view, as ``diagnostics --json`` prints it."""
        return self._gun("GET", serial, "/diagnostics")

    def configure(self, serial: str, **fields: Any) -> dict[str, Any]:
        """Set the given ones of depth_mm, dose_ml, rate_hz, mode (and an ``override_reason`` for a soft limit the
        service would otherwise refuse); the status after."""
        return self._gun("POST", serial, "/configure", {k: v for k, v in fields.items() if v is not None})

    def load_syringe(
        self, serial: str, capacity_ml: float, fill_ml: float | None = None, brand: str | None = None
    ) -> dict[str, Any]:
        """Declare a newly loaded syringe of ``brand`` (default: the open treatment session's); ``capacity_ml``,
        ``fill_ml``, the ``brand`` declared and ``warnings`` (its doses uncorrected) as the service replies."""
        body: dict[str, Any] = {"capacity_ml": capacity_ml}
        if fill_ml is not None:
            body["fill_ml"] = fill_ml
        if brand is not None:
            body["brand"] = brand
        return self._gun("POST", serial, "/syringe", body)

    def prime(self, serial: str, volume_ml: float) -> dict[str, Any]:
        """Prime the line; ``primed_ml`` and ``reservoir_ml`` once the gun is ready again."""
        return self._gun("POST", serial, "/prime", {"volume_ml": volume_ml}, timeout=_no_read_timeout())

    def arm(self, serial: str, override_reason: str | None = None) -> dict[str, Any]:
        """Arm (this client must be attending the gun: :meth:`attend`; ``override_reason``: why, in a treatment zone
        at its volume limit); the status after."""
        body = {"override_reason": override_reason} if override_reason is not None else None
        return self._gun("POST", serial, "/arm", body)

    def disarm(self, serial: str) -> dict[str, Any]:
        """Stop firing and disarm (a gun that is not armed stays as it is); the status after."""
        return self._gun("POST", serial, "/disarm")

    def fire(self, serial: str, count: int, override_reason: str | None = None) -> dict[str, Any]:
        """Fire ``count`` shots (0: until stopped); returns when the burst ends: ``fired`` (the device's count),
        ``recovered``, ``unreceived`` and the ``shots``. Waits as long as the burst lasts. ``override_reason``: why
        the treatment zone's volume limit is passed."""
        body: dict[str, Any] = {"count": count}
        if override_reason is not None:
            body["override_reason"] = override_reason
        return self._gun("POST", serial, "/fire", body, timeout=_no_read_timeout())

    def stop(self, serial: str) -> dict[str, Any]:
        """Stop firing or priming; the status after."""
        return self._gun("POST", serial, "/stop")

    def emergency_stop(self, serial: str) -> dict[str, Any]:
        """Emergency stop (it overtakes the gun's queued work on the service); the status after."""
        return self._gun("POST", serial, "/emergency-stop")

    def clear(self, serial: str) -> dict[str, Any]:
        """Clear latched alarms and an emergency stop; the status after."""
        return self._gun("POST", serial, "/clear")

    def note(self, serial: str, kind: str, detail: str, reason: str) -> None:
        """An operator's note in the service's record, committed before the reply."""
        self._gun("POST", serial, "/notes", {"kind": kind, "detail": detail, "reason": reason})

    def open_visit(self, serial: str, note: str = "") -> dict[str, Any]:
        """Open a visit (a treatment session) on the gun."""
        return self._gun("POST", serial, "/visits", {"note": note})

    def current_visit(self, serial: str) -> dict[str, Any]:
        """The visit open on the gun (:class:`~mesogun.record.visits.NoSuchVisit` if none)."""
        return self._gun("GET", serial, "/visit")

    def close_visit(self, visit_id: int) -> dict[str, Any]:
        """Close a visit; the visit as closed."""
        reply: dict[str, Any] = self.request("POST", f"/visits/{visit_id}/close")
        return reply

    def visit(self, visit_id: int) -> dict[str, Any]:
        """One visit with its connections and shot totals."""
        reply: dict[str, Any] = self.request("GET", f"/visits/{visit_id}")
        return reply

    # -------------------------------------------------------------------------------------------- the clinic

    def add_patient(self, **fields: Any) -> dict[str, Any]:
        """``POST /patients``: pseudonym (default: a random one), name, birth_date, contact."""
        return self._object("POST", "/patients", _given(fields))

    def patients(self, pseudonym: str | None = None) -> list[dict[str, Any]]:
        """``GET /patients``: every patient without identifying details (``pseudonym``: that one's, or 404)."""
        reply: list[dict[str, Any]] = self.request(
            "GET", "/patients", params={"pseudonym": pseudonym} if pseudonym is not None else None
        )
        return reply

    def patient(self, patient_id: int, *, identified: bool = False, reason: str = "") -> dict[str, Any]:
        """``GET /patients/{id}``: one patient and their courses (``identified``: with the identifying details, the
        read entered in the audit log with who asked and ``reason``)."""
        return self._object("GET", f"/patients/{patient_id}", params=_identified(identified, reason))

    def correct_patient(self, patient_id: int, reason: str, changes: dict[str, str | None]) -> dict[str, Any]:
        """``POST /patients/{id}/correct``: identifying details corrected, with a reason."""
        return self._object("POST", f"/patients/{patient_id}/correct", {"reason": reason, "changes": changes})

    def erase_patient(self, patient_id: int, reason: str) -> dict[str, Any]:
        """``POST /patients/{id}/erase``: the identifying details erased (an admin, with a reason)."""
        return self._object("POST", f"/patients/{patient_id}/erase", {"reason": reason})

    def patient_history(self, patient_id: int, *, identified: bool = False, reason: str = "") -> list[dict[str, Any]]:
        """``GET /patients/{id}/history``: the patient's sessions summarised, oldest first (``identified``: as
        :meth:`patient`)."""
        reply: list[dict[str, Any]] = self.request(
            "GET", f"/patients/{patient_id}/history", params=_identified(identified, reason)
        )
        return reply

    def add_course(self, patient_id: int, **fields: Any) -> dict[str, Any]:
        """``POST /patients/{id}/courses``: indication, planned_sessions, interval_days, preset."""
        return self._object("POST", f"/patients/{patient_id}/courses", _given(fields))

    def courses(self, patient_id: int) -> list[dict[str, Any]]:
        """``GET /patients/{id}/courses``: the patient's courses, oldest first."""
        reply: list[dict[str, Any]] = self.request("GET", f"/patients/{patient_id}/courses")
        return reply

    def course(self, course_id: int) -> dict[str, Any]:
        """``GET /courses/{id}``: one course with its sessions."""
        return self._object("GET", f"/courses/{course_id}")

    def add_lot(self, product: str, lot_number: str, expiry: str, description: str = "") -> dict[str, Any]:
        """``POST /lots``: a product lot (an expired one may be entered, never used)."""
        body = {"product": product, "lot_number": lot_number, "expiry": expiry, "description": description}
        return self._object("POST", "/lots", body)

    def lots(self) -> list[dict[str, Any]]:
        """``GET /lots``: every lot, with ``expired`` and its near-expiry ``warning``."""
        reply: list[dict[str, Any]] = self.request("GET", "/lots")
        return reply

    def presets(self) -> list[dict[str, Any]]:
        """``GET /presets``: the built-in presets and the clinic's, with their soft limits."""
        reply: list[dict[str, Any]] = self.request("GET", "/presets")
        return reply

    def add_preset(self, **fields: Any) -> dict[str, Any]:
        """``POST /presets``: a clinic preset (name, depth_mm, dose_ml, rate_hz, mode, its soft limits)."""
        return self._object("POST", "/presets", _given(fields))

    def zones(self) -> list[dict[str, Any]]:
        """``GET /zones``: the treatment zones (id, label, region)."""
        reply: list[dict[str, Any]] = self.request("GET", "/zones")
        return reply

    def checklist(self) -> list[dict[str, Any]]:
        """``GET /checklist``: the pre-treatment checklist's items (id, question)."""
        reply: list[dict[str, Any]] = self.request("GET", "/checklist")
        return reply

    def start_treatment(self, serial: str, **fields: Any) -> dict[str, Any]:
        """``POST /guns/{serial}/treatments``: a treatment session started on the gun (patient_id, lot_id, zone,
        consent, checklist, course_id, preset, override_reason, syringe_brand, syringe_ml, needle_gauge,
        needle_length_mm)."""
        return self._gun("POST", serial, "/treatments", _given(fields))

    def current_treatment(self, serial: str) -> dict[str, Any]:
        """``GET /guns/{serial}/treatment``: the treatment session open on the gun (``NoSuchVisit`` if none)."""
        return self._gun("GET", serial, "/treatment")

    def treatment(self, visit_id: int) -> dict[str, Any]:
        """``GET /treatments/{id}``: one treatment session's clinical side."""
        return self._object("GET", f"/treatments/{visit_id}")

    def change_zone(self, visit_id: int, zone: str) -> dict[str, Any]:
        """``POST /treatments/{id}/zone``: the zone of the next shots."""
        return self._object("POST", f"/treatments/{visit_id}/zone", {"zone": zone})

    def change_lot(self, visit_id: int, lot_id: int) -> dict[str, Any]:
        """``POST /treatments/{id}/lot``: another lot for the next shots."""
        return self._object("POST", f"/treatments/{visit_id}/lot", {"lot_id": lot_id})

    def change_needle(self, visit_id: int, gauge: int, length_mm: float) -> dict[str, Any]:
        """``POST /treatments/{id}/needle``: a new needle fitted now."""
        return self._object("POST", f"/treatments/{visit_id}/needle", {"gauge": gauge, "length_mm": length_mm})

    def treatment_note(self, visit_id: int, text: str) -> None:
        """``POST /treatments/{id}/notes``: a note in the session."""
        self.request("POST", f"/treatments/{visit_id}/notes", {"text": text})

    def adverse_event(self, visit_id: int, kind: str, severity: str, detail: str = "") -> None:
        """``POST /treatments/{id}/adverse-events``: something that went wrong for the patient."""
        body = {"kind": kind, "severity": severity, "detail": detail}
        self.request("POST", f"/treatments/{visit_id}/adverse-events", body)

    def give_aftercare(self, visit_id: int, lines: list[str] | None = None) -> list[str]:
        """``POST /treatments/{id}/aftercare``: the advice given (``None``: the standard lines); the lines kept."""
        reply = self._object("POST", f"/treatments/{visit_id}/aftercare", {"lines": lines})
        return [str(line) for line in reply["aftercare"]]

    def sign_off(self, visit_id: int, meaning: str | None = None) -> dict[str, Any]:
        """``POST /treatments/{id}/sign-off``: the practitioner's signature, closing the session."""
        return self._object("POST", f"/treatments/{visit_id}/sign-off", _given({"meaning": meaning}))

    def void_treatment(self, visit_id: int, reason: str) -> dict[str, Any]:
        """``POST /treatments/{id}/void``: a session opened by mistake marked void, with a reason (an open one is
        closed, not signed off)."""
        return self._object("POST", f"/treatments/{visit_id}/void", {"reason": reason})

    def treatment_summary(self, visit_id: int, *, identified: bool = False, reason: str = "") -> dict[str, Any]:
        """``GET /treatments/{id}/summary``: the session summarised (pseudonymous unless ``identified``: as
        :meth:`patient`)."""
        return self._object("GET", f"/treatments/{visit_id}/summary", params=_identified(identified, reason))

    # -------------------------------------------------------------------------------------------- calibration

    def me(self) -> dict[str, Any]:
        """``GET /auth/me``: who this client is signed in as (``user``, ``roles``, ``via``, ``fresh_until``)."""
        return self._object("GET", "/auth/me")

    def reauth(self, pin: str) -> dict[str, Any]:
        """``POST /auth/reauth``: the PIN again; technician writes are allowed until ``fresh_until``."""
        return self._object("POST", "/auth/reauth", {"pin": pin})

    def calibration(self, serial: str) -> dict[str, Any]:
        """``GET /guns/{serial}/calibration``: the device's calibration constants and metadata (``calibration_id``,
        ``volume_gain_by_brand``, ``depth_offset_um``, ``depth_gain``, ``rate_gain``, ``calibrated_at``, ``due_at``,
        ``technician``, ``certificate_id``)."""
        return self._gun("GET", serial, "/calibration")

    def write_calibration(self, serial: str, **constants: Any) -> dict[str, Any]:
        """``PUT /guns/{serial}/calibration``: write the device's constants (a technician, re-authenticated: ``POST
        /auth/reauth``) and ``reason``; the constants as applied, with the id the device assigned."""
        return self._gun("PUT", serial, "/calibration", _given(constants))

    def hold_depth(self, serial: str, depth_mm: float) -> dict[str, Any]:
        """``POST /guns/{serial}/calibration/hold-depth``: the needle held at ``depth_mm`` for a gauge."""
        return self._gun("POST", serial, "/calibration/hold-depth", {"depth_mm": depth_mm})

    def release_depth(self, serial: str) -> None:
        """``POST /guns/{serial}/calibration/release-depth``: end a depth hold."""
        self._gun("POST", serial, "/calibration/release-depth")

    def deliver(self, serial: str, count: int, dose_ml: float, rate_hz: float) -> dict[str, Any]:
        """``POST /guns/{serial}/calibration/deliver``: ``count`` shots into a vessel; as :meth:`fire` answers."""
        body = {"count": count, "dose_ml": dose_ml, "rate_hz": rate_hz}
        return self._gun("POST", serial, "/calibration/deliver", body, timeout=_no_read_timeout())

    def set_syringe_brand(self, serial: str, brand: str) -> None:
        """``POST /guns/{serial}/calibration/syringe-brand``: the loaded syringe's brand ('': unknown)."""
        self._gun("POST", serial, "/calibration/syringe-brand", {"brand": brand})

    def calibrations(self, device_serial: str) -> dict[str, Any]:
        """``GET /calibrations?device=``: the gun's runs, oldest first, and whether it is ``due``."""
        return self._object("GET", "/calibrations", params={"device": device_serial})

    def calibration_run(self, run_id: str) -> dict[str, Any]:
        """``GET /calibrations/{run_id}``: one run with its whole JSON (``run``)."""
        return self._object("GET", f"/calibrations/{_quoted(run_id)}")

    def certificate(self, run_id: str) -> bytes:
        """``GET /calibrations/{run_id}/certificate``: the run's certificate (PDF bytes)."""
        with self._reaching():
            reply = self._http.get(f"/calibrations/{_quoted(run_id)}/certificate")
        if not reply.is_success:
            raise self._error(reply)
        return reply.content

    def save_calibration(
        self, run: dict[str, Any], *, certificate_pdf: bytes | None = None, **fields: Any
    ) -> dict[str, Any]:
        """``POST /calibrations``: save a run (``run``: its JSON object; ``fields``: run_id, device_serial, kind,
        syringe_brand, outcome, started_at, finished_at, calibration_id, certificate_id, due_at as ISO 8601 text,
        reason) with its certificate (a technician, re-authenticated)."""
        body: dict[str, Any] = {**_given(fields), "run": run}
        if certificate_pdf is not None:
            body["certificate_pdf_base64"] = base64.b64encode(certificate_pdf).decode("ascii")
        return self._object("POST", "/calibrations", body)

    # -------------------------------------------------------------------------------------------- firmware

    def firmware(self, serial: str) -> dict[str, Any]:
        """``GET /guns/{serial}/firmware``: the gun's image slots and MCUmgr buffer (a technician)."""
        return self._gun("GET", serial, "/firmware")

    def hand_over_image(self, image: bytes) -> dict[str, Any]:
        """``POST /firmware/images``: the raw image held by the service for an upload; its ``image`` (SHA-256)."""
        with self._reaching():
            reply = self._http.post(
                "/firmware/images", content=image, headers={"content-type": "application/octet-stream"}
            )
        found: dict[str, Any] = self._json(reply)
        return found

    def upload_firmware(
        self, serial: str, image: str, *, allow_downgrade: bool = False, reason: str = ""
    ) -> dict[str, Any]:
        """``POST /guns/{serial}/firmware/upload``: a handed-over ``image`` (its SHA-256) to the gun, checked against
        the service's pinned keys first; returns once the gun holds it (a technician, re-authenticated)."""
        body = {"image": image, "allow_downgrade": allow_downgrade, "reason": reason}
        return self._gun("POST", serial, "/firmware/upload", body, timeout=_no_read_timeout())

    def firmware_progress(self, serial: str) -> dict[str, Any]:
        """``GET /guns/{serial}/firmware/progress``: the running upload's ``done``, ``total``, ``rate_bps``,
        ``eta_s`` (``{}``: none runs)."""
        return self._gun("GET", serial, "/firmware/progress")

    def firmware_operation(self, serial: str, operation: str, **body: Any) -> dict[str, Any]:
        """``POST /guns/{serial}/firmware/{operation}`` (``test``, ``confirm``, ``rollback``, ``reset``): the slots
        after it."""
        return self._gun("POST", serial, f"/firmware/{operation}", _given(body), timeout=_no_read_timeout())

    def _object(self, method: str, path: str, body: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
        """A request whose reply is a JSON object."""
        reply: dict[str, Any] = self.request(method, path, body, **options)
        return reply

    def _gun(
        self, method: str, serial: str, path: str, body: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """A request about one gun (every such route answers a JSON object)."""
        reply: dict[str, Any] = self.request(method, f"/guns/{_quoted(serial)}{path}", body, **options)
        return reply

    # -------------------------------------------------------------------------------------------- streams

    @contextlib.contextmanager
    def events(self, serial: str) -> Iterator[EventReader]:
        """The gun's live events (``GET /guns/{serial}/events``): iterate ``(kind, data)`` pairs; the first is where
        things stand (a ``status``, or a ``connection`` event while the service is not connected to the gun).
        :meth:`EventReader.close` ends the iteration from another thread."""
        with (
            self._reaching(),
            self._http.stream("GET", f"/guns/{_quoted(serial)}/events", timeout=_no_read_timeout()) as reply,
        ):
            if not reply.is_success:
                reply.read()
                raise self._error(reply)
            reader = EventReader(reply)
            try:
                yield reader
            finally:
                reader.close()

    def attend(self, serial: str, client: str) -> Attendance:
        """Attend the gun as ``client`` (needed to arm it): heartbeats go from a background thread until
        :meth:`Attendance.leave`."""
        joined = self._gun("POST", serial, "/attendance", {"client": client})
        return Attendance(self, str(joined["id"]), float(joined["heartbeat_s"]))


class EventReader:
    """The ``(kind, data)`` pairs of one Server-Sent Events reply, in order; ends when the service ends the stream
    or :meth:`close` is called (from any thread)."""

    def __init__(self, reply: httpx.Response) -> None:
        self._reply = reply
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        kind, data = "message", list[str]()
        try:
            for line in self._reply.iter_lines():
                if self._closed.is_set():
                    return
                if not line:  # a blank line ends one event
                    if data:
                        yield kind, json.loads("\n".join(data))
                    kind, data = "message", []
                elif line.startswith(":"):  # a comment (keep-alive)
                    continue
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "event":
                        kind = value
                    elif name == "data":
                        data.append(value)
        except httpx.TransportError:
            if not self._closed.is_set():
                raise
        except httpx.StreamClosed:
            return

    def close(self) -> None:
        """End the stream now: shut its connection down, so a reader blocked on it returns."""
        if self._closed.is_set():
            return
        self._closed.set()
        stream = self._reply.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Attendance:
    """This process attends a gun: a heartbeat every ``heartbeat_s`` from a background thread until :meth:`leave`.

    While a gun is armed the service needs a live attending client; when this process dies its heartbeats stop
    and the service disarms the gun after its grace period."""

    def __init__(self, client: ServiceClient, attendee_id: str, heartbeat_s: float) -> None:
        self.id = attendee_id
        self.heartbeat_s = heartbeat_s
        self._client = client
        self._leaving = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="mesogun attendance", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._leaving.wait(self.heartbeat_s):
            try:
                self._client.request("POST", f"/attendance/{_quoted(self.id)}/heartbeat")
            except MesogunError as exc:
                log.warning("attendance heartbeat failed: %s", exc)

    def leave(self) -> None:
        """Stop the heartbeats and tell the service (best effort: a service that is gone has forgotten us)."""
        if self._leaving.is_set():
            return
        self._leaving.set()
        self._thread.join()
        with contextlib.suppress(MesogunError):
            self._client.request("DELETE", f"/attendance/{_quoted(self.id)}")


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """A body of the fields given (``None``: left to the service's default)."""
    return {name: value for name, value in fields.items() if value is not None}


def _identified(identified: bool, reason: str) -> dict[str, str] | None:
    """The query of a read with the identifying details (and why), sent only when asked for."""
    if not identified:
        return None
    return {"identified": "true", **({"reason": reason} if reason else {})}


def _no_read_timeout() -> httpx.Timeout:
    """For a request that lasts as long as the gun takes (fire, prime, the event stream): no read timeout."""
    return httpx.Timeout(REPLY_TIMEOUT_S, connect=CONNECT_TIMEOUT_S, read=None)


def _quoted(part: str) -> str:
    return quote(part, safe="")


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
