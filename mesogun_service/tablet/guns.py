"""``/tablet/guns``: the guns this service owns, to pick the one to treat with."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mesogun_service.api.guns import summary
from mesogun_service.registry import GunRegistry
from mesogun_service.tablet.page import layout, page_user
from mesogun_service.tablet.templating import render

router = APIRouter(prefix="/tablet", include_in_schema=False)


@router.get("/guns")
def pick_gun(request: Request) -> Response:
    """Every gun, connected or not, with its state."""
    who = page_user(request)
    registry: GunRegistry = request.app.state.registry
    return render(request, "guns.html", layout(request, who, guns=[summary(hosted) for hosted in registry]))
