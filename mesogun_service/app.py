"""The service's ASGI app: ``create_app(config)`` builds it; its lifespan connects the guns at start-up and
leaves every one stopped and disarmed at shutdown (SIGINT, SIGTERM: uvicorn runs the lifespan's end)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI

from mesogun.clinic import checklist
from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun_service import tablet
from mesogun_service.accounts import Accounts, AuthPolicy, install
from mesogun_service.api import (
    attendance,
    calibration,
    clinic,
    events,
    exports,
    firmware,
    guns,
    record,
    safety,
    treatments,
)
from mesogun_service.api.audit import AuditTrail, AuditWriter
from mesogun_service.api.deps import operator
from mesogun_service.api.replies import BodyLimit, install_error_replies
from mesogun_service.config import MAX_BODY_BYTES, MAX_RUN_BODY_BYTES, ServiceConfig
from mesogun_service.record_access import SharedRecord
from mesogun_service.registry import GunRegistry
from mesogun_service.soft_limits import SoftLimits
from mesogun_service.zone_watch import watch_zone_volume

FIRST_CONNECT_WAIT_S = 10.0
"""How long start-up waits for the guns' first connection before serving anyway (the rest keep trying)."""


def create_app(config: ServiceConfig, registry: GunRegistry | None = None, accounts: Accounts | None = None) -> FastAPI:
    """The app for ``config``; ``registry`` (default: one for ``config.devices``) holds the guns it serves,
    ``accounts`` (default: the store at ``config.accounts_path()``) its users and audit trail."""
    items = checklist.load(config.checklist) if config.checklist is not None else DEFAULT_ITEMS  # a bad file: at once
    users = accounts if accounts is not None else Accounts(config.accounts_path())
    owned = (
        registry
        if registry is not None
        else GunRegistry.for_urls(config.devices, config.record, grace_s=config.attended_grace_s)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned.start()
        watchers = [asyncio.create_task(watch_zone_volume(h, soft[h.url]), name=f"zone limits {h.url}") for h in owned]
        await owned.wait_connected(FIRST_CONNECT_WAIT_S)
        started = getattr(app.state, "on_started", None)
        if started is not None:
            started()
        try:
            yield
        finally:
            for task in watchers:
                task.cancel()
            for task in watchers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await owned.close()  # every gun stopped and disarmed before the service exits
            await audit.drain()
            users.close()
            shared.close()

    app = FastAPI(
        title="mesogun gun service",
        version="1",
        summary="One process owns each gun; the CLI, the tablet and the tools are its clients.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if config.loopback_only else None,  # no map of the API for the network
        docs_url="/docs" if config.loopback_only else None,
        redoc_url=None,
    )
    shared = SharedRecord(config.record)
    soft = {hosted.url: SoftLimits(hosted, shared) for hosted in owned}
    app.state.config = config
    app.state.registry = owned
    app.state.record = shared
    app.state.soft_limits = soft
    app.state.checklist_items = items
    install_error_replies(app)
    install(app, users, AuthPolicy(loopback_only=config.loopback_only, trusted_proxy=config.trusted_proxy))
    app.add_middleware(
        BodyLimit,
        limit=MAX_BODY_BYTES,
        larger={"/calibrations": MAX_RUN_BODY_BYTES, firmware.IMAGES_PATH: firmware.MAX_IMAGE_BYTES},
    )
    audit = AuditWriter(users)
    app.add_middleware(AuditTrail, writer=audit)

    health_needs = [Depends(operator)] if not config.loopback_only else []

    @app.get("/health", tags=["service"], dependencies=health_needs)
    async def health() -> dict[str, object]:
        """Liveness: the service answers, and how many guns it owns."""
        return {"status": "ok", "guns": len(owned)}

    app.include_router(safety.router)  # stop, emergency stop, disarm: no sign-in, never refused for a wrong reason
    app.include_router(guns.listing)  # an assistant or better
    app.include_router(guns.router)
    for module in (events, attendance, record):
        app.include_router(module.router, dependencies=[Depends(operator)])
    app.include_router(clinic.router)  # an assistant or better; an erasure needs an admin
    app.include_router(treatments.router)  # an assistant or better; starting and signing off need a practitioner
    app.include_router(exports.router)  # an assistant or better: the session report and the aftercare sheet
    app.include_router(calibration.router)  # reads: practitioner/assistant; moves: technician; writes: a fresh one
    app.include_router(firmware.router)  # reads: technician; every change: a fresh technician, audited
    tablet.install(app)  # the practitioners' pages under /tablet, on top of the routes above
    return app
