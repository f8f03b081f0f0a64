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
from mesogun_service.accounts.auth import LOCAL_USER_KEY
from mesogun_service.app import create_app
from mesogun_service.config import ServiceConfig
from mesogun_service.registry import GunRegistry

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 3
"""How long open requests (event streams) get to end once the guns are safe."""

SAFE_ON_STOP_S = 10.0
"""The most the guns are given to be made safe at shutdown (each also has its own command timeouts)."""

HTTP_PARSER = "httptools"
"""uvicorn's HTTP/1.1 parser: httptools (C, a dependency) rather than h11 (pure Python): a request is parsed
in about 0.05 ms instead of 0.5 ms, which the emergency stop's latency goal needs (benchmarks/RESULTS.md)."""

SEND_BUFFER_BYTES = 32 * 1024
"""The kernel send buffer of every TCP connection (set on the listening socket, which they inherit; Linux doubles
it). Left to autotuning it grows to megabytes for a client that stops reading, so that client's bounded event
buffer would only overflow, and the client be told it missed events, after minutes of events."""


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
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of a socket that says it is TCP.
    # Without it Nagle holds a reply's body (written after its headers) until the client's delayed ACK, 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
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


class Service:
    """One running service: its app, its listening sockets (bound at creation, so the port is known at once) and
    its uvicorn servers. :meth:`run` serves until :meth:`stop` (or a signal, with ``signals``)."""

    def __init__(self, config: ServiceConfig, registry: GunRegistry | None = None) -> None:
        self.config = config
        self.app = create_app(config, registry)
        self.guns: GunRegistry = self.app.state.registry
        self.started = asyncio.Event()
        self.app.state.on_started = self.started.set
        self._tcp = bind_tcp(config.host, config.port)
        self._unix = bind_unix(config.socket) if config.socket is not None else None
        level = logging.getLogger("mesogun").getEffectiveLevel()
        self._servers = [
            _Server(
                uvicorn.Config(
                    self.app,
                    http=HTTP_PARSER,
                    log_level=level,
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                    proxy_headers=config.trusted_proxy is not None,
                    forwarded_allow_ips=config.trusted_proxy or "",
                )
            )
        ]
        if self._unix is not None:
            local = LocalSocket(self.app, getpass.getuser())
            local_config = uvicorn.Config(
                local, http=HTTP_PARSER, lifespan="off", log_level=level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S
            )
            self._servers.append(_Server(local_config))
        self._stopping: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the TCP listener (the port the system chose for ``port = 0``)."""
        host = self.config.host
        return (
            f"http://[{host}]:{self._tcp.getsockname()[1]}"
            if ":" in host
            else f"http://{host}:{self._tcp.getsockname()[1]}"
        )

    async def run(self, *, signals: bool = True) -> None:
        """Serve until :meth:`stop` (or SIGINT/SIGTERM with ``signals``); the guns are safe when this returns."""
        loop = asyncio.get_running_loop()
        if signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            await asyncio.gather(
                self._servers[0].serve([self._tcp]), *(s.serve([self._unix]) for s in self._servers[1:] if self._unix)
            )
        finally:
            if signals:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)
            if self._unix is not None and self.config.socket is not None:
                with contextlib.suppress(OSError):
                    self.config.socket.unlink()
        if self._stopping is not None:
            await self._stopping

    def _on_signal(self, signum: int) -> None:
        if self._stopping is not None:
            log.warning("already stopping: the guns are being made safe first")
            return
        log.warning("%s: stopping and disarming the guns, then stopping the service", signal.Signals(signum).name)
        self._stopping = asyncio.get_running_loop().create_task(self.stop())

    async def stop(self) -> None:
        """Make every gun safe (stop, disarm: bounded by :data:`SAFE_ON_STOP_S`), then stop serving."""
        try:
            async with asyncio.timeout(SAFE_ON_STOP_S):
                await asyncio.gather(*(h.make_safe() for h in self.guns), return_exceptions=True)
        except TimeoutError:
            log.error("making the guns safe took over %g s; their own watchdogs disarm them", SAFE_ON_STOP_S)
        for server in self._servers:
            server.should_exit = True


async def serve(config: ServiceConfig, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``config`` until SIGINT or SIGTERM (``mesogun serve``); every gun is stopped and disarmed first."""
    service = Service(config)
    where = service.url + (f" and {config.socket}" if config.socket is not None else "")
    if on_ready is not None:

        def started() -> None:
            service.started.set()
            on_ready(where)

        service.app.state.on_started = started
    await service.run()
