"""The service's access-control errors: each has the HTTP ``status``, the stable ``code`` and ``kind`` of the
spec's error table (docs/service.md), a one-line ``message`` saying what to do (worded for the catalog where a
tablet can show it), and the ``field`` it is about.

They derive from :class:`mesogun.errors.MesogunError`, so the CLI prints them in one line with an exit code
like every other host error; :func:`error_body` is the JSON body the service sends for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mesogun.errors import MesogunError
from mesogun.wording import Wording


class AuthError(MesogunError):
    """Base of the access-control errors; never raised itself."""

    status: ClassVar[int] = 401
    code = "MG910"
    kind: ClassVar[str] = "unauthenticated"

    def __init__(
        self,
        message: str | Wording,
        *,
        field: str | None = None,
        value: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        """The message in English (the API's and the CLI's; a page says it in its language from its wording)."""
        self.field = field
        """The request or input field the error is about (``user``, ``pin``, ``role``), if one is."""
        self.value = value
        """The offending value, when it is safe to repeat (a user name, never a PIN or a token)."""
        self.headers: dict[str, str] = dict(headers or {})
        """HTTP headers the reply carries (``WWW-Authenticate``, ``Retry-After``)."""


class Unauthenticated(AuthError):
    """No credentials, wrong credentials, or a token that is unknown, expired or revoked (HTTP 401)."""

    status = 401
    code = "MG910"
    kind = "unauthenticated"

    def __init__(self, message: str | Wording, *, field: str | None = None) -> None:
        super().__init__(message, field=field, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AuthError):
    """Signed in, but not allowed: a missing role, a stale re-authentication, a cross-site request or a missing
    CSRF token (HTTP 403)."""

    status = 403
    code = "MG911"
    kind = "forbidden"


class LockedOut(AuthError):
    """The user is locked out after repeated failed sign-ins (HTTP 423); ``retry_after_s`` says for how long."""

    status = 423
    code = "MG912"
    kind = "locked_out"

    def __init__(self, message: str | Wording, *, retry_after_s: int) -> None:
        super().__init__(message, field="user", headers={"Retry-After": str(max(retry_after_s, 1))})
        self.retry_after_s = retry_after_s


class UserError(AuthError, ValueError):
    """Bad user-management input (a malformed name, an unknown role, a PIN too short, a duplicate user): HTTP 422,
    exit code 2 in the CLI; ``field`` names the input."""

    status = 422
    code = "MG100"
    kind = "parameter_error"
    exit_code = 2


class AccountsUnavailable(AuthError):
    """The accounts store cannot be opened or written (HTTP 503): nobody can sign in until it is fixed."""

    status = 503
    code = "MG914"
    kind = "accounts_unavailable"
    exit_code = 6


def error_body(exc: AuthError) -> dict[str, dict[str, object]]:
    """The spec's JSON error body for ``exc``: ``{"error": {"code", "kind", "message", "field", "value", "hint"}}``."""
    hint = exc.hint.render() if exc.hint is not None else None
    return {
        "error": {
            "code": exc.code,
            "kind": exc.kind,
            "message": exc.message,
            "field": exc.field,
            "value": exc.value,
            "hint": hint,
        }
    }
