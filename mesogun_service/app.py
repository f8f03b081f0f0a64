"""The service's ASGI app: ``create_app(config)`` builds it; its lifespan connects the guns at start-up and
leaves every one stopped and disarmed at shutdown (SIGINT, SIGTERM: uvicorn runs the lifespan's end)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from mesogun_service.api import attendance, events, guns, record
from mesogun_service.api.replies import BodyLimit, install_error_replies
from mesogun_service.config import MAX_BODY_BYTES, ServiceConfig
from mesogun_service.registry import GunRegistry

FIRST_CONNECT_WAIT_S = 10.0
"""How long start-up waits for the guns' first connection before serving anyway (the rest keep trying)."""


def create_app(config: ServiceConfig, registry: GunRegistry | None = None) -> FastAPI:
    """The app for ``config``; ``registry`` (default: one for ``config.devices``) holds the guns it serves."""
    owned = (
        registry
        if registry is not None
        else GunRegistry.for_urls(config.devices, config.record, grace_s=config.attended_grace_s)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned.start()
        await owned.wait_connected(FIRST_CONNECT_WAIT_S)
        started = getattr(app.state, "on_started", None)
        if started is not None:
            started()
        try:
            yield
        finally:
            await owned.close()  # every gun stopped and disarmed before the service exits

    app = FastAPI(
        title="mesogun gun service",
        version="1",
        summary="One process owns each gun; the CLI, the tablet and the tools are its clients.",
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.registry = owned
    install_error_replies(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.get("/health", tags=["service"])
    async def health() -> dict[str, object]:
        """Liveness: the service answers, and how many guns it owns."""
        return {"status": "ok", "guns": len(owned)}

    for module in (guns, events, attendance, record):
        app.include_router(module.router)
    return app
