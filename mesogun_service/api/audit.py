"""The audit trail of what clients did: every POST or DELETE outside ``/auth`` (which audits its own sign-ins)
and the attendance heartbeats, entered after the reply was sent, in a worker thread — so no command, and above
all no stop, ever waits for the audit's disk write. Who: the signed-in principal, or for a safe command sent
without sign-in, the token's owner if one was presented (resolved afterwards), else ``anonymous``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mesogun_service.accounts import Accounts, AuthError

log = logging.getLogger(__name__)

AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditWriter:
    """Enters answered requests in ``accounts``' audit trail, each in a worker thread; :meth:`drain` at shutdown."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self._pending: set[asyncio.Task[None]] = set()

    def enter_later(self, scope: Scope, status: int) -> None:
        """Enter the request ``scope``, answered with ``status``, from a worker thread (nobody waits for it)."""
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._enter, scope, status))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _enter(self, scope: Scope, status: int) -> None:
        principal: Any = scope.get("state", {}).get("principal")
        actor = getattr(principal, "user", None) or self._token_owner(scope) or "anonymous"
        client = scope.get("client")
        remote = client[0] if client else scope.get("mesogun.local_user") and "local socket"
        outcome = "ok" if status < 400 else f"refused ({status})"
        try:
            self.accounts.audit(actor, f"{scope['method']} {scope['path']}", "", remote, outcome)
        except Exception as exc:  # the audit is never a reason to fail (or delay) a command: said in the log
            log.error("the audit trail could not enter %s %s: %s", scope["method"], scope["path"], exc)

    def _token_owner(self, scope: Scope) -> str | None:
        if scope.get("mesogun.local_user"):
            return f"local:{scope['mesogun.local_user']}"
        headers = dict(scope.get("headers", ()))
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if not auth.lower().startswith("bearer "):
            return None
        try:
            return self.accounts.session_for(auth[7:].strip()).user
        except AuthError:
            return "unknown token holder"

    async def drain(self) -> None:
        """Wait for the entries still being written (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class AuditTrail:
    """ASGI middleware: each state-changing request is handed to the :class:`AuditWriter` once it is answered."""

    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope.get("method") not in AUDITED_METHODS
            or path.startswith("/auth/")
            or path.endswith("/heartbeat")
        ):
            await self.app(scope, receive, send)
            return
        status = [500]

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.writer.enter_later(scope, status[0])
