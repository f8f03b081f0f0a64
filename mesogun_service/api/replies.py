"""How errors become replies: every :class:`MesogunError`, validation error and unknown route gets the one JSON
error body (docs/service.md, "Errors"); a request body over the limit is refused before it is read."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mesogun.errors import MesogunError
from mesogun_service.errors import error_body, http_status
from mesogun_service.record_access import SharedRecord

log = logging.getLogger(__name__)

_STATUS_KINDS = {404: ("MG904", "not_found"), 405: ("MG905", "method_not_allowed"), 401: ("MG910", "unauthenticated")}


def _error(status: int, code: str, kind: str, message: str, **extra: Any) -> JSONResponse:
    body = {"code": code, "kind": kind, "message": message, "field": None, "value": None, "hint": None} | extra
    return JSONResponse({"error": body}, status_code=status)


def unnamed(message: str, shown: str) -> str:
    """``message`` without the record's file or URL (``shown``): the server's paths are no HTTP client's business,
    so "no visit 99 in the treatment record /srv/…/record.sqlite" reads "no visit 99 in the service's treatment
    record"."""
    if not shown:
        return message
    for named in (f"the treatment record {shown}", f"treatment record {shown}"):
        message = message.replace(named, "the service's treatment record")
    return message.replace(shown, "the service's treatment record")


async def on_mesogun_error(request: Request, exc: Exception) -> JSONResponse:
    """A :class:`MesogunError` from a gun, the record or the service: its status and body (the record named
    without its path: :func:`unnamed`; the service's log keeps it)."""
    assert isinstance(exc, MesogunError)
    status = http_status(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    body = error_body(exc, request.path_params.get("serial"))
    record = getattr(request.app.state, "record", None)
    if isinstance(record, SharedRecord):
        body["error"]["message"] = unnamed(body["error"]["message"], record.shown())
    return JSONResponse(body, status_code=status)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A body that is not JSON (400) or whose fields are of the wrong type, missing or unknown (422, named)."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid" or (first.get("type") == "model_attributes_type"):
        return _error(400, "MG900", "bad_request", f"the body is not a JSON object: {first.get('msg')}")
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or None
    value = first.get("input")
    shown = value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)[:80]
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    if field is not None and first.get("type") != "missing":
        message += f" (got {json.dumps(shown)})"
    body = {
        "code": "MG100",
        "kind": "parameter_error",
        "message": message,
        "field": field,
        "value": shown,
        "hint": None,
    }
    return JSONResponse({"error": body}, status_code=422)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (an unknown route, a wrong method) in the one error body."""
    assert isinstance(exc, HTTPException)
    code, kind = _STATUS_KINDS.get(exc.status_code, (f"MG{exc.status_code}", "http_error"))
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path} (see /docs)"
    return _error(exc.status_code, code, kind, message)


def install_error_replies(app: FastAPI) -> None:
    """Register every handler above on ``app``."""
    app.add_exception_handler(MesogunError, on_mesogun_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is answered 413 (by its Content-Length before it is read, or
    as soon as a chunked body passes the limit); ``larger`` gives a path its own limit (a calibration run with
    its certificate)."""

    def __init__(self, app: ASGIApp, limit: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.limit)
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, int(length), limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(seen)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge as exc:
            await self._refuse(scope, receive, send, exc.size, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int, limit: int) -> None:
        response = _error(
            413, "MG913", "too_large", f"the request body is {size} bytes; at most {limit} bytes are accepted"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size
