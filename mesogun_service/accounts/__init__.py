"""Access control of the gun service: users with argon2-hashed PINs and roles, sign-in sessions and the audit
trail (:mod:`.store`), the roles and the principal a request acts as (:mod:`.identity`), the FastAPI dependencies
that say who a request is (:mod:`.auth`), the ``/auth`` routes (:mod:`.routes`), and the ``mesogun users``
command (:mod:`.cli`). No built-in users: a new store is empty.

Wiring an app: ``install(app, Accounts(path), AuthPolicy(...))``, then ``CurrentPrincipal`` (or
``Annotated[Principal, Depends(require_role(Role.TECHNICIAN))]``, ``... Depends(require_fresh(Role.TECHNICIAN))``)
as a route parameter. The FastAPI parts (:mod:`.auth`, :mod:`.routes`) are imported when first used, so
``mesogun users`` starts without FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mesogun_service.accounts.errors import (
    AccountsUnavailable,
    AuthError,
    Forbidden,
    LockedOut,
    Unauthenticated,
    UserError,
    error_body,
)
from mesogun_service.accounts.identity import Principal, Role, Via, effective_roles, local_principal
from mesogun_service.accounts.location import default_accounts_path

if TYPE_CHECKING:
    from mesogun_service.accounts.auth import (
        CSRF_COOKIE,
        CSRF_HEADER,
        LOCAL_USER_KEY,
        SESSION_COOKIE,
        AuthPolicy,
        CurrentPrincipal,
        auth_error_handler,
        principal,
        remote_address,
        require_fresh,
        require_role,
    )
    from mesogun_service.accounts.routes import auth_router, install
    from mesogun_service.accounts.store import Accounts, AuditEntry, Clock, Limits, NewSession, UserInfo

_LAZY = {
    **dict.fromkeys(
        (
            "CSRF_COOKIE",
            "CSRF_HEADER",
            "LOCAL_USER_KEY",
            "SESSION_COOKIE",
            "AuthPolicy",
            "CurrentPrincipal",
            "auth_error_handler",
            "principal",
            "remote_address",
            "require_fresh",
            "require_role",
        ),
        "mesogun_service.accounts.auth",
    ),
    **dict.fromkeys(
        ("Accounts", "AuditEntry", "Clock", "Limits", "NewSession", "UserInfo"), "mesogun_service.accounts.store"
    ),
    "auth_router": "mesogun_service.accounts.routes",
    "install": "mesogun_service.accounts.routes",
}
"""The names that need FastAPI or the database layer (SQLAlchemy), and their modules: loaded on first use."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "LOCAL_USER_KEY",
    "SESSION_COOKIE",
    "Accounts",
    "AccountsUnavailable",
    "AuditEntry",
    "AuthError",
    "AuthPolicy",
    "Clock",
    "CurrentPrincipal",
    "Forbidden",
    "Limits",
    "LockedOut",
    "NewSession",
    "Principal",
    "Role",
    "Unauthenticated",
    "UserError",
    "UserInfo",
    "Via",
    "auth_error_handler",
    "auth_router",
    "default_accounts_path",
    "effective_roles",
    "error_body",
    "install",
    "local_principal",
    "principal",
    "remote_address",
    "require_fresh",
    "require_role",
]
