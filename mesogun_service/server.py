"""Running the service: uvicorn on 127.0.0.1 (or ``--host``) and on the local Unix socket (mode 0600), one app.

SIGINT and SIGTERM make every gun safe (stop, disarm) first, then stop serving; the app's lifespan closes the
guns' connections. A second signal while stopping is only noted: making the guns safe is never cut short."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import signal
import socket
from collections.abc import Callable, Generator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from mesogun.errors import ParameterError
from mesogun_service.app import create_app
from mesogun_service.config import ServiceConfig
from mesogun_service.registry import GunRegistry

log = logging.getLogger(__name__)

LOCAL_USER_KEY = "mesogun.local_user"
"""The ASGI scope key that marks a request that came over the local socket (its value: the OS user)."""

GRACEFUL_SHUTDOWN_S = 3
"""How long open requests (event streams) get to end once the guns are safe."""

SAFE_ON_STOP_S = 10.0
"""The most the guns are given to be made safe at shutdown (each also has its own command timeouts)."""


class LocalSocket:
    """ASGI wrapper for the local socket: marks each request with the OS user allowed to open the socket."""

    def __init__(self, app: ASGIApp, user: str) -> None:
        self.app = app
        self.user = user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, LOCAL_USER_KEY: self.user}
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve` (it makes the guns safe before stopping)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a port in use is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ParameterError(
            f"port={port}: cannot listen on {host}:{port} ({exc.strerror}); is another service running there?",
            field="port",
            value=port,
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def bind_unix(path: Path) -> socket.socket:
    """The local socket at ``path``, mode 0600 from its creation, in a folder only this user can enter; a stale
    socket is replaced, a live one (another service) is an error."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody listens: a service that died left it
        else:
            raise ParameterError(f"socket={path}: another gun service is listening there", field="socket")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


async def serve(
    config: ServiceConfig, *, registry: GunRegistry | None = None, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGINT or SIGTERM; every gun is stopped and disarmed before this returns."""
    app = create_app(config, registry)
    guns: GunRegistry = app.state.registry
    tcp = bind_tcp(config.host, config.port)
    unix = bind_unix(config.socket) if config.socket is not None else None
    level = logging.getLogger("mesogun").getEffectiveLevel()
    servers = [
        _Server(
            uvicorn.Config(
                app,
                log_level=level,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                proxy_headers=config.trusted_proxy is not None,
                forwarded_allow_ips=config.trusted_proxy or "",
            )
        )
    ]
    if unix is not None:
        local = LocalSocket(app, getpass.getuser())
        servers.append(
            _Server(
                uvicorn.Config(local, lifespan="off", log_level=level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
            )
        )
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    async def stop() -> None:
        try:
            async with asyncio.timeout(SAFE_ON_STOP_S):
                await asyncio.gather(*(h.make_safe() for h in guns), return_exceptions=True)
        except TimeoutError:
            log.error("making the guns safe took over %g s; their own watchdogs disarm them", SAFE_ON_STOP_S)
        for server in servers:
            server.should_exit = True

    def on_signal(signum: int) -> None:
        if stopping:
            log.warning("already stopping: the guns are being made safe first")
            return
        log.warning("%s: stopping and disarming the guns, then stopping the service", signal.Signals(signum).name)
        stopping.append(loop.create_task(stop()))

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        where = f"http://{config.host}:{tcp.getsockname()[1]}"
        if unix is not None:
            where += f" and {config.socket}"
        if on_ready is not None:
            app.state.on_started = lambda: on_ready(where)
        await asyncio.gather(servers[0].serve([tcp]), *(s.serve([unix]) for s in servers[1:] if unix is not None))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if unix is not None and config.socket is not None:
            with contextlib.suppress(OSError):
                config.socket.unlink()
    if stopping:
        await stopping[0]
