"""What the routes depend on: the service's guns, the gun a path names, and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from mesogun_service.hosted import HostedGun
from mesogun_service.registry import GunRegistry


def registry(request: Request) -> GunRegistry:
    """The service's guns."""
    guns: GunRegistry = request.app.state.registry
    return guns


def hosted_gun(
    request: Request, serial: Annotated[str, Path(max_length=128, description="The gun's serial number")]
) -> HostedGun:
    """The gun ``{serial}`` names; 404 naming the known ones if there is none."""
    return registry(request).get(serial)


Hosted = Annotated[HostedGun, Depends(hosted_gun)]
Guns = Annotated[GunRegistry, Depends(registry)]
