"""Service-test fixtures: a real service (uvicorn on a real loopback socket, in this process) over ``sim://``
guns, and an HTTP client for it; the gun set up ready to treat (syringe loaded, line primed, fast rate)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesogun_service.accounts import Accounts, Role
from mesogun_service.config import ServiceConfig
from mesogun_service.server import Service


@dataclass
class Running:
    """A service running in this process and a client of it."""

    service: Service
    client: httpx.AsyncClient
    serial: str
    record: Path
    attendance: list[str] = field(default_factory=list)

    def gun(self, path: str = "") -> str:
        """The route of the first gun (``/guns/SIM0001`` + ``path``)."""
        return f"/guns/{self.serial}{path}"

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON reply of a request that must succeed (the error body is shown if it does not)."""
        reply = await self.client.request(method, path, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()

    async def ready_to_treat(self) -> None:
        """Syringe loaded and primed, burst mode at 10 shots/s, an attended client: ready to arm."""
        await self.ok("POST", self.gun("/syringe"), json={"capacity_ml": 5})
        await self.ok("POST", self.gun("/prime"), json={"volume_ml": 0.05})
        await self.ok("POST", self.gun("/configure"), json={"rate_hz": 10.0, "mode": "burst"})
        joined = await self.ok("POST", self.gun("/attendance"), json={"client": "test"})
        self.attendance.append(joined["id"])


USER, PIN = "alice", "2468"
"""The practitioner (and technician) every service test signs in as."""


def add_user(path: Path, name: str = USER, pin: str = PIN, roles: tuple[Role, ...] = (Role.TECHNICIAN,)) -> None:
    """Create the test's user in the accounts store at ``path`` (a service has none built in)."""
    with Accounts(path) as accounts:
        if name not in {user.name for user in accounts.list_users()}:  # a restarted service: the same store
            accounts.add_user(name, roles, pin, actor="test")


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def running_service(tmp_path: Path) -> ServiceFactory:
    """``async with running_service(devices=("sim://?serial=SIM0001",), **config) as running: ...``"""

    @contextlib.asynccontextmanager
    async def start(devices: tuple[str, ...] = ("sim://?serial=SIM0001",), **config: Any) -> AsyncIterator[Running]:
        record, accounts = config.pop("record", tmp_path / "record.sqlite"), tmp_path / "accounts.sqlite"
        add_user(accounts)
        # A test's attended client joins once and sends no heartbeats: a loaded machine must not let it lapse
        # mid-test (the fail-safe tests set their own short grace).
        config = {"socket": None, "attended_grace_s": 60.0, **config}
        settings = ServiceConfig(devices=devices, port=0, record=record, accounts=accounts, **config)
        service = Service(settings)
        task = asyncio.create_task(service.run(signals=False))
        try:
            async with asyncio.timeout(15):
                await service.started.wait()
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
                signed_in = await client.post("/auth/login", json={"user": USER, "pin": PIN})
                assert signed_in.status_code == 200, signed_in.text
                client.headers["Authorization"] = f"Bearer {signed_in.json()['token']}"
                guns = (await client.get("/guns")).json()
                for _ in range(200):  # a loaded machine may need a second connect attempt: up to 20 s
                    if all(g["connected"] for g in guns):
                        break
                    await asyncio.sleep(0.1)
                    guns = (await client.get("/guns")).json()
                yield Running(service, client, guns[0]["serial"], record)
        finally:
            await service.stop()
            await task

    return start
