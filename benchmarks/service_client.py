"""Every HTTP call the benchmarks make to a gun service, in one place: the base URL, the bearer token, timeouts,
and one error that shows the service's JSON error body.

A tablet's calls, as docs/service.md describes them: sign in, watch the gun (``attendance`` and its
heartbeats), get it ready, arm, fire, stop, the live event stream. Each :class:`ServiceClient` is one
``httpx.AsyncClient`` with its own keep-alive connections, so an e-stop client can hold a connection of its
own, as a tablet's stop button would; each event stream has a connection of its own
(:func:`benchmarks.sse.stream_lines`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx

from benchmarks.sse import SocketOption, stream_lines

TIMEOUT_S = 30.0
"""Seconds any one call may take (a remote fire returns when its burst ends: the caller bounds it)."""


class ServiceCallError(RuntimeError):
    """A call the benchmark needed answered 4xx/5xx (the message has the service's error body)."""


class ServiceClient:
    """A client of one service: ``async with ServiceClient(url) as api: await api.login(user, pin)``."""

    def __init__(self, url: str, *, token: str | None = None) -> None:
        self.url = url
        self.token = token
        self._http = httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S)

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    def headers(self) -> dict[str, str]:
        """The headers of every request: the bearer token once signed in (the one place auth is added)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def sibling(self) -> ServiceClient:
        """Another client of the same service, signed in as this one (its own connections)."""
        return ServiceClient(self.url, token=self.token)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
        """``method path`` with JSON ``body``; the JSON reply, or :class:`ServiceCallError` for a 4xx/5xx."""
        reply = await self._http.request(method, path, json=body, headers=self.headers(), **kw)
        if reply.status_code >= 400:
            raise ServiceCallError(f"{method} {path} answered {reply.status_code}: {reply.text[:500]}")
        return reply.json()

    # ---------------------------------------------------------------------------------------- the calls

    async def login(self, user: str, pin: str) -> None:
        """Sign in; every later request (of this client and its siblings) carries the bearer token."""
        self.token = (await self.call("POST", "/auth/login", {"user": user, "pin": pin}))["token"]

    async def first_gun(self, timeout: float = 30.0) -> str:
        """The serial number of the service's first gun, once it is connected."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            guns = await self.call("GET", "/guns")
            if guns and guns[0]["connected"] and guns[0]["serial"]:
                return str(guns[0]["serial"])
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the service's gun is not connected after {timeout:g} s: {guns!r}")
            await asyncio.sleep(0.1)

    async def get_ready(self, serial: str, *, dose_ml: float, rate_hz: float, mode: str = "continuous") -> None:
        """Load a 10 mL syringe, prime the line, set the dose, rate and mode."""
        await self.call("POST", f"/guns/{serial}/syringe", {"capacity_ml": 10})
        await self.call("POST", f"/guns/{serial}/prime", {"volume_ml": 0.05})
        await self.call("POST", f"/guns/{serial}/configure", {"dose_ml": dose_ml, "rate_hz": rate_hz, "mode": mode})

    async def arm(self, serial: str) -> Any:
        """Arm (the service refuses unless a client attends the gun: :meth:`attending`)."""
        return await self.call("POST", f"/guns/{serial}/arm")

    async def fire(self, serial: str, count: int) -> Any:
        """Remote fire ``count`` shots (0: until stopped); returns when the burst ends."""
        return await self.call("POST", f"/guns/{serial}/fire", {"count": count}, timeout=None)

    async def emergency_stop(self, serial: str) -> Any:
        """The emergency stop; returns the status after it."""
        return await self.call("POST", f"/guns/{serial}/emergency-stop")

    async def clear(self, serial: str) -> Any:
        """Clear the emergency stop's latch."""
        return await self.call("POST", f"/guns/{serial}/clear")

    async def disarm(self, serial: str) -> Any:
        """Stop and disarm."""
        return await self.call("POST", f"/guns/{serial}/disarm")

    async def recorded_shot_indices(self) -> list[int]:
        """The lifetime index of every shot received on record in the newest connection session (the service's);
        shots the device counted but whose event never arrived (``received`` false) are left out."""
        sessions = await self.call("GET", "/record/sessions")
        if not sessions:
            raise RuntimeError("the service's record has no session")
        newest = max(sessions, key=lambda s: s["session"])
        shown = await self.call("GET", f"/record/sessions/{newest['session']}")
        return [int(shot["shot_index"]) for shot in shown["shots"] if shot["received"]]

    @contextlib.asynccontextmanager
    async def attending(self, serial: str, client: str) -> AsyncIterator[None]:
        """Attend the gun (so it may be armed) with heartbeats twice as often as asked, for the block."""
        joined = await self.call("POST", f"/guns/{serial}/attendance", {"client": client})
        attendee, period = joined["id"], float(joined["heartbeat_s"]) / 2

        async def beat() -> None:
            while True:
                await asyncio.sleep(period)
                await self.call("POST", f"/attendance/{attendee}/heartbeat")

        beating = asyncio.create_task(beat(), name="attendance heartbeat")
        try:
            yield
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            with contextlib.suppress(httpx.HTTPError, ServiceCallError):
                await self.call("DELETE", f"/attendance/{attendee}")
        if beating.done() and not beating.cancelled() and beating.exception() is not None:
            raise RuntimeError(f"a heartbeat failed: {beating.exception()}")

    def bare_request(self, method: str, path: str) -> BareRequest:
        """``method path`` (no body) on a connection of its own, with only ``h11`` around the socket."""
        return BareRequest(self.url, method, path, list(self.headers().items()))

    def event_lines(
        self, serial: str, buffer: int | None = None, socket_options: Sequence[SocketOption] = ()
    ) -> AsyncIterator[str]:
        """The lines of ``GET /guns/{serial}/events`` (Server-Sent Events: read them with :mod:`benchmarks.sse`),
        on a connection of its own whose socket options are set before it connects."""
        query = f"?buffer={buffer}" if buffer is not None else ""
        url = f"{self.url}/guns/{serial}/events{query}"
        return stream_lines(url, list(self.headers().items()), socket_options)


class BareRequest:
    """One request, sent again and again on a kept-alive socket of its own with nothing but ``h11`` (HTTP/1.1
    framing) around it: the same bytes as :class:`ServiceClient` sends, without the HTTP client library's own
    cost. :meth:`prepare` builds the bytes, :meth:`send` writes them and reads the reply."""

    def __init__(self, url: str, method: str, path: str, headers: Sequence[tuple[str, str]]) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._request = h11.Request(
            method=method, target=path, headers=[("Host", parts.netloc), ("Content-Length", "0"), *headers]
        )
        self._http = h11.Connection(h11.CLIENT)
        self._sock: socket.socket | None = None
        self._wire = b""

    async def open(self) -> None:
        """Connect (non-blocking, no Nagle, as httpx does)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.get_running_loop().sock_connect(sock, self._address)
        self._sock = sock

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def prepare(self) -> None:
        """Build the request's bytes (before the caller starts its clock)."""
        http = self._http
        if http.our_state is h11.DONE:
            http.start_next_cycle()
        self._wire = http.send(self._request) + (http.send(h11.EndOfMessage()) or b"")

    async def send(self) -> int:
        """Write the prepared bytes and read the whole reply; its status (:class:`ServiceCallError` if not 200)."""
        sock, http = self._sock, self._http
        assert sock is not None, "open() first"
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, self._wire)
        status, body = 0, b""
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await loop.sock_recv(sock, 65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ServiceCallError(f"{self._request.target!r}: the service closed the connection")
        if status != 200:
            raise ServiceCallError(f"{self._request.target!r} answered {status}: {body[:500]!r}")
        return status
